/* ser eval's report, shared by its two modes: the mean of the fold lines, the
 * interval by speaker and the report files (cli_folds_mean,
 * cli_eval_report_tail), and --from-predictions: the report of finished
 * evaluations from their --predictions files. Files with other clips are
 * joined (the parts of an evaluation spread with --run-folds); files with the
 * same clips are averaged clip by clip (runs with other seeds: an ensemble of
 * runs), a file given as FILE@N counting N times (a --members N run). Every
 * clip must end with the same total weight, so a fold missing from one run is
 * an error, not a smaller ensemble. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/csv.h"
#include "cli.h"
#include "ser/corpus.h"
#include "ser/metrics.h"

#define PS_MAX_LABELS 64
static const char *const pred_cols[6] = {"fold", "path", "copy", "speaker", "label", "predicted"};

typedef struct {
  char *path;
  uint32_t copy, fold, speaker, label;
  int file, line;  /* where it was first read */
  double weight;   /* summed weights of the files holding it */
  double *sum;     /* n_labels: weighted sum of scores */
} ps_clip;

typedef struct {
  ps_clip *clips;
  size_t n, cap;
  size_t *slot; /* open addressing over (path, copy): index + 1, 0 = empty */
  size_t nslot;
  char **speakers;
  uint32_t n_speakers;
  char *labels[PS_MAX_LABELS];
  uint32_t n_labels;
} ps_set;

