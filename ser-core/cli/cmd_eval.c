/* ser eval: speaker-independent evaluation (LOSO, k folds of speakers, given
 * test speakers), the paper's protocol for comparison, or an existing model
 * on a corpus. See docs/training.md and docs/results.md. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "train_common.h"

static void usage(FILE *f) {
  fprintf(f,
          "Usage: ser eval [OPTIONS] CORPUS...\n"
          "       ser eval --model M [OPTIONS] CORPUS...\n"
          "       ser eval --from-predictions [--json F] [--svg F] [--predictions F] FILE[@N]...\n\n"
          "Evaluate emotion recognition on corpora (folders of known corpora or CSV manifests).\n"
          "Without --model, a fresh model is trained for every fold with the training options\n"
          "below (the same as `ser train`; validation speakers for early stopping are taken from\n"
          "the fold's TRAINING speakers) and tested on the fold's held-out clips. Each test clip\n"
          "is classified as a whole: the posteriors of windows (the model's window, hop of a\n"
          "quarter window, short clips repeated to one window) are averaged.\n"
          "The report ends with 95 %% intervals of WA, UA and macro F1 over speakers: the test\n"
          "speakers are drawn with replacement 2000 times (a bootstrap by speaker), which shows\n"
          "how far the scores could move with other speakers.\n\n"
          "  --protocol P            loso (default): leave one speaker out;\n"
          "                          kfold: --folds K folds of whole speakers (sorted, dealt\n"
          "                          round-robin);\n"
          "                          speakers: test on --test-speakers LIST, train on the rest;\n"
          "                          paper: the published protocol, for comparison only: four\n"
          "                          copies of every clip (original, noise, pitch +0.7 semitone,\n"
          "                          pitch + noise), then a random 80/20 split of the COPIES\n"
          "                          (leaks speakers, sentences and takes into the test set);\n"
          "                          implies --augment none --val-speakers 0 unless given\n"
          "  --folds K               folds for kfold (default 5)\n"
          "  --run-folds LIST        run only these folds (1-based, e.g. 1,2,3 or 6-10), exactly as\n"
          "                          in the whole evaluation: to spread one evaluation over several\n"
          "                          processes or machines; the report covers their test clips\n"
          "                          only, and the --predictions files of all parts together are\n"
          "                          the whole evaluation's (report them with --from-predictions)\n"
          "  --test-speakers LIST    test speakers for --protocol speakers (e.g. emodb:03,emodb:08)\n"
          "  --extra-train CORPUS    (repeatable) add all clips of CORPUS (folder or CSV) to the\n"
          "                          TRAINING set of every fold; they are never tested and never\n"
          "                          used for validation, and --speakers does not filter them.\n"
          "                          Their speakers and files must differ from those of the\n"
          "                          evaluated corpora, so test speakers stay unheard (cross-corpus\n"
          "                          training, e.g. --extra-train ravdess16k on emodb)\n"
          "  --model M               evaluate this model on all clips instead of training, with\n"
          "                          the --norm it was trained with unless --norm is given\n"
          "  --utterance-mode windows|whole   how a test clip is classified: average of window\n"
          "                          posteriors (windows, default) or one pass of the whole clip\n"
          "                          (whole, as `ser classify --utterance`)\n"
          "  --json FILE             scores, confusion matrix, the speaker interval, and every\n"
          "                          fold's and test speaker's scores as JSON\n"
          "  --svg FILE              confusion matrix as SVG\n"
          "  --predictions FILE      every test clip's result as CSV: fold (0 with --model),\n"
          "                          path, copy (paper protocol: 0 original, 1 noise, 2 pitch,\n"
          "                          3 pitch + noise; else 0), speaker, label, predicted, and\n"
          "                          one score column per label\n");
  fprintf(f,
          "  --from-predictions FILE[@N]...\n"
          "                          no training: the report of finished evaluations from their\n"
          "                          --predictions files. Files with other clips are joined (the\n"
          "                          parts of an evaluation spread with --run-folds); files with the\n"
          "                          same clips (runs with other seeds) are averaged clip by clip, a\n"
          "                          file given as FILE@N counting N times (a --members N run), and\n"
          "                          each clip takes the label of its highest mean score. Every clip\n"
          "                          must have the same weight in all (a fold missing from one run\n"
          "                          is an error), the same fold, speaker and label in every file,\n"
          "                          and the files the same labels. --predictions writes the joined\n"
          "                          and averaged clips; --seed seeds the interval's resampling\n"
          "                          (default 1); no other option applies\n");
  tc_print_opts_help(f);
  fprintf(f, "  -h, --help              this text\n\n"
             "Output: one line per fold as it finishes, their mean, then WA, UA, macro F1, per-class\n"
             "recall and the confusion matrix (rows = truth) of all test clips pooled.\n"
             "Exit status: 0 success, 1 usage error, 2 bad input (unreadable corpus, file or\n"
             "model, a speaker name that is no speaker of the corpora, a file given twice (in\n"
             "two corpora or by two names), an output that is an input or cannot be written:\n"
             "checked before training; a write error).\n");
}

/* Classify clips idx[0..n) with the spec and add them to the confusion. */
static int whole_mode;              /* --utterance-mode whole */
static ser_confusion *alt_total;    /* the other mode, for comparison */
static ser_confusion *spk_total;    /* one per speaker of the evaluated corpora: the bootstrap's groups */

