/* ser features: MFCC features of an audio file as npy or csv (SPEC section 6).
 *
 * Plain PCM WAV files already at the requested rate (S16, S32, F32, any
 * channel count) are read directly and streamed through the extractor (no
 * GStreamer start-up, constant memory); everything else is decoded with
 * GStreamer (ser_decode_file). SER_FEATURES_NO_FASTPATH=1 forces GStreamer. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/wav.h"
#include "cli.h"
#include "ser.h"

static void usage(FILE *f) {
  fprintf(f,
          "Usage: ser features [--format npy|csv] [-o OUT] [feature options] FILE\n"
          "\n"
          "MFCC features of an audio file (any format GStreamer decodes; mixed to\n"
          "mono and resampled to --sample-rate). npy: float32, C order, shape\n"
          "(frames, coefficients); csv: one frame a line. Output goes to stdout\n"
          "unless -o is given. Columns: mfcc, deltas, delta-deltas, zcr, rms, log pitch,\n"
          "voicing.\n"
          "\n"
          "Output:\n"
          "  --format npy|csv     output format (default npy)\n"
          "  -o, --output OUT     output file (default: stdout)\n"
          "\n"
          "Feature options (defaults: the SPEC's, or those of --preset):\n"
          "  --preset default|paper  start from a preset (paper: 22050 Hz, n_fft 2048 =\n"
          "                       win, hop 512, 128 slaney mels with slaney norm, centred,\n"
          "                       top_db 80, 20 MFCC, ZCR and RMS); other options override it\n"
          "  --sample-rate HZ     analysis rate (16000)\n"
          "  --n-mfcc N           cepstral coefficients (40)\n"
          "  --n-mels N           mel bands (40)\n"
          "  --n-fft N            FFT size (512)\n"
          "  --win-length N       frame length in samples (400)\n"
          "  --hop-length N       hop in samples (160)\n"
          "  --window hann|hamming  periodic window (hann)\n"
          "  --mel-scale htk|slaney (htk)\n"
          "  --mel-norm none|slaney (none)\n"
          "  --fmin HZ            lowest mel frequency (0)\n"
          "  --fmax HZ            highest mel frequency (0 = sample-rate / 2)\n"
          "  --log db|ln          db: 10*log10(max(P, 1e-10)); ln: log(P + 1e-6) (db)\n"
          "  --preemph A          pre-emphasis y[n] = x[n] - A*x[n-1] (0 = off)\n"
          "  --deltas 0|1|2       append deltas (1) and delta-deltas (2) (0)\n"
          "  --delta-width N      regression width, odd >= 3 (9)\n"
          "  --center, --no-center  centred frames, n_fft/2 zeros padded each side (off)\n"
          "  --top-db DB          clip dB values below the clip's max - DB (0 = off)\n"
          "  --zcr-rms, --no-zcr-rms  append zero-crossing rate and RMS (off)\n"
          "  --pitch-features     append log2(F0 / 100 Hz), held through unvoiced frames,\n"
          "                       and voicing strength 0..1 (off; not with --center)\n"
          "\n"
          "Exit status: 0 success, 1 usage error, 2 bad input (unreadable or\n"
          "undecodable file, -o naming the input itself, write error).\n");
}

enum {
  O_FORMAT = 256, O_PRESET, O_RATE, O_NMFCC, O_NMELS, O_NFFT, O_WIN, O_HOP, O_WINDOW, O_SCALE,
  O_NORM, O_FMIN, O_FMAX, O_LOG, O_PREEMPH, O_DELTAS, O_DWIDTH, O_CENTER, O_NOCENTER, O_TOPDB,
  O_ZCR, O_NOZCR, O_PITCH
};

static const struct option long_opts[] = {
    {"help", no_argument, NULL, 'h'},
    {"output", required_argument, NULL, 'o'},
    {"format", required_argument, NULL, O_FORMAT},
    {"preset", required_argument, NULL, O_PRESET},
    {"sample-rate", required_argument, NULL, O_RATE},
    {"n-mfcc", required_argument, NULL, O_NMFCC},
    {"n-mels", required_argument, NULL, O_NMELS},
    {"n-fft", required_argument, NULL, O_NFFT},
    {"win-length", required_argument, NULL, O_WIN},
    {"hop-length", required_argument, NULL, O_HOP},
    {"window", required_argument, NULL, O_WINDOW},
    {"mel-scale", required_argument, NULL, O_SCALE},
    {"mel-norm", required_argument, NULL, O_NORM},
    {"fmin", required_argument, NULL, O_FMIN},
    {"fmax", required_argument, NULL, O_FMAX},
    {"log", required_argument, NULL, O_LOG},
    {"preemph", required_argument, NULL, O_PREEMPH},
    {"deltas", required_argument, NULL, O_DELTAS},
    {"delta-width", required_argument, NULL, O_DWIDTH},
    {"center", no_argument, NULL, O_CENTER},
    {"no-center", no_argument, NULL, O_NOCENTER},
    {"top-db", required_argument, NULL, O_TOPDB},
    {"zcr-rms", no_argument, NULL, O_ZCR},
    {"no-zcr-rms", no_argument, NULL, O_NOZCR},
    {"pitch-features", no_argument, NULL, O_PITCH},
    {NULL, 0, NULL, 0},
};

static int parse_u32(const char *opt, const char *s, uint32_t *v) {
  char *end;
  errno = 0;
  unsigned long x = strtoul(s, &end, 10);
  if (!*s || *end || errno || x > 0xFFFFFFFFul || s[0] == '-') {
    fprintf(stderr, "ser features: --%s: '%s' is not a non-negative integer\n", opt, s);
    return -1;
  }
  *v = (uint32_t)x;
  return 0;
}

static int parse_f(const char *opt, const char *s, float *v) {
  char *end;
  errno = 0;
  double x = strtod(s, &end);
  if (!*s || *end || errno || !isfinite(x)) {
    fprintf(stderr, "ser features: --%s: '%s' is not a number\n", opt, s);
    return -1;
  }
  *v = (float)x;
  return 0;
}

static int parse_enum(const char *opt, const char *s, const char *a, const char *b, uint32_t *v) {
  if (!strcmp(s, a)) *v = 0;
  else if (!strcmp(s, b)) *v = 1;
  else {
    fprintf(stderr, "ser features: --%s: '%s' is not %s or %s\n", opt, s, a, b);
    return -1;
  }
  return 0;
}

/* ---- output ---- */