static size_t key_hash(const char *p, uint32_t copy) {
  uint64_t h = 1469598103934665603ULL ^ copy;
  for (; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ULL;
  return (size_t)h;
}

/* The clip (path, copy): its index, or -1 (*slot: where a new one goes). */
static long find_clip(const ps_set *s, const char *path, uint32_t copy, size_t *slot) {
  size_t i = key_hash(path, copy) & (s->nslot - 1);
  while (s->slot[i]) {
    const ps_clip *c = &s->clips[s->slot[i] - 1];
    if (c->copy == copy && !strcmp(c->path, path)) return (long)(s->slot[i] - 1);
    i = (i + 1) & (s->nslot - 1);
  }
  *slot = i;
  return -1;
}

static int grow(ps_set *s) {
  if (s->n < s->cap) return 0;
  size_t cap = s->cap ? 2 * s->cap : 1024;
  ps_clip *c = realloc(s->clips, cap * sizeof *c);
  if (!c) return -1;
  s->clips = c;
  s->cap = cap;
  free(s->slot); /* rehash into twice as many slots as clips */
  s->nslot = 2 * cap;
  s->slot = calloc(s->nslot, sizeof *s->slot);
  if (!s->slot) return -1;
  for (size_t k = 0; k < s->n; k++) {
    size_t at = 0;
    find_clip(s, s->clips[k].path, s->clips[k].copy, &at);
    s->slot[at] = k + 1;
  }
  return 0;
}

static long speaker_index(ps_set *s, const char *name) {
  for (uint32_t k = 0; k < s->n_speakers; k++)
    if (!strcmp(s->speakers[k], name)) return k;
  char **sp = realloc(s->speakers, (s->n_speakers + 1) * sizeof *sp);
  if (!sp) return -1;
  s->speakers = sp;
  if (!(sp[s->n_speakers] = strdup(name))) return -1;
  return s->n_speakers++;
}

static long label_index(const ps_set *s, const char *name) {
  for (uint32_t k = 0; k < s->n_labels; k++)
    if (!strcmp(s->labels[k], name)) return k;
  return -1;
}

static void set_free(ps_set *s) {
  for (size_t k = 0; k < s->n; k++) free(s->clips[k].path), free(s->clips[k].sum);
  free(s->clips);
  free(s->slot);
  for (uint32_t k = 0; k < s->n_speakers; k++) free(s->speakers[k]);
  free(s->speakers);
  for (uint32_t k = 0; k < s->n_labels; k++) free(s->labels[k]);
}

static int parse_u32(const char *t, uint32_t *v) {
  char *e;
  errno = 0;
  unsigned long x = strtoul(t, &e, 10);
  if (!*t || *e || errno || t[0] == '-' || x > 1000000UL) return -1;
  *v = (uint32_t)x;
  return 0;
}

/* "FILE@N": *w = N (1..1000) and the path without the suffix; else the
 * whole argument with weight 1. */
static char *split_weight(const char *arg, double *w) {
  const char *at = strrchr(arg, '@');
  uint32_t n = 0;
  *w = 1.0;
  if (at && at > arg && parse_u32(at + 1, &n) == 0) {
    if (n < 1 || n > 1000) return NULL;
    *w = n;
    return strndup(arg, (size_t)(at - arg));
  }
  return strdup(arg);
}

/* The header: ser eval's six columns and the labels (the first file's; the
 * others must name the same labels in the same order). */
static int read_header(ps_set *s, const char *file, char **f, int nf, const char *first) {
  int ok = nf >= 7;
  for (int k = 0; ok && k < 6; k++) ok = !strcmp(f[k], pred_cols[k]);
  if (!ok) {
    fprintf(stderr, "ser eval: %s: not a ser eval --predictions file (its header should be "
                    "fold,path,copy,speaker,label,predicted and one column per label)\n", file);
    return -1;
  }
  if (nf - 6 > PS_MAX_LABELS) {
    fprintf(stderr, "ser eval: %s: %d labels, at most %d\n", file, nf - 6, PS_MAX_LABELS);
    return -1;
  }
  if (!s->n_labels) {
    for (int k = 6; k < nf; k++) {
      if (!*f[k] || label_index(s, f[k]) >= 0) {
        fprintf(stderr, "ser eval: %s: label column %d is %s\n", file, k + 1, *f[k] ? "a repeated label" : "empty");
        return -1;
      }
      if (!(s->labels[s->n_labels++] = strdup(f[k]))) return -1;
    }
    return 0;
  }
  ok = (uint32_t)(nf - 6) == s->n_labels;
  for (uint32_t k = 0; ok && k < s->n_labels; k++) ok = !strcmp(f[6 + k], s->labels[k]);
  if (!ok) {
    fprintf(stderr, "ser eval: %s: its labels (", file);
    for (int k = 6; k < nf; k++) fprintf(stderr, "%s%s", k > 6 ? "," : "", f[k]);
    fprintf(stderr, ") are not those of %s (", first);
    for (uint32_t k = 0; k < s->n_labels; k++) fprintf(stderr, "%s%s", k ? "," : "", s->labels[k]);
    fprintf(stderr, "), in the same order\n");
    return -1;
  }
  return 0;
}

/* One data row of file fi (weight w). */
static int read_row(ps_set *s, int fi, const char *const *files, double w, char **f, int line) {
  const char *file = files[fi];
  uint32_t fold, copy;
  const int bad_fold = parse_u32(f[0], &fold) < 0;
  if (bad_fold || parse_u32(f[2], &copy) < 0) {
    fprintf(stderr, "ser eval: %s:%d: %s '%s' is not a whole number\n", file, line, bad_fold ? "fold" : "copy",
            bad_fold ? f[0] : f[2]);
    return -1;
  }
  if (!*f[1] || !*f[3]) {
    fprintf(stderr, "ser eval: %s:%d: empty %s\n", file, line, !*f[1] ? "path" : "speaker");
    return -1;
  }
  long lab = label_index(s, f[4]), pred = label_index(s, f[5]);
  if (lab < 0 || pred < 0) {
    fprintf(stderr, "ser eval: %s:%d: %s '%s' is not one of the file's labels\n", file, line,
            lab < 0 ? "label" : "predicted", lab < 0 ? f[4] : f[5]);
    return -1;
  }
  double p[PS_MAX_LABELS];
  for (uint32_t k = 0; k < s->n_labels; k++) {
    char *e;
    p[k] = strtod(f[6 + k], &e);
    if (!*f[6 + k] || *e || !isfinite(p[k]) || p[k] < 0.0 || p[k] > 1.0) {
      fprintf(stderr, "ser eval: %s:%d: score of %s '%s' is not a probability (a number in [0, 1])\n", file, line,
              s->labels[k], f[6 + k]);
      return -1;
    }
  }
  long spk = speaker_index(s, f[3]);
  if (spk < 0 || grow(s) < 0) {
    fprintf(stderr, "ser eval: %s: out of memory\n", file);
    return -1;
  }
  size_t slot = 0;
  long at = find_clip(s, f[1], copy, &slot);
  if (at < 0) {
    ps_clip *c = &s->clips[s->n];
    memset(c, 0, sizeof *c);
    c->path = strdup(f[1]);
    c->sum = calloc(s->n_labels, sizeof *c->sum);
    if (!c->path || !c->sum) {
      free(c->path), free(c->sum);
      fprintf(stderr, "ser eval: %s: out of memory\n", file);
      return -1;
    }
    c->copy = copy, c->fold = fold, c->speaker = (uint32_t)spk, c->label = (uint32_t)lab;
    c->file = fi, c->line = line;
    for (uint32_t k = 0; k < s->n_labels; k++) c->sum[k] = w * p[k];
    c->weight = w;
    s->slot[slot] = ++s->n;
    return 0;
  }
  ps_clip *c = &s->clips[at];
  if (c->file == fi) {
    fprintf(stderr, "ser eval: %s:%d: %s (copy %u) again, first on line %d\n", file, line, c->path, copy, c->line);
    return -1;
  }
  if (c->fold != fold || c->speaker != (uint32_t)spk || c->label != (uint32_t)lab) {
    const int col = c->fold != fold ? 0 : c->speaker != (uint32_t)spk ? 3 : 4; /* the field that differs */
    char fold_there[16];
    snprintf(fold_there, sizeof fold_there, "%u", c->fold);
    const char *what = pred_cols[col], *here = f[col];
    const char *there = col == 0 ? fold_there : col == 3 ? s->speakers[c->speaker] : s->labels[c->label];
    fprintf(stderr, "ser eval: %s:%d: %s: %s %s here, %s in %s:%d (not runs of the same protocol on the same clips)\n",
            file, line, c->path, what, here, there, files[c->file], c->line);
    return -1;
  }
  for (uint32_t k = 0; k < s->n_labels; k++) c->sum[k] += w * p[k];
  c->weight += w;
  return 0;
}

static int read_file(ps_set *s, int fi, const char *const *files, double w) {
  const char *file = files[fi];
  size_t len = 0;
  ser_error err;
  char *text = ser_read_file(file, &len, &err);
  if (!text) {
    fprintf(stderr, "ser eval: %s\n", err.msg);
    return -1;
  }
  ser_csv r;
  ser_csv_init(&r, text, len);
  char **f = NULL;
  int nf = 0, line = 0, rows = 0, rc = -1;
  int got = ser_csv_record(&r, file, &f, &nf, &line, &err);
  if (got <= 0) {
    if (got < 0) fprintf(stderr, "ser eval: %s\n", err.msg);
    else fprintf(stderr, "ser eval: %s: empty file (not a ser eval --predictions file)\n", file);
    goto out;
  }
  const int ncols = nf;
  if (read_header(s, file, f, nf, files[0]) < 0) goto out;
  for (;;) {
    ser_csv_fields_free(f, nf);
    f = NULL;
    got = ser_csv_record(&r, file, &f, &nf, &line, &err);
    if (got < 0) {
      fprintf(stderr, "ser eval: %s\n", err.msg);
      goto out;
    }
    if (!got) break;
    if (nf != ncols) {
      fprintf(stderr, "ser eval: %s:%d: %d fields, the header has %d\n", file, line, nf, ncols);
      goto out;
    }
    if (read_row(s, fi, files, w, f, line) < 0) goto out;
    rows++;
  }
  if (!rows) {
    fprintf(stderr, "ser eval: %s: no clips after the header\n", file);
    goto out;
  }
  rc = 0;
out:
  ser_csv_fields_free(f, nf);
  free(text);
  return rc;
}

void cli_folds_mean(const ser_confusion *folds, uint32_t n) {
  if (n < 2) return;
  double sum[3] = {0, 0, 0};
  for (uint32_t k = 0; k < n; k++) {
    ser_scores s;
    ser_confusion_scores(&folds[k], &s);
    sum[0] += s.wa, sum[1] += s.ua, sum[2] += s.macro_f1;
  }
  fprintf(stdout, "mean of the %u folds: WA %5.1f%%  UA %5.1f%%  F1 %5.1f%%\n", n, 100 * sum[0] / n,
          100 * sum[1] / n, 100 * sum[2] / n);
}

int cli_eval_report_tail(const ser_confusion *total, const char *const *spk_names, const ser_confusion *spk,
                         uint32_t n_spk, const char *const *fold_names, const ser_confusion *folds, uint32_t n_folds,
                         const char *const *lab, uint64_t seed, const char *json, const char *svg, const char *title) {
  ser_bootstrap boot;
  if (ser_confusion_bootstrap(spk, n_spk, 2000, 0.95, seed, &boot) == 0)
    fprintf(stdout, "95 %% interval with other speakers (the %u test speakers drawn with replacement, %u resamples): "
                    "WA %.4f-%.4f  UA %.4f-%.4f  macro-F1 %.4f-%.4f\n",
            boot.groups, boot.resamples, boot.wa_lo, boot.wa_hi, boot.ua_lo, boot.ua_hi, boot.f1_lo, boot.f1_hi);
  else {
    memset(&boot, 0, sizeof boot);
    fprintf(stdout, "(fewer than 2 test speakers: no interval over speakers)\n");
  }
  if (json) {
    FILE *f = fopen(json, "w");
    if (!f) {
      fprintf(stderr, "ser eval: %s: cannot write: %s\n", json, strerror(errno));
      return -1;
    }
    ser_report_json_groups(f, total, lab, &boot, fold_names, folds, n_folds, spk_names, spk, n_spk);
    int werr = ferror(f);
    if (fclose(f) != 0 || werr) {
      fprintf(stderr, "ser eval: %s: write error\n", json);
      return -1;
    }
  }
  ser_error err;
  if (svg && ser_report_svg(svg, total, lab, title, &err) < 0) {
    fprintf(stderr, "ser eval: %s\n", err.msg);
    return -1;
  }
  return 0;
}

static uint32_t argmax_d(const double *p, uint32_t n) {
  uint32_t a = 0;
  for (uint32_t k = 1; k < n; k++)
    if (p[k] > p[a]) a = k;
  return a;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* speakers sorted by name, as ser eval has them: the same report lines and
 * the same resampling draws whatever order the files came in */
static int sort_speakers(ps_set *s) {
  char **sorted = malloc(s->n_speakers * sizeof *sorted);
  uint32_t *to = malloc(s->n_speakers * sizeof *to);
  if (!sorted || !to) {
    free(sorted), free(to);
    return -1;
  }
  memcpy(sorted, s->speakers, s->n_speakers * sizeof *sorted);
  qsort(sorted, s->n_speakers, sizeof *sorted, cmp_str);
  for (uint32_t a = 0; a < s->n_speakers; a++)
    for (uint32_t b = 0; b < s->n_speakers; b++)
      if (s->speakers[a] == sorted[b]) to[a] = b;
  for (size_t i = 0; i < s->n; i++) s->clips[i].speaker = to[s->clips[i].speaker];
  free(s->speakers);
  s->speakers = sorted;
  free(to);
  return 0;
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

/* The report of the joined and averaged clips. */
static int report(ps_set *s, int nfiles, const char *const *files, const char *json, const char *svg,
                  const char *preds, uint64_t seed) {
  const char *lab[PS_MAX_LABELS];
  for (uint32_t k = 0; k < s->n_labels; k++) lab[k] = s->labels[k];
  uint32_t *pred = malloc(s->n * sizeof *pred), *folds = malloc(s->n * sizeof *folds);
  ser_confusion total, *spk = calloc(s->n_speakers, sizeof *spk), *fconf = NULL; /* fconf: per fold */
  char **fnames = NULL;
  uint32_t nrun = 0;
  int rc = -1, ok = pred && folds && spk && ser_confusion_init(&total, s->n_labels) == 0;
  for (uint32_t g = 0; ok && g < s->n_speakers; g++) ok = ser_confusion_init(&spk[g], s->n_labels) == 0;
  if (!ok) {
    fprintf(stderr, "ser eval: out of memory\n");
    goto out;
  }
  for (size_t i = 0; i < s->n; i++) {
    const ps_clip *c = &s->clips[i];
    pred[i] = argmax_d(c->sum, s->n_labels);
    ser_confusion_add(&total, c->label, pred[i]);
    ser_confusion_add(&spk[c->speaker], c->label, pred[i]);
    folds[i] = c->fold;
  }
  qsort(folds, s->n, sizeof *folds, cmp_u32);
  size_t nfold = 0;
  for (size_t i = 0; i < s->n; i++)
    if (!i || folds[i] != folds[i - 1]) folds[nfold++] = folds[i];
  fprintf(stdout, "ser eval: %zu clips of %u speakers, %u labels, from %d prediction file%s; every clip's scores are "
                  "the mean over a weight of %g (a file given as FILE@N counts N times)\n",
          s->n, s->n_speakers, s->n_labels, nfiles, nfiles > 1 ? "s" : "", s->clips[0].weight);
  const uint32_t last = folds[nfold - 1];
  nrun = nfold == 1 && folds[0] == 0 ? 0 : (uint32_t)nfold; /* fold 0: a --model run, no folds */
  fconf = calloc(nfold, sizeof *fconf);
  fnames = calloc(nfold, sizeof *fnames);
  unsigned char *seen = calloc(s->n_speakers, 1);
  ok = fconf && fnames && seen;
  for (uint32_t q = 0; ok && q < nrun; q++) ok = ser_confusion_init(&fconf[q], s->n_labels) == 0;
  if (!ok) {
    if (!fconf || !fnames) nrun = 0; /* else all nrun are freed at out (a zeroed one too) */
    free(seen);
    fprintf(stderr, "ser eval: out of memory\n");
    goto out;
  }
  for (uint32_t q = 0; q < nrun; q++) {
    char name[128] = "";
    memset(seen, 0, s->n_speakers);
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++) {
      const ps_clip *c = &s->clips[i];
      if (c->fold != folds[q]) continue;
      ser_confusion_add(&fconf[q], c->label, pred[i]);
      n++;
      if (!seen[c->speaker] && strlen(name) + strlen(s->speakers[c->speaker]) + 2 < sizeof name) {
        if (name[0]) strcat(name, ",");
        strcat(name, s->speakers[c->speaker]);
        seen[c->speaker] = 1;
      }
    }
    fnames[q] = strdup(name);
    ser_scores sc;
    ser_confusion_scores(&fconf[q], &sc);
    fprintf(stdout, "fold %u/%u %-24s n=%-4zu WA %5.1f%%  UA %5.1f%%  F1 %5.1f%%\n", folds[q], last, name, n,
            100 * sc.wa, 100 * sc.ua, 100 * sc.macro_f1);
  }
  free(seen);
  cli_folds_mean(fconf, nrun);
  ser_report_text(stdout, &total, lab);
  char title[512];
  snprintf(title, sizeof title, "%s%s", files[0], nfiles > 1 ? " and more prediction files" : "");
  if (cli_eval_report_tail(&total, (const char *const *)s->speakers, spk, s->n_speakers,
                           (const char *const *)fnames, fconf, nrun, lab, seed, json, svg, title) < 0)
    goto out;
  if (preds) {
    FILE *f = fopen(preds, "w");
    if (!f) {
      fprintf(stderr, "ser eval: %s: cannot write: %s\n", preds, strerror(errno));
      goto out;
    }
    fputs("fold,path,copy,speaker,label,predicted", f);
    for (uint32_t k = 0; k < s->n_labels; k++) fputc(',', f), cli_csv_str(f, lab[k]);
    fputc('\n', f);
    for (size_t i = 0; i < s->n; i++) {
      const ps_clip *c = &s->clips[i];
      fprintf(f, "%u,", c->fold);
      cli_csv_str(f, c->path);
      fprintf(f, ",%u,", c->copy);
      cli_csv_str(f, s->speakers[c->speaker]);
      fputc(',', f), cli_csv_str(f, lab[c->label]);
      fputc(',', f), cli_csv_str(f, lab[pred[i]]);
      for (uint32_t k = 0; k < s->n_labels; k++) fprintf(f, ",%.6f", c->sum[k] / c->weight);
      fputc('\n', f);
    }
    int werr = ferror(f);
    if (fclose(f) != 0 || werr) {
      fprintf(stderr, "ser eval: %s: write error\n", preds);
      goto out;
    }
  }
  rc = 0;
out:
  for (uint32_t q = 0; q < nrun; q++) ser_confusion_free(&fconf[q]), free(fnames[q]);
  free(fconf), free(fnames);
  if (spk)
    for (uint32_t g = 0; g < s->n_speakers; g++) ser_confusion_free(&spk[g]);
  free(spk);
  ser_confusion_free(&total);
  free(pred), free(folds);
  return rc;
}

static int from_predictions(int n_args, char **args, const char *json, const char *svg, const char *preds,
                            uint64_t seed) {
  ps_set s;
  memset(&s, 0, sizeof s);
  char **files = calloc((size_t)n_args + 1, sizeof *files);
  double *w = calloc((size_t)n_args + 1, sizeof *w);
  int rc = EXIT_BADINPUT;
  if (!files || !w) {
    fprintf(stderr, "ser eval: out of memory\n");
    goto out;
  }
  for (int i = 0; i < n_args; i++)
    if (!(files[i] = split_weight(args[i], &w[i]))) {
      fprintf(stderr, "ser eval: %s: the weight after @ must be 1 to 1000 (networks of a --members run)\n", args[i]);
      rc = EXIT_USAGE;
      goto out;
    }
  size_t i0 = 0, i1 = 0;
  int rep = ser_files_repeated((const char *const *)files, (size_t)n_args, &i0, &i1);
  if (rep != 0) {
    if (rep > 0)
      fprintf(stderr, "ser eval: %s and %s are one file: give it once, as FILE@N to count it N times\n",
              args[i0], args[i1]);
    else fprintf(stderr, "ser eval: out of memory\n");
    goto out;
  }
  { /* the outputs, before reading: none of them an input, all writable, all different */
    const char *opt[3] = {"--predictions", "--json", "--svg"}, *path[3] = {preds, json, svg};
    for (int k = 0; k < 3; k++) {
      if (cli_output_ok("eval", opt[k], path[k], (const char *const *)files, n_args) < 0) goto out;
      for (int j = 0; j < k; j++)
        if (path[k] && path[j] && !strcmp(path[k], path[j])) {
          fprintf(stderr, "ser eval: %s and %s are the same file (%s)\n", opt[j], opt[k], path[k]);
          goto out;
        }
    }
  }
  for (int i = 0; i < n_args; i++)
    if (read_file(&s, i, (const char *const *)files, w[i]) < 0) goto out;
  for (size_t i = 1; i < s.n; i++) /* every clip as often as every other */
    if (fabs(s.clips[i].weight - s.clips[0].weight) > 1e-9) {
      const ps_clip *a = &s.clips[0], *b = &s.clips[i];
      fprintf(stderr, "ser eval: %s (first in %s) has a weight of %g in the files, %s (first in %s) %g: the files "
                      "do not all cover the same clips (a fold missing from one of the runs?)\n",
              a->path, files[a->file], a->weight, b->path, files[b->file], b->weight);
      goto out;
    }
  if (sort_speakers(&s) < 0) {
    fprintf(stderr, "ser eval: out of memory\n");
    goto out;
  }
  if (report(&s, n_args, (const char *const *)files, json, svg, preds, seed) < 0) goto out;
  rc = EXIT_OK;
  if (fflush(stdout) != 0 || ferror(stdout)) {
    fprintf(stderr, "ser eval: stdout: write error\n");
    rc = EXIT_BADINPUT;
  }
out:
  for (int i = 0; files && i < n_args; i++) free(files[i]);
  free(files);
  free(w);
  set_free(&s);
  return rc;
}

/* ser eval --from-predictions [--json F] [--svg F] [--predictions F] [--seed N] FILE[@N]... */
int cmd_eval_predictions(int argc, char **argv) {
  const char *json = NULL, *svg = NULL, *preds = NULL;
  uint64_t seed = 1;
  char **files = calloc((size_t)argc + 1, sizeof *files);
  int n = 0;
  if (!files) {
    fprintf(stderr, "ser eval: out of memory\n");
    return EXIT_BADINPUT;
  }
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const int val = i + 1 < argc;
    if (!strcmp(a, "--from-predictions")) continue;
    if (!strcmp(a, "--json") && val) json = argv[++i];
    else if (!strcmp(a, "--svg") && val) svg = argv[++i];
    else if (!strcmp(a, "--predictions") && val) preds = argv[++i];
    else if (!strcmp(a, "--seed") && val) {
      char *e;
      errno = 0;
      seed = strtoull(argv[++i], &e, 10);
      if (!*argv[i] || *e || errno || argv[i][0] == '-') {
        fprintf(stderr, "ser eval: --seed: '%s' is not a whole number\n", argv[i]);
        free(files);
        return EXIT_USAGE;
      }
    } else if (a[0] == '-' && a[1]) {
      fprintf(stderr, "ser eval: --from-predictions: %s %s (here only --json, --svg, --predictions and --seed: "
                      "the report is made from prediction files, nothing is trained or classified)\n", a,
              !strcmp(a, "--json") || !strcmp(a, "--svg") || !strcmp(a, "--predictions") || !strcmp(a, "--seed")
                  ? "needs a value" : "does not apply");
      free(files);
      return EXIT_USAGE;
    } else files[n++] = argv[i];
  }
  if (!n) {
    fprintf(stderr, "ser eval: --from-predictions: need at least one prediction file (see ser eval --help)\n");
    free(files);
    return EXIT_USAGE;
  }
  int rc = from_predictions(n, files, json, svg, preds, seed);
  free(files);
  return rc;
}
