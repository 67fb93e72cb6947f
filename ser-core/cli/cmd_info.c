/* ser info: describe a .sermodel file (or the built-in model). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "ser.h"

static void usage(FILE *f) {
  fprintf(f,
          "Usage: ser info [--help] MODEL\n"
          "       ser info --builtin\n\n"
          "Describe a .sermodel file: architecture, labels, feature parameters,\n"
          "input window, normalisation, layers (one line each with shapes; every\n"
          "network of an ensemble), parameter count, file size, compute per default\n"
          "window (all networks), what runs the convolutions on this machine\n"
          "(ser-core's AVX-512 or AVX2 + FMA kernel, or OpenBLAS), metadata.\n\n"
          "Options:\n"
          "  --builtin   describe the model built into the library (the default model)\n"
          "  -h, --help  this text\n\n"
          "Exit status: 0 success, 1 usage error, 2 unreadable or invalid model.\n");
}

static const char *arch_name(uint32_t a) { return a == SER_ARCH_PAPER ? "paper" : "temporal"; }

static void print_features(const ser_feature_params *f) {
  static const char *win[] = {"hann", "hamming"}, *scale[] = {"htk", "slaney"}, *norm[] = {"none", "slaney"};
  static const char *lg[] = {"dB: 10*log10(max(P, 1e-10))", "ln(P + 1e-6)"};
  static const char *dl[] = {"no deltas", "deltas", "deltas + delta-deltas"};
  printf("features:\n");
  printf("  sample rate     %u Hz\n", f->sample_rate);
  printf("  frame / hop     %u / %u samples (%.1f / %.1f ms), FFT %u, %s window\n", f->win_length, f->hop_length,
         1000.0 * f->win_length / f->sample_rate, 1000.0 * f->hop_length / f->sample_rate, f->n_fft,
         win[f->window & 1]);
  printf("  mel filterbank  %u mels, %s scale, norm %s, %.0f..%.0f Hz\n", f->n_mels, scale[f->mel_scale & 1],
         norm[f->mel_norm & 1], f->fmin, f->fmax > 0 ? f->fmax : f->sample_rate / 2.0);
  printf("  log             %s\n", lg[f->log & 1]);
  printf("  MFCC            %u (DCT-II, orthonormal), %s", f->n_mfcc, dl[f->deltas <= 2 ? f->deltas : 0]);
  if (f->deltas) printf(" (width %u)", f->delta_width);
  printf("\n");
  if (f->preemph != 0.0f) printf("  pre-emphasis    %g\n", f->preemph);
  if (f->center || f->top_db > 0 || f->zcr_rms)
    printf("  clip extras     center %s, top_db %g, ZCR + RMS %s\n", f->center ? "yes" : "no", f->top_db,
           f->zcr_rms ? "yes" : "no");
  if (f->pitch) printf("  pitch           log2(F0 / 100 Hz) and voicing per frame (NCCF, 60-500 Hz)\n");
  printf("  values / frame  %u\n", ser_feature_dim(f));
}

static void print_layer(uint32_t i, const ser_layer *l, uint32_t c, uint32_t t, uint32_t oc, uint32_t ot) {
  char h[96] = "";
  switch (l->kind) {
  case SER_L_CONV1D:
    snprintf(h, sizeof h, "%u->%u k%u s%u p%u d%u", l->in_ch, l->out_ch, l->kernel, l->stride, l->padding,
             l->dilation);
    break;
  case SER_L_BATCHNORM: snprintf(h, sizeof h, "%u eps %g", l->in_ch, l->eps); break;
  case SER_L_MAXPOOL:
  case SER_L_AVGPOOL: snprintf(h, sizeof h, "k%u s%u p%u", l->kernel, l->stride, l->padding); break;
  case SER_L_CHANNEL_ATT: snprintf(h, sizeof h, "%u r%u", l->in_ch, l->reduction); break;
  case SER_L_SPATIAL_ATT: snprintf(h, sizeof h, "k%u", l->kernel); break;
  case SER_L_GLOBAL_POOL:
    snprintf(h, sizeof h, "%s", l->mode == 0 ? "avg" : l->mode == 1 ? "max" : "avg||max");
    break;
  case SER_L_DENSE: snprintf(h, sizeof h, "%u->%u", l->in_ch, l->out_ch); break;
  case SER_L_DROPOUT: snprintf(h, sizeof h, "p %g (identity)", l->p); break;
  default: break;
  }
  printf("  %3u %-12s %-22s (%u, %u) -> (%u, %u)", i, ser_layer_kind_name(l->kind), h, c, t, oc, ot);
  if (l->n_params) printf("  %u params", l->n_params);
  printf("\n");
}

int cmd_info(int argc, char **argv) {
  const char *path = NULL;
  int builtin = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      usage(stdout);
      return EXIT_OK;
    } else if (!strcmp(argv[i], "--builtin")) {
      builtin = 1;
    } else if (argv[i][0] == '-' && argv[i][1]) {
      fprintf(stderr, "ser info: unknown option '%s'\n", argv[i]);
      usage(stderr);
      return EXIT_USAGE;
    } else if (path) {
      fprintf(stderr, "ser info: one MODEL at a time ('%s' and '%s')\n", path, argv[i]);
      return EXIT_USAGE;
    } else {
      path = argv[i];
    }
  }
  if (!path == !builtin) {
    fprintf(stderr, "ser info: give a MODEL file or --builtin\n");
    usage(stderr);
    return EXIT_USAGE;
  }
  ser_error err = {{0}};
  ser_model *m = builtin ? ser_model_default(&err) : ser_model_load(path, &err);
  if (!m) {
    fprintf(stderr, "ser info: %s\n", err.msg);
    return EXIT_BADINPUT;
  }
  const ser_model_spec *s = ser_model_get_spec(m);
  const ser_feature_params *f = &s->feat;
  if (builtin) {
    printf("model: built-in\n");
  } else {
    struct stat st;
    printf("model: %s", path);
    if (!stat(path, &st)) printf(" (%lld bytes)", (long long)st.st_size);
    printf("\n");
  }
  printf("architecture: %s\n", arch_name(s->arch));
  printf("labels (%u):", s->n_labels);
  for (uint32_t i = 0; i < s->n_labels; i++) printf("%s %s", i ? "," : "", s->labels[i]);
  printf("\n");
  print_features(f);
  if (s->arch == SER_ARCH_TEMPORAL) {
    printf("input: %u channels x frames; default window %u frames (%.2f s), minimum %u frames (%.2f s)\n",
           s->in_ch, s->in_len, (double)ser_model_window_samples(m) / f->sample_rate, ser_model_min_frames(m),
           ((ser_model_min_frames(m) - 1) * (double)f->hop_length + (f->n_fft > f->win_length ? f->n_fft : f->win_length)) /
               f->sample_rate);
  } else {
    printf("input: fixed vector of %u values", s->in_len);
    if (s->clip_samples) printf(" from a %.2f s clip", (double)s->clip_samples / f->sample_rate);
    printf("\n");
  }
  printf("normalisation: %s\n", s->norm_mean ? "per-coefficient mean / std from training" : "none");
  if (s->spk_mean)
    printf("speaker normalisation: running, memory %g s of speech, prior worth %g s, frames below %g dBFS "
           "not counted\n", s->spk.memory_s, s->spk.prior_s, s->spk.gate_db);
  uint32_t nn = ser_model_n_nets(m);
  if (nn > 1) printf("ensemble: %u networks over the same input; the scores are the mean of their outputs\n", nn);
  for (uint32_t k = 0; k < nn; k++) {
    ser_model_spec v;
    ser_model_spec_net_view(s, k, &v);
    if (nn > 1) {
      const ser_model *mk = ser_model_net(m, k);
      printf("network %u of %u: %llu parameters, %.2f M multiply-adds per window\n", k + 1, nn,
             (unsigned long long)ser_model_n_params(mk), ser_model_flops(mk, s->in_len) / 1e6);
    }
    printf("%slayers (%u):\n", nn > 1 ? "  " : "", v.n_layers);
    uint32_t c = s->in_ch, t = s->in_len;
    for (uint32_t i = 0; i < v.n_layers; i++) {
      uint32_t oc = c, ot = t;
      ser_layer_out_shape(&v.layers[i], i, c, t, &oc, &ot, NULL);
      print_layer(i, &v.layers[i], c, t, oc, ot);
      c = oc;
      t = ot;
    }
  }
  uint64_t np = ser_model_n_params(m);
  printf("parameters: %llu (%.2f MiB as float32)\n", (unsigned long long)np, np * 4.0 / (1024.0 * 1024.0));
  double macs = ser_model_flops(m, s->in_len);
  printf("compute: %.2f M multiply-adds (%.1f MFLOP) per %u-frame window\n", macs / 1e6, 2 * macs / 1e6,
         s->in_len);
  const char *cb = ser_conv_backend();
  printf("convolutions here: %s\n", !strcmp(cb, "avx512") ? "ser-core's AVX-512 kernel"
                                     : !strcmp(cb, "avx2") ? "ser-core's AVX2 + FMA kernel"
                                                           : "im2col + OpenBLAS sgemm");
  printf("metadata (%u):\n", s->n_meta);
  for (uint32_t i = 0; i < s->n_meta; i++) printf("  %s: %s\n", s->meta_keys[i], s->meta_values[i]);
  ser_model_unref(m);
  if (fflush(stdout) != 0 || ferror(stdout)) {
    fprintf(stderr, "ser info: stdout: write error: %s\n", strerror(errno));
    return EXIT_BADINPUT;
  }
  return EXIT_OK;
}