/* --predictions: one CSV row per test clip */
static struct {
  FILE *f;
  const tc_data *d;     /* paths and speakers */
  const char *const *lab;
  uint32_t copies;      /* clips per path: 4 in the paper protocol, else 1 */
  uint32_t fold;        /* 1-based; 0 with --model */
} predout;

static void pred_header(uint32_t nl) {
  fputs("fold,path,copy,speaker,label,predicted", predout.f);
  for (uint32_t k = 0; k < nl; k++) {
    fputc(',', predout.f);
    cli_csv_str(predout.f, predout.lab[k]);
  }
  fputc('\n', predout.f);
}

static void pred_row(size_t clip, const ser_clip *c, uint32_t predicted, const float *probs, uint32_t nl) {
  fprintf(predout.f, "%u,", predout.fold);
  cli_csv_str(predout.f, predout.d->paths[clip / predout.copies]);
  fprintf(predout.f, ",%u,", (unsigned)(clip % predout.copies));
  cli_csv_str(predout.f, predout.d->speakers[c->speaker]);
  fprintf(predout.f, ",%s,%s", predout.lab[c->label], predout.lab[predicted]);
  for (uint32_t k = 0; k < nl; k++) fprintf(predout.f, ",%.6f", (double)probs[k]);
  fputc('\n', predout.f);
}

/* One clip's scores: with every network of the spec (an ensemble's mean),
 * in one pass of the whole clip (whole) or averaged over windows. */
static int classify_clip(ser_model_spec *views, ser_tnet **ev, uint32_t nn, const ser_clip *c, int whole,
                         float *probs, ser_error *err) {
  uint32_t nl = views[0].n_labels;
  float p[64];
  for (uint32_t j = 0; j < nn; j++) {
    float *dst = j ? p : probs;
    int r = whole ? ser_train_classify_whole_clip(&views[j], c, dst, err) : ser_train_classify(ev[j], c, dst, err);
    if (r < 0) return -1;
    for (uint32_t k = 0; j && k < nl; k++) probs[k] += p[k];
  }
  for (uint32_t k = 0; nn > 1 && k < nl; k++) probs[k] /= (float)nn;
  return 0;
}

static uint32_t argmax(const float *p, uint32_t n) {
  uint32_t a = 0;
  for (uint32_t k = 1; k < n; k++)
    if (p[k] > p[a]) a = k;
  return a;
}

/* --run-folds: run[k] = 1 for every listed fold (1-based numbers and a-b
 * ranges, comma separated); all folds without a list. */
static int parse_folds(const char *list, unsigned char *run, uint32_t nf) {
  if (!list) {
    memset(run, 1, nf);
    return 0;
  }
  const char *p = list;
  while (*p) {
    char *e;
    unsigned long a = strtoul(p, &e, 10), b = a;
    if (e == p || *p == '-' || *p == '+') goto bad;
    if (*e == '-') {
      const char *q = e + 1;
      b = strtoul(q, &e, 10);
      if (e == q || *q == '-' || *q == '+') goto bad;
    }
    if (a < 1 || b < a || b > nf) {
      fprintf(stderr, "ser eval: --run-folds: '%s': folds are 1..%u\n", list, nf);
      return -1;
    }
    for (unsigned long k = a; k <= b; k++) run[k - 1] = 1;
    if (*e == ',') e++;
    else if (*e) goto bad;
    p = e;
  }
  return 0;
bad:
  fprintf(stderr, "ser eval: --run-folds: '%s' is not a list of folds such as 1,2,3 or 6-10\n", list);
  return -1;
}

static int test_clips(ser_model_spec *spec, const ser_clip *clips, const size_t *idx, size_t n,
                      const uint32_t *labmap, ser_confusion *total, ser_confusion *fold) {
  ser_error err;
  uint32_t nn = ser_model_spec_n_nets(spec);
  ser_model_spec views[SER_MAX_NETS];
  ser_tnet *ev[SER_MAX_NETS] = {0};
  int rc = -1;
  for (uint32_t j = 0; j < nn; j++) {
    ser_model_spec_net_view(spec, j, &views[j]);
    if (!(ev[j] = ser_tnet_new(&views[j], 1, spec->in_len, &err))) {
      fprintf(stderr, "ser eval: %s\n", err.msg);
      goto out;
    }
  }
  float probs[64];
  for (size_t i = 0; i < n; i++) {
    const ser_clip *c = &clips[idx[i]];
    int r = classify_clip(views, ev, nn, c, whole_mode, probs, &err);
    if (r == 0 && alt_total) { /* the other utterance mode, reported in one summary line */
      float p2[64];
      r = classify_clip(views, ev, nn, c, !whole_mode, p2, &err);
      uint32_t a2 = argmax(p2, spec->n_labels);
      if (r == 0) ser_confusion_add(alt_total, c->label, labmap ? labmap[a2] : a2);
    }
    if (r < 0) {
      fprintf(stderr, "ser eval: clip %zu: %s\n", idx[i], err.msg);
      goto out;
    }
    uint32_t am = argmax(probs, spec->n_labels);
    uint32_t pred = labmap ? labmap[am] : am;
    ser_confusion_add(total, c->label, pred);
    if (fold) ser_confusion_add(fold, c->label, pred);
    if (spk_total) ser_confusion_add(&spk_total[c->speaker], c->label, pred);
    if (predout.f) pred_row(idx[i], c, pred, probs, spec->n_labels);
  }
  rc = 0;
out:
  for (uint32_t j = 0; j < nn; j++) ser_tnet_free(ev[j]);
  return rc;
}