typedef struct writer {
  FILE *f;
  int csv;
  uint32_t dim;
  uint64_t rows;
  int failed;
} writer;

static void write_npy_header(writer *w, size_t frames) {
  char dict[128];
  int len = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (%zu, %u), }",
                     frames, w->dim);
  /* magic(6) + version(2) + header length(2) + dict + padding + '\n', a multiple of 64 */
  int total = 10 + len + 1;
  int padn = (64 - total % 64) % 64;
  unsigned hl = (unsigned)(len + padn + 1);
  unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hl & 0xff),
                           (unsigned char)(hl >> 8)};
  fwrite(pre, 1, 10, w->f);
  fwrite(dict, 1, (size_t)len, w->f);
  for (int i = 0; i < padn; i++) fputc(' ', w->f);
  fputc('\n', w->f);
}

static void on_frame(void *user, const float *frame, float energy_db) {
  writer *w = user;
  (void)energy_db;
  w->rows++;
  if (!w->csv) {
    fwrite(frame, sizeof(float), w->dim, w->f);
    return;
  }
  for (uint32_t i = 0; i < w->dim; i++) fprintf(w->f, i ? ",%.9g" : "%.9g", (double)frame[i]);
  fputc('\n', w->f);
}

static int open_output(writer *w, const char *out, size_t frames) {
  if (out && strcmp(out, "-")) {
    w->f = fopen(out, "wb");
    if (!w->f) {
      fprintf(stderr, "ser features: %s: %s\n", out, strerror(errno));
      return -1;
    }
  } else {
    w->f = stdout;
  }
  setvbuf(w->f, NULL, _IOFBF, 1 << 20);
  if (!w->csv) write_npy_header(w, frames);
  return 0;
}

static int close_output(writer *w, const char *out) {
  int bad = ferror(w->f);
  if (w->f != stdout) bad |= fclose(w->f) != 0;
  else bad |= fflush(w->f) != 0;
  if (bad) {
    fprintf(stderr, "ser features: %s: write error: %s\n", out && strcmp(out, "-") ? out : "stdout",
            strerror(errno));
    return -1;
  }
  return 0;
}

/* ---- main ---- */

