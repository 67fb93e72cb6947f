/* ser train: train a model on emotional speech corpora. See docs/training.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "train_common.h"

static void usage(FILE *f) {
  fprintf(f,
          "Usage: ser train [OPTIONS] -o OUT.sermodel CORPUS...\n\n"
          "Train a model on corpora: folders of a known corpus (EMO-DB, RAVDESS, CREMA-D, TESS,\n"
          "SAVEE, EMOVO file names) and/or CSV manifests with path,speaker,label columns.\n"
          "Each file is decoded once through GStreamer at the model's rate and cached.\n"
          "Training clips are augmented on the fly, cropped to random windows of --window-s\n"
          "(shorter clips are repeated to fill the window), turned into MFCCs normalised with\n"
          "per-coefficient statistics of the training frames (with --norm speaker|utterance,\n"
          "first with the clip's speaker's or the clip's own). Validation speakers (taken from\n"
          "the training speakers) decide early stopping and which epoch's weights are kept.\n\n"
          "  -o, --output FILE       the trained model (.sermodel)\n"
          "  --checkpoint-dir DIR    write DIR/last.sermodel, DIR/last.state (optimizer) every\n"
          "                          epoch and DIR/best.sermodel when validation improves\n"
          "  --resume                continue from DIR/last.* (same options and seed)\n"
          "  --stop-after N          stop after epoch N (the schedule still spans --epochs;\n"
          "                          continue later with --resume)\n");
  tc_print_opts_help(f);
  fprintf(f, "  -h, --help              this text\n\n"
             "Exit status: 0 success, 1 usage error, 2 bad input (unreadable corpus or file, a\n"
             "speaker name that is no speaker of the corpora, a file given twice (in two corpora\n"
             "or by two names), an output that is an input or cannot be written: all checked\n"
             "before training).\n");
}

static char *join_args(int argc, char **argv) {
  size_t len = 16;
  for (int i = 0; i < argc; i++) len += strlen(argv[i]) + 3;
  char *s = malloc(len);
  if (!s) return NULL;
  strcpy(s, "ser");
  for (int i = 0; i < argc; i++) {
    strcat(s, " ");
    strcat(s, argv[i]);
  }
  return s;
}

int cmd_train(int argc, char **argv) {
  tc_opts o;
  tc_opts_init(&o);
  const char *out = NULL, *ckpt = NULL;
  int resume = 0;
  o.corpora = calloc((size_t)argc, sizeof(char *));
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      tc_opts_free(&o);
      return EXIT_OK;
    }
    int r = tc_parse_opt(&o, argc, argv, &i, "train");
    if (r < 0) {
      tc_opts_free(&o);
      return EXIT_USAGE;
    }
    if (r) continue;
    if ((!strcmp(a, "-o") || !strcmp(a, "--output")) && i + 1 < argc) out = argv[++i];
    else if (!strcmp(a, "--checkpoint-dir") && i + 1 < argc) ckpt = argv[++i];
    else if (!strcmp(a, "--resume")) resume = 1;
    else if (!strcmp(a, "--stop-after") && i + 1 < argc) o.train.stop_after = (uint32_t)atoi(argv[++i]);
    else if (a[0] == '-' && a[1]) {
      fprintf(stderr, "ser train: unknown option '%s' (see ser train --help)\n", a);
      tc_opts_free(&o);
      return EXIT_USAGE;
    } else o.corpora[o.n_corpora++] = argv[i];
  }
  if (!out || o.n_corpora == 0) {
    fprintf(stderr, "ser train: need -o OUT.sermodel and at least one corpus (see ser train --help)\n");
    tc_opts_free(&o);
    return EXIT_USAGE;
  }
  if (resume && !ckpt) {
    fprintf(stderr, "ser train: --resume needs --checkpoint-dir\n");
    tc_opts_free(&o);
    return EXIT_USAGE;
  }
  if (tc_finalize(&o, "train") < 0) {
    tc_opts_free(&o);
    return EXIT_USAGE;
  }
  if (cli_output_ok("train", "-o", out, (const char *const *)o.corpora, o.n_corpora) < 0) {
    tc_opts_free(&o);
    return EXIT_BADINPUT;
  }
  o.cmdline = join_args(argc, argv);
  int rc = EXIT_BADINPUT;
  tc_data d;
  ser_model_spec spec;
  memset(&spec, 0, sizeof spec);
  ser_clip *tr = NULL, *va = NULL;
  unsigned char *mark = NULL;
  if (tc_load(&o, o.feat.sample_rate, &d, "train") < 0) goto out0;
  if (o.val_n == -2 && tc_check_speakers(o.val_list, d.speakers, d.n_speakers, "--val-speakers", "train") < 0)
    goto out1;
  if (tc_build_spec(&o, o.train.seed, &spec, "train") < 0) {
    rc = EXIT_USAGE;
    goto out1;
  }
  if (tc_group_norm(&o, &spec, &d, "train") < 0) goto out1;
  /* validation speakers among all speakers */
  uint32_t *all = malloc(d.n_speakers * sizeof(uint32_t));
  for (uint32_t k = 0; k < d.n_speakers; k++) all[k] = k;
  mark = calloc(d.n_speakers, 1);
  tc_pick_val(&o, all, d.n_speakers, &d, o.train.seed, mark);
  free(all);
  tr = malloc(d.n * sizeof *tr);
  va = malloc(d.n * sizeof *va);
  size_t ntr = 0, nva = 0;
  for (size_t i = 0; i < d.n; i++) {
    if (mark[d.clips[i].speaker]) va[nva++] = d.clips[i];
    else tr[ntr++] = d.clips[i];
  }
  char vlist[1024] = "";
  for (uint32_t k = 0; k < d.n_speakers; k++)
    if (mark[k] && strlen(vlist) + strlen(d.speakers[k]) + 2 < sizeof vlist) {
      if (vlist[0]) strcat(vlist, ",");
      strcat(vlist, d.speakers[k]);
    }
  ser_error err;
  if (o.norm == TC_NORM_RUNNING) {
    /* the prior: the training speakers' average; stored in the model for the analyzer */
    uint32_t dim = ser_feature_dim(&spec.feat);
    double *acc = calloc(2 * dim + 1, sizeof *acc);
    unsigned char *use = malloc(d.n_speakers);
    spec.spk_mean = malloc(dim * sizeof(float));
    spec.spk_std = malloc(dim * sizeof(float));
    if (!acc || !use || !spec.spk_mean || !spec.spk_std) {
      free(acc), free(use);
      fprintf(stderr, "ser train: out of memory\n");
      goto out1;
    }
    for (uint32_t k = 0; k < d.n_speakers; k++) use[k] = !mark[k];
    tc_running_prior_add(&d, use, dim, acc);
    tc_running_prior_finish(acc, dim, spec.spk_mean, spec.spk_std);
    spec.spk = o.spk;
    o.train.vs_prior_mean = spec.spk_mean, o.train.vs_prior_std = spec.spk_std, o.train.vs_spk = o.spk;
    free(acc), free(use);
    /* tr and va point at the clips' statistics, filled in here */
    if (tc_running_states(&o, &spec, &d, spec.spk_mean, spec.spk_std, "train") < 0) goto out1;
  }
  if (tc_norm_stats(&o, &spec, tr, ntr, &err) < 0) {
    fprintf(stderr, "ser train: %s\n", err.msg);
    goto out1;
  }
  /* metadata */
  char buf[2048], date[64];
  time_t now = time(NULL);
  strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
  ser_model_spec_set_meta(&spec, "name", o.name ? o.name : "seremotion model");
  ser_model_spec_set_meta(&spec, "corpora", d.corpora);
  uint32_t nvs = 0;
  for (uint32_t k = 0; k < d.n_speakers; k++) nvs += mark[k];
  snprintf(buf, sizeof buf, "trained on %zu clips of %u speakers; validation (early stopping) on %zu clips of %s",
           ntr, d.n_speakers - nvs, nva, vlist[0] ? vlist : "none");
  ser_model_spec_set_meta(&spec, "protocol", buf);
  ser_model_spec_set_meta(&spec, "date", date);
  snprintf(buf, sizeof buf, "%llu", (unsigned long long)o.train.seed);
  ser_model_spec_set_meta(&spec, "seed", buf);
  ser_model_spec_set_meta(&spec, "command", o.cmdline ? o.cmdline : "");
  ser_model_spec_set_meta(&spec, "trainer", "ser train " SER_VERSION);
  if (o.norm != TC_NORM_GLOBAL) ser_model_spec_set_meta(&spec, "feature_norm", tc_norm_name(o.norm));
  for (int k = 0; k < o.n_meta; k++) {
    char *kv = strdup(o.meta_kv[k]), *eq = strchr(kv, '=');
    *eq = 0;
    ser_model_spec_set_meta(&spec, kv, eq + 1);
    free(kv);
  }
  if (!o.quiet)
    fprintf(stderr, "ser train: %zu clips (%zu dropped: label not in the set), %u speakers; training on %zu, "
                    "validating on %zu (%s)\n",
            d.n, d.dropped, d.n_speakers, ntr, nva, vlist[0] ? vlist : "none");
  tc_progress pg = {isatty(2), o.quiet, NULL};
  o.train.progress = tc_progress_fn;
  o.train.progress_user = &pg;
  o.train.checkpoint_dir = ckpt;
  o.train.resume = resume;
  ser_train_result res;
  uint32_t *everyone = malloc((d.n_speakers + 1) * sizeof *everyone);
  if (!everyone) goto out1;
  for (uint32_t k = 0; k < d.n_speakers; k++) everyone[k] = k;
  tc_resplit rs = {d.clips, d.n, NULL, 0, everyone, d.n_speakers, &d, o.train.seed};
  int trc = tc_train_members(&o, &spec, o.train.seed, 1, tr, ntr, va, nva, &rs, NULL, &res, "train");
  free(everyone);
  if (trc < 0) goto out1;
  if (o.members > 1) {
    snprintf(buf, sizeof buf, "%u", o.members);
    ser_model_spec_set_meta(&spec, "networks", buf);
  }
  if (o.distill) {
    snprintf(buf, sizeof buf, "teacher of %u networks, alpha %g, temperature %g", o.distill, o.train.distill_alpha,
             o.distill_temp);
    ser_model_spec_set_meta(&spec, "distilled", buf);
  }
  snprintf(buf, sizeof buf, "%u", res.epochs_run);
  ser_model_spec_set_meta(&spec, "epochs_run", buf);
  snprintf(buf, sizeof buf, "%u", res.best_epoch);
  ser_model_spec_set_meta(&spec, "best_epoch", buf);
  if (res.avg_epochs) {
    snprintf(buf, sizeof buf, "%u", res.avg_epochs);
    ser_model_spec_set_meta(&spec, "avg_epochs", buf);
    if (o.train.swa_lr_frac > 0) {
      snprintf(buf, sizeof buf, "%g", o.train.swa_lr_frac);
      ser_model_spec_set_meta(&spec, "swa_lr", buf);
    }
  }
  if (res.best_val_ua >= 0) {
    snprintf(buf, sizeof buf, "%.4f", res.best_val_ua);
    ser_model_spec_set_meta(&spec, "val_ua", buf);
  }
  if (ser_model_spec_write(&spec, out, &err) < 0) {
    fprintf(stderr, "ser train: %s\n", err.msg);
    goto out1;
  }
  if (!o.quiet) {
    if (pg.tty) fprintf(stderr, "\n");
    if (o.members > 1)
      fprintf(stderr, "ser train: wrote %s (an ensemble of %u networks, %.0f s of training in all; the last: ", out,
              o.members, res.seconds);
    else fprintf(stderr, "ser train: wrote %s (", out);
    if (res.avg_epochs)
      fprintf(stderr, "%u epochs, weights averaged over the last %u", res.epochs_run, res.avg_epochs);
    else
      fprintf(stderr, "%u epochs, kept epoch %u", res.epochs_run, res.best_epoch);
    if (res.best_val_ua >= 0) fprintf(stderr, ", validation UA %.1f%%", 100 * res.best_val_ua);
    if (o.members > 1) fprintf(stderr, ")\n");
    else fprintf(stderr, ", %.0f s)\n", res.seconds);
  }
  if (o.norm != TC_NORM_GLOBAL && o.norm != TC_NORM_RUNNING)
    fprintf(stderr, "ser train: note: %s expects %s-normalised features (metadata feature_norm=%s); ser classify and "
                    "the element apply only its stored statistics, so use it with ser eval --model %s --norm %s\n",
            out, tc_norm_name(o.norm), tc_norm_name(o.norm), out, tc_norm_name(o.norm));
  rc = EXIT_OK;
out1:
  ser_model_spec_clear(&spec);
  tc_data_free(&d);
out0:
  free(tr);
  free(va);
  free(mark);
  tc_opts_free(&o);
  return rc;
}