static void fold_line(const char *name, uint32_t k, uint32_t nf, const ser_confusion *c, size_t n,
                      const ser_train_result *r, size_t ntr, size_t nva) {
  ser_scores s;
  ser_confusion_scores(c, &s);
  fprintf(stdout, "fold %u/%u %-24s n=%-4zu WA %5.1f%%  UA %5.1f%%  F1 %5.1f%%", k + 1, nf, name, n, 100 * s.wa,
          100 * s.ua, 100 * s.macro_f1);
  if (r) {
    fprintf(stdout, "  (train %zu, val %zu clips;", ntr, nva);
    if (r->avg_epochs) fprintf(stdout, " epochs %u, avg of last %u", r->epochs_run, r->avg_epochs);
    else fprintf(stdout, " epochs %u, kept %u", r->epochs_run, r->best_epoch);
    if (r->best_val_ua >= 0) fprintf(stdout, ", val UA %.1f%%", 100 * r->best_val_ua);
    fprintf(stdout, ", %.0f s)", r->seconds);
  }
  fprintf(stdout, "\n");
  fflush(stdout);
}

/* The paper's four copies of a clip. */
static int paper_copies(const tc_data *d, uint64_t seed, tc_data *out) {
  memset(out, 0, sizeof *out);
  out->n = d->n * 4;
  out->clips = calloc(out->n, sizeof *out->clips);
  out->audio = calloc(out->n, sizeof *out->audio);
  if (!out->clips || !out->audio) return -1;
  ser_rng r;
  ser_rng_seed(&r, seed ^ 0x9a9e12ULL);
  ser_error err;
  for (size_t i = 0; i < d->n; i++) {
    const ser_clip *c = &d->clips[i];
    uint32_t sr = 16000; /* set below by caller via rate in clip? use spec rate */
    (void)sr;
    for (int k = 0; k < 4; k++) {
      float *x = malloc((c->n ? c->n : 1) * sizeof(float));
      if (!x) return -1;
      memcpy(x, c->audio, c->n * sizeof(float));
      out->audio[4 * i + k] = x;
      out->clips[4 * i + k] = *c;
      out->clips[4 * i + k].audio = x;
    }
  }
  (void)err;
  (void)r;
  return 0;
}

static int paper_augment(tc_data *cp, uint32_t rate, uint64_t seed) {
  ser_rng r;
  ser_rng_seed(&r, seed ^ 0x9a9e12ULL);
  ser_error err;
  for (size_t i = 0; i < cp->n; i += 4) {
    size_t n = cp->clips[i].n;
    /* 1: noise; 2: pitch; 3: pitch + noise (SNR uniform in 15..30 dB) */
    ser_aug_add_noise(&r, cp->audio[i + 1], n, 15 + 15 * ser_rng_uniform(&r));
    if (ser_aug_pitch(cp->clips[i].audio, n, rate, 0.7f, cp->audio[i + 2], &err) < 0) {
      fprintf(stderr, "ser eval: pitch shift: %s\n", err.msg);
      return -1;
    }
    memcpy(cp->audio[i + 3], cp->audio[i + 2], n * sizeof(float));
    ser_aug_add_noise(&r, cp->audio[i + 3], n, 15 + 15 * ser_rng_uniform(&r));
  }
  return 0;
}

/* --norm running, fold k: the prior from the fold's training speakers (the
 * evaluated corpus' and every extra corpus' speakers), into pm (mean then
 * std, 2 x dim floats), then every clip's running statistics from it. Test
 * speakers stay unheard until their own earlier clips. */
static int fold_running(const tc_opts *o, tc_data *d, tc_data *x, const ser_clip *clips, size_t nclips,
                        const int *fold, uint32_t k, float *pm, const char *cmd) {
  ser_model_spec fs;
  memset(&fs, 0, sizeof fs);
  fs.feat = o->feat;
  uint32_t dim = ser_feature_dim(&o->feat);
  unsigned char *use = calloc(d->n_speakers + 1, 1);
  double *acc = calloc(2 * dim + 1, sizeof *acc);
  int rc = -1;
  if (!use || !acc) {
    fprintf(stderr, "ser %s: out of memory\n", cmd);
    goto out;
  }
  for (size_t i = 0; i < nclips; i++)
    if (fold[i] != (int)k) use[clips[i].speaker] = 1;
  tc_running_prior_add(d, use, dim, acc);
  if (x->n) tc_running_prior_add(x, NULL, dim, acc);
  tc_running_prior_finish(acc, dim, pm, pm + dim);
  if (tc_running_states(o, &fs, d, pm, pm + dim, cmd) < 0) goto out;
  if (x->n && tc_running_states(o, &fs, x, pm, pm + dim, cmd) < 0) goto out;
  rc = 0;
out:
  free(use), free(acc);
  return rc;
}