int cmd_features(int argc, char **argv) {
  ser_feature_params p;
  ser_feature_params_default(&p);
  const char *out = NULL;
  int csv = 0;

  /* presets first, so that the other options override them wherever they are */
  for (int i = 1; i < argc; i++) {
    const char *v = NULL;
    if (!strcmp(argv[i], "--")) break;
    if (!strcmp(argv[i], "--preset") && i + 1 < argc) v = argv[i + 1];
    else if (!strncmp(argv[i], "--preset=", 9)) v = argv[i] + 9;
    if (!v) continue;
    if (!strcmp(v, "paper")) ser_feature_params_paper(&p);
    else if (!strcmp(v, "default")) ser_feature_params_default(&p);
    else {
      fprintf(stderr, "ser features: --preset: '%s' is not default or paper\n", v);
      return EXIT_USAGE;
    }
  }

  optind = 1;
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, ":ho:", long_opts, NULL)) != -1) {
    int r = 0;
    switch (c) {
    case 'h': usage(stdout); return EXIT_OK;
    case 'o': out = optarg; break;
    case O_FORMAT:
      if (!strcmp(optarg, "npy")) csv = 0;
      else if (!strcmp(optarg, "csv")) csv = 1;
      else {
        fprintf(stderr, "ser features: --format: '%s' is not npy or csv\n", optarg);
        r = -1;
      }
      break;
    case O_PRESET: break;
    case O_RATE: r = parse_u32("sample-rate", optarg, &p.sample_rate); break;
    case O_NMFCC: r = parse_u32("n-mfcc", optarg, &p.n_mfcc); break;
    case O_NMELS: r = parse_u32("n-mels", optarg, &p.n_mels); break;
    case O_NFFT: r = parse_u32("n-fft", optarg, &p.n_fft); break;
    case O_WIN: r = parse_u32("win-length", optarg, &p.win_length); break;
    case O_HOP: r = parse_u32("hop-length", optarg, &p.hop_length); break;
    case O_WINDOW: r = parse_enum("window", optarg, "hann", "hamming", &p.window); break;
    case O_SCALE: r = parse_enum("mel-scale", optarg, "htk", "slaney", &p.mel_scale); break;
    case O_NORM: r = parse_enum("mel-norm", optarg, "none", "slaney", &p.mel_norm); break;
    case O_FMIN: r = parse_f("fmin", optarg, &p.fmin); break;
    case O_FMAX: r = parse_f("fmax", optarg, &p.fmax); break;
    case O_LOG: r = parse_enum("log", optarg, "db", "ln", &p.log); break;
    case O_PREEMPH: r = parse_f("preemph", optarg, &p.preemph); break;
    case O_DELTAS: r = parse_u32("deltas", optarg, &p.deltas); break;
    case O_DWIDTH: r = parse_u32("delta-width", optarg, &p.delta_width); break;
    case O_CENTER: p.center = 1; break;
    case O_NOCENTER: p.center = 0; break;
    case O_TOPDB: r = parse_f("top-db", optarg, &p.top_db); break;
    case O_ZCR: p.zcr_rms = 1; break;
    case O_NOZCR: p.zcr_rms = 0; break;
    case O_PITCH: p.pitch = 1; break;
    case ':':
      fprintf(stderr, "ser features: %s needs a value\n", argv[optind - 1]);
      r = -1;
      break;
    default:
      fprintf(stderr, "ser features: unknown option '%s'\n", argv[optind - 1]);
      r = -1;
      break;
    }
    if (r < 0) {
      fprintf(stderr, "Try 'ser features --help'.\n");
      return EXIT_USAGE;
    }
  }
  if (optind != argc - 1) {
    fprintf(stderr, "ser features: %s\n", optind >= argc ? "missing FILE" : "only one FILE at a time");
    usage(stderr);
    return EXIT_USAGE;
  }
  const char *path = argv[optind];
  ser_error e = {{0}};
  if (ser_feature_params_check(&p, &e) < 0) {
    fprintf(stderr, "ser features: %s\n", e.msg);
    return EXIT_USAGE;
  }
  const char *ins[1] = {path};
  if (cli_output_ok("features", "-o", out, ins, 1) < 0) return EXIT_BADINPUT;

  writer w = {.csv = csv, .dim = ser_feature_dim(&p)};
  const int streamable = !p.center && !(p.top_db > 0.0f);
  uint64_t nonfinite = 0;
  char err[1024];

  /* fast path: a PCM WAV at the analysis rate, streamed */
  ser_wav wav;
  int wr = 0;
  const char *nofast = getenv("SER_FEATURES_NO_FASTPATH");
  if (!(nofast && *nofast && strcmp(nofast, "0"))) {
    wr = ser_wav_open(&wav, path, err, sizeof err);
    if (wr < 0) {
      fprintf(stderr, "ser features: %s\n", err);
      return EXIT_BADINPUT;
    }
    if (wr == 1 && wav.rate != p.sample_rate) {
      ser_wav_close(&wav);
      wr = 0;
    }
  }
  if (wr == 1 && streamable) {
    ser_mfcc *m = ser_mfcc_new(&p, &e);
    float *blk = malloc(sizeof(float) * 8192);
    if (!m || !blk) {
      fprintf(stderr, "ser features: %s\n", m ? "out of memory" : e.msg);
      ser_mfcc_free(m);
      free(blk);
      ser_wav_close(&wav);
      return EXIT_BADINPUT;
    }
    size_t frames = ser_feature_frames(&p, (size_t)wav.frames);
    int rc = open_output(&w, out, frames);
    if (rc == 0) {
      size_t k;
      while ((k = ser_wav_read(&wav, blk, 8192)) > 0) ser_mfcc_push(m, blk, k, on_frame, &w);
      ser_mfcc_flush(m, on_frame, &w);
      nonfinite = ser_mfcc_nonfinite(m);
      if (w.rows != frames && !csv) {
        /* the file shrank while we read it: the header is wrong */
        fprintf(stderr, "ser features: %s: %llu frames instead of the %zu announced (file truncated while reading?)\n",
                path, (unsigned long long)w.rows, frames);
        rc = -1;
      }
      if (close_output(&w, out) < 0) rc = -1;
    }
    ser_mfcc_free(m);
    free(blk);
    ser_wav_close(&wav);
    if (rc < 0) return EXIT_BADINPUT;
    if (frames == 0)
      fprintf(stderr, "ser features: %s: %llu samples give no frame (n_fft is %u)\n", path,
              (unsigned long long)wav.frames, p.n_fft);
    if (nonfinite)
      fprintf(stderr, "ser features: %s: %llu non-finite samples replaced by 0\n", path,
              (unsigned long long)nonfinite);
    return EXIT_OK;
  }

  /* whole clip in memory: WAV at the rate, or anything through GStreamer */
  float *x = NULL;
  size_t n = 0;
  if (wr == 1) {
    x = malloc(sizeof(float) * (wav.frames ? wav.frames : 1));
    if (!x) {
      fprintf(stderr, "ser features: %s: out of memory\n", path);
      ser_wav_close(&wav);
      return EXIT_BADINPUT;
    }
    n = ser_wav_read(&wav, x, (size_t)wav.frames);
    ser_wav_close(&wav);
  } else if (ser_decode_file(path, p.sample_rate, &x, &n, err, sizeof err) < 0) {
    fprintf(stderr, "ser features: %s\n", err);
    return EXIT_BADINPUT;
  }

  int rc = 0;
  if (streamable) {
    ser_mfcc *m = ser_mfcc_new(&p, &e);
    if (!m) {
      fprintf(stderr, "ser features: %s\n", e.msg);
      free(x);
      return EXIT_BADINPUT;
    }
    rc = open_output(&w, out, ser_feature_frames(&p, n));
    if (rc == 0) {
      ser_mfcc_push(m, x, n, on_frame, &w);
      ser_mfcc_flush(m, on_frame, &w);
      nonfinite = ser_mfcc_nonfinite(m);
      rc = close_output(&w, out);
    }
    ser_mfcc_free(m);
  } else {
    float *feat = NULL;
    size_t frames = 0;
    if (ser_features_clip(&p, x, n, &feat, &frames, &e) < 0) {
      fprintf(stderr, "ser features: %s: %s\n", path, e.msg);
      free(x);
      return EXIT_BADINPUT;
    }
    for (size_t i = 0; i < n; i++) nonfinite += !isfinite(x[i]);
    rc = open_output(&w, out, frames);
    if (rc == 0) {
      for (size_t t = 0; t < frames; t++) on_frame(&w, feat + t * w.dim, 0.0f);
      rc = close_output(&w, out);
    }
    free(feat);
  }
  free(x);
  if (rc < 0) return EXIT_BADINPUT;
  if (w.rows == 0)
    fprintf(stderr, "ser features: %s: %zu samples give no frame (n_fft is %u)\n", path, n, p.n_fft);
  if (nonfinite)
    fprintf(stderr, "ser features: %s: %llu non-finite samples replaced by 0\n", path,
            (unsigned long long)nonfinite);
  return EXIT_OK;
}