/* The speaker of clip k of d's clips followed by x's. */
static const char *joint_speaker(const tc_data *d, const tc_data *x, size_t k) {
  return k < d->n ? d->speakers[d->clips[k].speaker] : x->speakers[x->clips[k - d->n].speaker];
}

/* An --extra-train clip that is also an evaluated clip (the same file by any
 * name, under any speaker) would be trained on in the fold that tests it:
 * refused, naming both (tc_load has refused a file named twice within d or
 * within x). Returns 0, or -1 with the message printed. */
static int extra_clip_overlap(const tc_data *d, const tc_data *x) {
  const char **paths = malloc((d->n + x->n) * sizeof *paths);
  size_t i = 0, j = 0;
  int r = -1;
  if (paths) {
    memcpy(paths, d->paths, d->n * sizeof *paths);
    memcpy(paths + d->n, x->paths, x->n * sizeof *paths);
    r = ser_files_repeated(paths, d->n + x->n, &i, &j);
  }
  if (r < 0) fprintf(stderr, "ser eval: out of memory\n");
  if (r > 0) {
    fprintf(stderr,
            "ser eval: --extra-train: %s (speaker %s) is the evaluated clip %s (speaker %s); it would be "
            "trained on in the fold that tests it\n",
            paths[j], joint_speaker(d, x, j), paths[i], joint_speaker(d, x, i));
    r = -1;
  }
  free(paths);
  return r;
}

int cmd_eval(int argc, char **argv) {
  int help = 0, from_preds = 0;
  for (int i = 1; i < argc; i++) {
    help |= !strcmp(argv[i], "-h") || !strcmp(argv[i], "--help");
    from_preds |= !strcmp(argv[i], "--from-predictions");
  }
  if (from_preds && !help) return cmd_eval_predictions(argc, argv);
  tc_opts o;
  tc_opts_init(&o);
  const char *model_norm = "global"; /* --model: its feature_norm metadata */
  const char *protocol = "loso", *model = NULL, *json = NULL, *svg = NULL, *test_spk = NULL, *preds = NULL;
  const char *run_folds = NULL;
  uint32_t folds = 5;
  int aug_given = 0, val_given = 0, norm_given = 0;
  o.corpora = calloc((size_t)argc, sizeof(char *));
  char **extra = calloc((size_t)argc + 1, sizeof(char *));
  int n_extra = 0;
  if (!o.corpora || !extra) {
    fprintf(stderr, "ser eval: out of memory\n");
    tc_opts_free(&o);
    free(extra);
    return EXIT_BADINPUT;
  }
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      tc_opts_free(&o);
      free(extra);
      return EXIT_OK;
    }
    if (!strcmp(a, "--augment") || !strncmp(a, "--no-", 5)) aug_given = 1;
    if (!strcmp(a, "--val-speakers")) val_given = 1;
    if (!strcmp(a, "--norm")) norm_given = 1;
    int r = tc_parse_opt(&o, argc, argv, &i, "eval");
    if (r < 0) {
      tc_opts_free(&o);
      free(extra);
      return EXIT_USAGE;
    }
    if (r) continue;
    if (!strcmp(a, "--protocol") && i + 1 < argc) protocol = argv[++i];
    else if (!strcmp(a, "--folds") && i + 1 < argc) {
      folds = (uint32_t)atoi(argv[++i]);
      if (folds < 2 || folds > 1000) {
        fprintf(stderr, "ser eval: --folds: need 2 or more\n");
        tc_opts_free(&o);
        free(extra);
        return EXIT_USAGE;
      }
    } else if (!strcmp(a, "--test-speakers") && i + 1 < argc) test_spk = argv[++i];
    else if (!strcmp(a, "--run-folds") && i + 1 < argc) run_folds = argv[++i];
    else if (!strcmp(a, "--model") && i + 1 < argc) model = argv[++i];
    else if (!strcmp(a, "--extra-train") && i + 1 < argc) extra[n_extra++] = argv[++i];
    else if (!strcmp(a, "--utterance-mode") && i + 1 < argc) {
      const char *v = argv[++i];
      if (!strcmp(v, "whole")) whole_mode = 1;
      else if (!strcmp(v, "windows")) whole_mode = 0;
      else {
        fprintf(stderr, "ser eval: --utterance-mode: '%s' is not windows or whole\n", v);
        tc_opts_free(&o);
        free(extra);
        return EXIT_USAGE;
      }
    }
    else if (!strcmp(a, "--json") && i + 1 < argc) json = argv[++i];
    else if (!strcmp(a, "--svg") && i + 1 < argc) svg = argv[++i];
    else if (!strcmp(a, "--predictions") && i + 1 < argc) preds = argv[++i];
    else if (a[0] == '-' && a[1]) {
      fprintf(stderr, "ser eval: unknown option or missing value '%s' (see ser eval --help)\n", a);
      tc_opts_free(&o);
      free(extra);
      return EXIT_USAGE;
    } else o.corpora[o.n_corpora++] = argv[i];
  }
  int proto = !strcmp(protocol, "loso") ? 0 : !strcmp(protocol, "kfold") ? 1 : !strcmp(protocol, "speakers") ? 2
            : !strcmp(protocol, "paper") ? 3 : -1;
  if (proto < 0) {
    fprintf(stderr, "ser eval: --protocol: unknown '%s' (loso, kfold, speakers, paper)\n", protocol);
    tc_opts_free(&o);
    free(extra);
    return EXIT_USAGE;
  }
  if (proto == 2 && !test_spk && !model) {
    fprintf(stderr, "ser eval: --protocol speakers needs --test-speakers LIST\n");
    tc_opts_free(&o);
    free(extra);
    return EXIT_USAGE;
  }
  if (n_extra && (model || proto == 3)) {
    fprintf(stderr, "ser eval: --extra-train: only with a protocol that trains on speakers (loso, kfold, speakers), "
                    "not with --model or the paper protocol\n");
    tc_opts_free(&o);
    free(extra);
    return EXIT_USAGE;
  }
  if (o.n_corpora == 0) {
    fprintf(stderr, "ser eval: need at least one corpus (see ser eval --help)\n");
    tc_opts_free(&o);
    free(extra);
    return EXIT_USAGE;
  }
  if (proto == 3) {
    if (!aug_given) {
      o.train.aug.p_noise = o.train.aug.p_speed = o.train.aug.p_pitch = o.train.aug.p_shift = o.train.aug.p_gain = 0;
      o.train.specaugment = 0;
    }
    if (!val_given) o.val_n = 0;
  }
  int rc = EXIT_BADINPUT;
  ser_model_spec mspec;
  memset(&mspec, 0, sizeof mspec);
  ser_error err;
  if (model) {
    if (ser_model_spec_read(model, &mspec, &err) < 0) {
      fprintf(stderr, "ser eval: %s\n", err.msg);
      tc_opts_free(&o);
      free(extra);
      return EXIT_BADINPUT;
    }
    for (uint32_t k = 0; k < o.n_labels; k++) free(o.labels[k]);
    for (uint32_t k = 0; k < mspec.n_labels && k < TC_MAX_LABELS; k++) o.labels[k] = strdup(mspec.labels[k]);
    o.n_labels = mspec.n_labels;
    o.feat = mspec.feat;
    for (uint32_t k = 0; k < mspec.n_meta; k++)
      if (!strcmp(mspec.meta_keys[k], "feature_norm")) model_norm = mspec.meta_values[k];
    /* without --norm, the normalisation the model was trained with */
    if (!norm_given && tc_norm_parse(model_norm) >= 0) o.norm = tc_norm_parse(model_norm);
  } else if (tc_finalize(&o, "eval") < 0) {
    tc_opts_free(&o);
    free(extra);
    return EXIT_USAGE;
  }
  { /* the outputs, before any work: none of them an input, all writable */
    const char **ins = calloc((size_t)o.n_corpora + (size_t)n_extra + 1, sizeof *ins);
    int nin = 0, bad = !ins;
    for (int k = 0; ins && k < o.n_corpora; k++) ins[nin++] = o.corpora[k];
    for (int k = 0; ins && k < n_extra; k++) ins[nin++] = extra[k];
    if (ins && model) ins[nin++] = model;
    const char *opt[3] = {"--predictions", "--json", "--svg"}, *path[3] = {preds, json, svg};
    for (int k = 0; k < 3 && !bad; k++) bad = cli_output_ok("eval", opt[k], path[k], ins, nin) < 0;
    for (int k = 0; k < 3 && !bad; k++)
      for (int j = 0; j < k && !bad; j++)
        if (path[k] && path[j] && !strcmp(path[k], path[j])) {
          fprintf(stderr, "ser eval: %s and %s are the same file (%s)\n", opt[j], opt[k], path[k]);
          bad = 1;
        }
    free(ins);
    if (bad) {
      ser_model_spec_clear(&mspec);
      tc_opts_free(&o);
      free(extra);
      return EXIT_BADINPUT;
    }
  }
  const char *lab[TC_MAX_LABELS];
  for (uint32_t k = 0; k < o.n_labels; k++) lab[k] = o.labels[k];
  tc_data d, cp, x; /* x: --extra-train clips, training only */
  memset(&d, 0, sizeof d);
  memset(&cp, 0, sizeof cp);
  memset(&x, 0, sizeof x);
  /* from here on, failures leave through `out` (rc is EXIT_BADINPUT) */
  if (tc_load(&o, o.feat.sample_rate, &d, "eval") < 0) goto out;
  if ((o.val_n == -2 && tc_check_speakers(o.val_list, d.speakers, d.n_speakers, "--val-speakers", "eval") < 0) ||
      (proto == 2 && tc_check_speakers(test_spk, d.speakers, d.n_speakers, "--test-speakers", "eval") < 0))
    goto out;
  if (preds) { /* opened before any training: a bad path fails at once */
    memset(&predout, 0, sizeof predout);
    predout.f = fopen(preds, "w");
    if (!predout.f) {
      fprintf(stderr, "ser eval: %s: cannot write: %s\n", preds, strerror(errno));
      goto out;
    }
    predout.d = &d;
    predout.lab = lab;
    predout.copies = 1;
    pred_header(o.n_labels);
  }
  if (n_extra) {
    tc_opts eo = o; /* shallow copy: tc_load only reads it */
    eo.corpora = extra;
    eo.n_corpora = n_extra;
    eo.speakers = NULL;
    if (tc_load(&eo, o.feat.sample_rate, &x, "eval") < 0) goto out;
    for (uint32_t a = 0; a < x.n_speakers; a++)
      for (uint32_t b = 0; b < d.n_speakers; b++)
        if (!strcmp(x.speakers[a], d.speakers[b])) {
          fprintf(stderr, "ser eval: --extra-train: speaker %s is also in the evaluated corpora (%s); its clips "
                          "would be trained on in the fold that tests them\n", x.speakers[a], d.corpora);
          goto out;
        }
    if (extra_clip_overlap(&d, &x) < 0) goto out;
  }
  if (o.norm != TC_NORM_GLOBAL) {
    /* every speaker's (or clip's) statistics from its own clips, labels unused: for the test
     * speakers of a fold this is unsupervised adaptation to them (docs/training.md) */
    ser_model_spec fs;
    memset(&fs, 0, sizeof fs);
    int grc = -1;
    if (model) grc = tc_group_norm(&o, &mspec, &d, "eval") < 0 || tc_group_norm(&o, &mspec, &x, "eval") < 0 ? -1 : 0;
    else if (tc_build_spec(&o, 0, &fs, "eval") == 0) {
      grc = tc_group_norm(&o, &fs, &d, "eval") < 0 || tc_group_norm(&o, &fs, &x, "eval") < 0 ? -1 : 0;
      ser_model_spec_clear(&fs);
    }
    if (grc < 0) goto out;
  }
  if (o.norm == TC_NORM_RUNNING && model) {
    /* the model's prior; without one, the evaluated speakers' average */
    uint32_t dim = ser_feature_dim(&mspec.feat);
    float *pm = malloc(2 * dim * sizeof(float));
    double *acc = calloc(2 * dim + 1, sizeof *acc);
    if (!pm || !acc) {
      free(pm), free(acc);
      fprintf(stderr, "ser eval: out of memory\n");
      goto out;
    }
    if (mspec.spk_mean) {
      memcpy(pm, mspec.spk_mean, dim * sizeof(float));
      memcpy(pm + dim, mspec.spk_std, dim * sizeof(float));
    } else {
      fprintf(stderr, "ser eval: warning: %s has no speaker prior; using the evaluated speakers' average\n", model);
      tc_running_prior_add(&d, NULL, dim, acc);
      tc_running_prior_finish(acc, dim, pm, pm + dim);
    }
    int src = tc_running_states(&o, &mspec, &d, pm, pm + dim, "eval");
    free(pm), free(acc);
    if (src < 0) goto out;
  }
  /* a model trained with another --norm expects other inputs */
  if (model && strcmp(model_norm, tc_norm_name(o.norm)))
    fprintf(stderr, "ser eval: warning: %s was trained with --norm %s, evaluated with --norm %s\n", model,
            model_norm, tc_norm_name(o.norm));
  ser_confusion total, alt;
  ser_confusion *fconf = NULL; /* the folds run, for the JSON report */
  char **fnames = NULL;
  uint32_t nrun = 0;
  ser_confusion_init(&total, o.n_labels);
  ser_confusion_init(&alt, o.n_labels);
  alt_total = &alt;
  size_t *idx = malloc(d.n * 4 * sizeof(size_t));
  ser_clip *tr = malloc((d.n * 4 + x.n) * sizeof(ser_clip)), *va = malloc(d.n * 4 * sizeof(ser_clip));
  int *fold = malloc(d.n * 4 * sizeof(int));
  ser_clip *pool = malloc(d.n * 4 * sizeof(ser_clip)); /* a fold's non-test clips */
  unsigned char *mark = calloc(d.n_speakers + 1, 1), *run = NULL; /* run: --run-folds */
  uint32_t *spk = malloc((d.n_speakers + 1) * sizeof(uint32_t));
  float *prior = malloc(2 * ser_feature_dim(&o.feat) * sizeof(float)); /* --norm running: a fold's prior */
  spk_total = calloc(d.n_speakers + 1, sizeof *spk_total);
  int ok = idx && tr && va && fold && pool && mark && spk && prior && spk_total;
  for (uint32_t s = 0; ok && s < d.n_speakers; s++) ok = ser_confusion_init(&spk_total[s], o.n_labels) == 0;
  if (!ok) {
    fprintf(stderr, "ser eval: out of memory\n");
    goto done;
  }
  uint32_t nf = 0;
  const ser_clip *clips = d.clips;
  size_t nclips = d.n;
  char title[1024];
  fprintf(stdout, "ser eval: %zu clips of %u speakers (%s), %u labels, protocol %s\n", d.n, d.n_speakers, d.corpora,
          o.n_labels, model ? "model" : protocol);
  if (o.norm == TC_NORM_SPEAKER && o.norm_clips > 0)
    fprintf(stdout, "ser eval: --norm speaker --norm-clips %d: every clip's features normalised with the statistics "
                    "of %d other clips of its speaker (test speakers' without labels), never its own\n",
            o.norm_clips, o.norm_clips);
  else if (o.norm == TC_NORM_SPEAKER)
    fprintf(stdout, "ser eval: --norm speaker: every speaker's features normalised with that speaker's statistics, "
                    "test speakers' from their own clips without labels\n");
  else if (o.norm == TC_NORM_RUNNING)
    fprintf(stdout, "ser eval: --norm running: every clip's features normalised with a running speaker normaliser "
                    "(%s, then the speaker's earlier clips in a random "
                    "order, memory %g s of speech), as the analyzer does live\n",
            model ? "the model's prior" : "the prior of the fold's training speakers", o.spk.memory_s);
  else if (o.norm == TC_NORM_UTTERANCE)
    fprintf(stdout, "ser eval: --norm utterance: every clip's features normalised with its own statistics\n");
  if (o.members > 1 && !model)
    fprintf(stdout, "ser eval: every fold trains an ensemble of %u networks (seeds %llu..%llu) and scores the mean "
                    "of their outputs\n", o.members, (unsigned long long)o.train.seed,
            (unsigned long long)(o.train.seed + o.members - 1));
  if (o.distill && !model)
    fprintf(stdout, "ser eval: every fold first trains a teacher of %u network%s (seeds %llu..%llu); the "
                    "model's networks learn from its probabilities (alpha %g, temperature %g)\n", o.distill,
            o.distill > 1 ? "s" : "",
            (unsigned long long)(o.train.seed + o.members), (unsigned long long)(o.train.seed + o.members + o.distill - 1),
            o.train.distill_alpha, o.distill_temp);
  if (model && ser_model_spec_n_nets(&mspec) > 1)
    fprintf(stdout, "ser eval: %s is an ensemble of %u networks; scores are the mean of their outputs\n", model,
            ser_model_spec_n_nets(&mspec));
  if (x.n)
    fprintf(stdout, "ser eval: plus %zu extra training clips of %u speakers (%s) in every fold's training set, "
                    "never tested\n", x.n, x.n_speakers, x.corpora);
  if (model) {
    predout.fold = 0;
    for (size_t i = 0; i < d.n; i++) idx[i] = i;
    if (test_clips(&mspec, d.clips, idx, d.n, NULL, &total, NULL) < 0) goto done;
    snprintf(title, sizeof title, "%s on %s", model, d.corpora);
    goto report;
  }
  /* folds */
  char **tsl = NULL;
  switch (proto) {
  case 0:
    nf = d.n_speakers;
    for (size_t i = 0; i < d.n; i++) fold[i] = (int)d.clips[i].speaker;
    break;
  case 1:
    nf = folds > d.n_speakers ? d.n_speakers : folds;
    for (size_t i = 0; i < d.n; i++) fold[i] = (int)(d.clips[i].speaker % nf);
    break;
  case 2:
    nf = 1;
    tsl = tc_split(test_spk, NULL);
    for (size_t i = 0; i < d.n; i++) {
      fold[i] = -1;
      for (char **q = tsl; q && *q; q++)
        if (!strcmp(*q, d.speakers[d.clips[i].speaker])) fold[i] = 0;
    }
    tc_split_free(tsl);
    break;
  case 3: {
    if (paper_copies(&d, o.train.seed, &cp) < 0 || paper_augment(&cp, o.feat.sample_rate, o.train.seed) < 0) {
      fprintf(stderr, "ser eval: cannot make the paper's copies\n");
      goto done;
    }
    clips = cp.clips;
    nclips = cp.n;
    predout.copies = 4; /* copy j of clip i is clips[4 i + j] */
    nf = 1;
    /* random 80/20 split of the copies */
    ser_rng r;
    ser_rng_seed(&r, o.train.seed ^ 0x5b117ULL);
    for (size_t i = 0; i < nclips; i++) fold[i] = ser_rng_uniform(&r) < 0.2f ? 0 : -1;
    break;
  }
  }
  if (nf < 1 || d.n_speakers < 2) {
    fprintf(stderr, "ser eval: need at least 2 speakers\n");
    goto done;
  }
  run = calloc(nf, 1);
  fconf = calloc(nf, sizeof *fconf);
  fnames = calloc(nf, sizeof *fnames);
  if (!fconf || !fnames) {
    fprintf(stderr, "ser eval: out of memory\n");
    goto done;
  }
  if (!run || parse_folds(run_folds, run, nf) < 0) {
    rc = EXIT_USAGE;
    goto done;
  }
  for (uint32_t k = 0; k < nf; k++) {
    if (!run[k]) continue;
    size_t ntr = 0, nva = 0, nte = 0;
    /* training speakers of this fold */
    uint32_t nts = 0;
    memset(mark, 0, d.n_speakers);
    unsigned char *is_train = calloc(d.n_speakers, 1);
    for (size_t i = 0; i < nclips; i++)
      if (fold[i] != (int)k) is_train[clips[i].speaker] = 1;
    for (uint32_t s = 0; s < d.n_speakers; s++)
      if (is_train[s]) spk[nts++] = s;
    free(is_train);
    if (proto != 3) tc_pick_val(&o, spk, nts, &d, o.train.seed + k, mark);
    for (size_t i = 0; i < nclips; i++) {
      if (fold[i] == (int)k) idx[nte++] = i;
      else if (proto != 3 && mark[clips[i].speaker]) va[nva++] = clips[i];
      else tr[ntr++] = clips[i];
    }
    /* cross-corpus clips: training only (their speaker field indexes x.speakers; ser_train ignores it) */
    for (size_t i = 0; i < x.n; i++) tr[ntr++] = x.clips[i];
    if (nte == 0) continue;
    if (o.norm == TC_NORM_RUNNING) {
      if (fold_running(&o, &d, &x, clips, nclips, fold, k, prior, "eval") < 0) goto done;
      o.train.vs_prior_mean = prior, o.train.vs_prior_std = prior + ser_feature_dim(&o.feat), o.train.vs_spk = o.spk;
    }
    ser_model_spec spec;
    if (tc_build_spec(&o, o.train.seed * 1000 + k, &spec, "eval") < 0) {
      rc = EXIT_USAGE;
      goto done;
    }
    if (tc_norm_stats(&o, &spec, tr, ntr, &err) < 0) {
      fprintf(stderr, "ser eval: %s\n", err.msg);
      ser_model_spec_clear(&spec);
      goto done;
    }
    char pre[64];
    snprintf(pre, sizeof pre, "fold %u/%u: ", k + 1, nf);
    tc_progress pg = {isatty(2), o.quiet, pre};
    o.train.progress = tc_progress_fn;
    o.train.progress_user = &pg;
    ser_train_result res;
    /* the fold's training and validation clips again, for the other networks' own validation speakers */
    size_t npool = 0;
    for (size_t i = 0; i < nclips; i++)
      if (fold[i] != (int)k) pool[npool++] = clips[i];
    tc_resplit rs = {pool, npool, x.clips, x.n, spk, nts, &d, o.train.seed + k};
    if (tc_train_members(&o, &spec, o.train.seed * 1000 + k, 1000, tr, ntr, va, nva, proto != 3 ? &rs : NULL, pre,
                         &res, "eval") < 0) {
      ser_model_spec_clear(&spec);
      goto done;
    }
    if (pg.tty && !o.quiet) fprintf(stderr, "\r%*s\r", 120, "");
    ser_confusion *fc = &fconf[nrun];
    if (ser_confusion_init(fc, o.n_labels) < 0) {
      fprintf(stderr, "ser eval: out of memory\n");
      ser_model_spec_clear(&spec);
      goto done;
    }
    nrun++;
    predout.fold = k + 1;
    int trc = test_clips(&spec, clips, idx, nte, NULL, &total, fc);
    if (predout.f) fflush(predout.f);
    ser_model_spec_clear(&spec);
    if (trc < 0) goto done;
    char name[128];
    if (proto == 0) snprintf(name, sizeof name, "%s", d.speakers[k]);
    else if (proto == 1) {
      name[0] = 0;
      for (uint32_t s = k; s < d.n_speakers; s += nf)
        if (strlen(name) + strlen(d.speakers[s]) + 2 < sizeof name) {
          if (name[0]) strcat(name, ",");
          strcat(name, d.speakers[s]);
        }
    } else if (proto == 2) snprintf(name, sizeof name, "%s", test_spk);
    else snprintf(name, sizeof name, "random 20%% of copies");
    fold_line(name, k, nf, fc, nte, &res, ntr, nva);
    fnames[nrun - 1] = strdup(name);
  }
  snprintf(title, sizeof title, "%s, %s", d.corpora, protocol);
report:
  cli_folds_mean(fconf, nrun);
  ser_report_text(stdout, &total, lab);
  {
    ser_scores sa;
    ser_confusion_scores(&alt, &sa);
    fprintf(stdout, "for comparison, test clips classified %s: WA %.4f  UA %.4f  macro-F1 %.4f\n",
            whole_mode ? "by averaging window posteriors (windows)" : "in one pass of the whole clip (whole)", sa.wa,
            sa.ua, sa.macro_f1);
  }
  if (cli_eval_report_tail(&total, (const char *const *)d.speakers, spk_total, d.n_speakers,
                           (const char *const *)fnames, fconf, nrun, lab, o.train.seed, json, svg, title) < 0)
    goto done;
  rc = EXIT_OK;
done:
  ser_confusion_free(&total);
  ser_confusion_free(&alt);
  alt_total = NULL;
  if (spk_total)
    for (uint32_t s = 0; s < d.n_speakers; s++) ser_confusion_free(&spk_total[s]);
  free(spk_total);
  spk_total = NULL;
  for (uint32_t k = 0; k < nrun; k++) ser_confusion_free(&fconf[k]), free(fnames[k]);
  free(fconf), free(fnames);
  free(idx), free(tr), free(va), free(fold), free(mark), free(spk), free(run), free(pool), free(prior);
  if (cp.n) {
    for (size_t i = 0; i < cp.n; i++) free(cp.audio[i]);
    free(cp.audio);
    free(cp.clips);
  }
out:
  if (predout.f && fclose(predout.f) != 0 && rc == EXIT_OK) {
    fprintf(stderr, "ser eval: %s: write error\n", preds);
    rc = EXIT_BADINPUT;
  }
  predout.f = NULL;
  if (rc == EXIT_OK && (fflush(stdout) != 0 || ferror(stdout))) {
    fprintf(stderr, "ser eval: stdout: write error\n");
    rc = EXIT_BADINPUT;
  }
  tc_data_free(&d);
  tc_data_free(&x);
  ser_model_spec_clear(&mspec);
  tc_opts_free(&o);
  free(extra);
  return rc;
}
