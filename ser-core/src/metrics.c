/* Classification metrics (confusion matrix, WA, UA, macro F1) and reports as
 * text, JSON and SVG. See docs/data-and-augmentation.md. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ser/metrics.h"

#define MAX_CLASSES 64

int ser_confusion_init(ser_confusion *c, uint32_t n) {
  c->n = 0;
  c->m = NULL;
  if (n == 0 || n > MAX_CLASSES) return -1;
  c->m = calloc((size_t)n * n, sizeof *c->m);
  if (!c->m) return -1;
  c->n = n;
  return 0;
}

void ser_confusion_free(ser_confusion *c) {
  if (!c) return;
  free(c->m);
  c->m = NULL;
  c->n = 0;
}

void ser_confusion_add(ser_confusion *c, uint32_t truth, uint32_t pred) {
  if (!c || !c->m || truth >= c->n || pred >= c->n) return;
  c->m[(size_t)truth * c->n + pred]++;
}

int ser_confusion_merge(ser_confusion *a, const ser_confusion *b) {
  if (!a || !b || a->n != b->n || !a->m || !b->m) return -1;
  for (size_t i = 0; i < (size_t)a->n * a->n; i++) a->m[i] += b->m[i];
  return 0;
}

void ser_confusion_scores(const ser_confusion *c, ser_scores *s) {
  memset(s, 0, sizeof *s);
  if (!c || !c->m) return;
  uint32_t n = c->n;
  uint64_t correct = 0, total = 0;
  double ua = 0, f1sum = 0;
  uint32_t n_f1 = 0;
  for (uint32_t i = 0; i < n; i++) {
    uint64_t row = 0, col = 0, tp = c->m[(size_t)i * n + i];
    for (uint32_t j = 0; j < n; j++) {
      row += c->m[(size_t)i * n + j];
      col += c->m[(size_t)j * n + i];
    }
    correct += tp;
    total += row;
    s->support[i] = row;
    s->recall[i] = row ? (double)tp / (double)row : 0.0;
    s->precision[i] = col ? (double)tp / (double)col : 0.0;
    double pr = s->precision[i] + s->recall[i];
    s->f1[i] = pr > 0 ? 2.0 * s->precision[i] * s->recall[i] / pr : 0.0;
    if (row) {
      ua += s->recall[i];
      s->n_present++;
    }
    if (row || col) {
      f1sum += s->f1[i];
      n_f1++;
    }
  }
  s->total = total;
  s->wa = total ? (double)correct / (double)total : 0.0;
  s->ua = s->n_present ? ua / s->n_present : 0.0;
  s->macro_f1 = n_f1 ? f1sum / n_f1 : 0.0;
}

/* ---- speaker bootstrap ---- */

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* the percentile interval of v[0..n) (sorted here) */
static void interval(double *v, uint32_t n, double level, double *lo, double *hi) {
  qsort(v, n, sizeof *v, cmp_double);
  double a = (1.0 - level) / 2.0 * (n - 1), b = (1.0 + level) / 2.0 * (n - 1);
  *lo = v[(size_t)a];
  size_t bi = (size_t)b;
  if ((double)bi < b && bi + 1 < n) bi++;
  *hi = v[bi];
}

int ser_confusion_bootstrap(const ser_confusion *groups, uint32_t n_groups, uint32_t resamples,
                            double level, uint64_t seed, ser_bootstrap *out) {
  memset(out, 0, sizeof *out);
  if (!groups || n_groups == 0 || resamples == 0 || !(level > 0 && level < 1)) return -1;
  const uint32_t n = groups[0].n;
  const ser_confusion **use = malloc(n_groups * sizeof *use); /* the groups with examples */
  double *v = NULL;
  ser_confusion sum = {0, NULL};
  uint32_t ng = 0;
  int rc = -1;
  if (!use) return -1;
  for (uint32_t g = 0; g < n_groups; g++) {
    if (groups[g].n != n || !groups[g].m) goto out;
    for (size_t i = 0; i < (size_t)n * n; i++)
      if (groups[g].m[i]) {
        use[ng++] = &groups[g];
        break;
      }
  }
  if (ng < 2 || !(v = malloc(3 * (size_t)resamples * sizeof *v)) || ser_confusion_init(&sum, n) < 0) goto out;
  ser_rng r;
  ser_rng_seed(&r, seed);
  double *wa = v, *ua = v + resamples, *f1 = v + 2 * (size_t)resamples;
  for (uint32_t k = 0; k < resamples; k++) {
    memset(sum.m, 0, (size_t)n * n * sizeof *sum.m);
    for (uint32_t j = 0; j < ng; j++) ser_confusion_merge(&sum, use[ser_rng_below(&r, ng)]);
    ser_scores s;
    ser_confusion_scores(&sum, &s);
    wa[k] = s.wa, ua[k] = s.ua, f1[k] = s.macro_f1;
  }
  out->groups = ng;
  out->resamples = resamples;
  out->level = level;
  interval(wa, resamples, level, &out->wa_lo, &out->wa_hi);
  interval(ua, resamples, level, &out->ua_lo, &out->ua_hi);
  interval(f1, resamples, level, &out->f1_lo, &out->f1_hi);
  rc = 0;
out:
  ser_confusion_free(&sum);
  free(use), free(v);
  return rc;
}

/* ---- names ---- */

static const char *label_of(const char *const *labels, uint32_t i, char *buf, size_t n) {
  if (labels && labels[i]) return labels[i];
  snprintf(buf, n, "%u", i);
  return buf;
}

/* ---- text ---- */

void ser_report_text(FILE *f, const ser_confusion *c, const char *const *labels) {
  if (!f || !c || !c->m) return;
  ser_scores s;
  ser_confusion_scores(c, &s);
  uint32_t n = c->n;
  char buf[16];
  int lw = 9; /* "true\pred" */
  int cw = 5;
  uint64_t mx = 0;
  for (uint32_t i = 0; i < n; i++) {
    int l = (int)strlen(label_of(labels, i, buf, sizeof buf));
    if (l > lw) lw = l;
    if (l > cw) cw = l;
    for (uint32_t j = 0; j < n; j++)
      if (c->m[(size_t)i * n + j] > mx) mx = c->m[(size_t)i * n + j];
  }
  int dw = snprintf(buf, sizeof buf, "%llu", (unsigned long long)mx);
  if (dw > cw) cw = dw;
  if (lw > 40) lw = 40;
  if (cw > 24) cw = 24;

  fprintf(f, "%-*s  %9s  %9s  %9s  %7s\n", lw, "label", "recall", "precision", "f1", "support");
  for (uint32_t i = 0; i < n; i++)
    fprintf(f, "%-*.*s  %9.3f  %9.3f  %9.3f  %7llu\n", lw, lw, label_of(labels, i, buf, sizeof buf),
            s.recall[i], s.precision[i], s.f1[i], (unsigned long long)s.support[i]);
  fprintf(f, "\nconfusion matrix (rows: true, columns: predicted)\n");
  fprintf(f, "%-*s", lw, "true\\pred");
  for (uint32_t j = 0; j < n; j++) fprintf(f, "  %*.*s", cw, cw, label_of(labels, j, buf, sizeof buf));
  fputc('\n', f);
  for (uint32_t i = 0; i < n; i++) {
    fprintf(f, "%-*.*s", lw, lw, label_of(labels, i, buf, sizeof buf));
    for (uint32_t j = 0; j < n; j++) fprintf(f, "  %*llu", cw, (unsigned long long)c->m[(size_t)i * n + j]);
    fputc('\n', f);
  }
  fprintf(f, "\nWA %.4f  UA %.4f  macro-F1 %.4f  (%llu examples, %u classes, %u with examples)\n", s.wa,
          s.ua, s.macro_f1, (unsigned long long)s.total, n, s.n_present);
}

/* ---- JSON ---- */

static void json_string(FILE *f, const char *s) {
  fputc('"', f);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    switch (*p) {
      case '"': fputs("\\\"", f); break;
      case '\\': fputs("\\\\", f); break;
      case '\n': fputs("\\n", f); break;
      case '\r': fputs("\\r", f); break;
      case '\t': fputs("\\t", f); break;
      default:
        if (*p < 0x20) fprintf(f, "\\u%04x", *p);
        else fputc(*p, f);
    }
  }
  fputc('"', f);
}

void ser_report_json(FILE *f, const ser_confusion *c, const char *const *labels) {
  ser_report_json_bootstrap(f, c, labels, NULL);
}

void ser_report_json_bootstrap(FILE *f, const ser_confusion *c, const char *const *labels,
                               const ser_bootstrap *b) {
  ser_report_json_groups(f, c, labels, b, NULL, NULL, 0, NULL, NULL, 0);
}

/* "key":[{"name":..,"n":..,"wa":..,"ua":..,"macro_f1":..},...] over the parts
 * with examples, then for folds "key_mean":{...} of those parts' scores */
static void json_parts(FILE *f, const char *key, const char *const *names, const ser_confusion *parts, uint32_t n,
                       int mean) {
  double sum[3] = {0, 0, 0};
  uint32_t k = 0;
  fprintf(f, ",\"%s\":[", key);
  for (uint32_t i = 0; i < n; i++) {
    ser_scores s;
    ser_confusion_scores(&parts[i], &s);
    if (!s.total) continue;
    fputs(k++ ? ",{\"name\":" : "{\"name\":", f);
    char buf[16];
    json_string(f, names && names[i] ? names[i] : label_of(NULL, i, buf, sizeof buf));
    fprintf(f, ",\"n\":%llu,\"wa\":%.6f,\"ua\":%.6f,\"macro_f1\":%.6f}", (unsigned long long)s.total, s.wa,
            s.ua, s.macro_f1);
    sum[0] += s.wa, sum[1] += s.ua, sum[2] += s.macro_f1;
  }
  fputc(']', f);
  if (mean && k)
    fprintf(f, ",\"%s_mean\":{\"n\":%u,\"wa\":%.6f,\"ua\":%.6f,\"macro_f1\":%.6f}", key, k, sum[0] / k,
            sum[1] / k, sum[2] / k);
}

void ser_report_json_groups(FILE *f, const ser_confusion *c, const char *const *labels, const ser_bootstrap *b,
                            const char *const *fold_names, const ser_confusion *folds, uint32_t n_folds,
                            const char *const *speaker_names, const ser_confusion *speakers,
                            uint32_t n_speakers) {
  if (!f || !c || !c->m) return;
  ser_scores s;
  ser_confusion_scores(c, &s);
  uint32_t n = c->n;
  char buf[16];
  fputs("{\"labels\":[", f);
  for (uint32_t i = 0; i < n; i++) {
    if (i) fputc(',', f);
    json_string(f, label_of(labels, i, buf, sizeof buf));
  }
  fputs("],\"confusion\":[", f);
  for (uint32_t i = 0; i < n; i++) {
    fputs(i ? ",[" : "[", f);
    for (uint32_t j = 0; j < n; j++)
      fprintf(f, j ? ",%llu" : "%llu", (unsigned long long)c->m[(size_t)i * n + j]);
    fputc(']', f);
  }
  fprintf(f, "],\"n\":%llu,\"wa\":%.6f,\"ua\":%.6f,\"macro_f1\":%.6f,\"per_class\":{",
          (unsigned long long)s.total, s.wa, s.ua, s.macro_f1);
  for (uint32_t i = 0; i < n; i++) {
    if (i) fputc(',', f);
    json_string(f, label_of(labels, i, buf, sizeof buf));
    fprintf(f, ":{\"recall\":%.6f,\"precision\":%.6f,\"f1\":%.6f,\"support\":%llu}", s.recall[i],
            s.precision[i], s.f1[i], (unsigned long long)s.support[i]);
  }
  fputc('}', f);
  if (b && b->resamples)
    fprintf(f, ",\"bootstrap\":{\"groups\":%u,\"resamples\":%u,\"level\":%.4f,\"wa\":[%.6f,%.6f],"
               "\"ua\":[%.6f,%.6f],\"macro_f1\":[%.6f,%.6f]}",
            b->groups, b->resamples, b->level, b->wa_lo, b->wa_hi, b->ua_lo, b->ua_hi, b->f1_lo, b->f1_hi);
  if (folds && n_folds) json_parts(f, "folds", fold_names, folds, n_folds, 1);
  if (speakers && n_speakers) json_parts(f, "speakers", speaker_names, speakers, n_speakers, 0);
  fputs("}\n", f);
}

/* ---- SVG ---- */

static void xml_text(FILE *f, const char *s) {
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    switch (*p) {
      case '&': fputs("&amp;", f); break;
      case '<': fputs("&lt;", f); break;
      case '>': fputs("&gt;", f); break;
      case '"': fputs("&quot;", f); break;
      case '\'': fputs("&apos;", f); break;
      default:
        if (*p < 0x20) fputc(' ', f); /* control characters are not allowed in XML 1.0 */
        else fputc(*p, f);
    }
  }
}

void ser_report_svg_file(FILE *f, const ser_confusion *c, const char *const *labels, const char *title) {
  if (!f || !c || !c->m) return;
  ser_scores s;
  ser_confusion_scores(c, &s);
  uint32_t n = c->n;
  char buf[16];
  size_t maxl = 4;
  for (uint32_t i = 0; i < n; i++) {
    size_t l = strlen(label_of(labels, i, buf, sizeof buf));
    if (l > maxl) maxl = l;
  }
  if (maxl > 40) maxl = 40;
  const int cell = 64;
  const double chw = 7.5; /* average character width at 13 px */
  int left = 40 + (int)(maxl * chw) + 10;          /* "true" axis title + row labels */
  int top = 44 + 22 + (int)(maxl * chw * 0.72) + 10; /* title, "predicted", rotated column labels */
  int grid = cell * (int)n;
  int width = left + grid + 30;
  int height = top + grid + 56;
  if (width < 360) width = 360;

  fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
  fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
             "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n", width, height, width, height);
  fprintf(f, "<title>");
  xml_text(f, title && *title ? title : "Confusion matrix");
  fprintf(f, "</title>\n<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n", width, height);
  fprintf(f, "<text x=\"%d\" y=\"28\" font-size=\"17\" font-weight=\"bold\" text-anchor=\"middle\">", width / 2);
  xml_text(f, title && *title ? title : "Confusion matrix");
  fprintf(f, "</text>\n");
  fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"13\" text-anchor=\"middle\" fill=\"#444444\">predicted</text>\n",
          left + grid / 2, 58);
  fprintf(f, "<text x=\"16\" y=\"%d\" font-size=\"13\" text-anchor=\"middle\" fill=\"#444444\" "
             "transform=\"rotate(-90 16 %d)\">true</text>\n", top + grid / 2, top + grid / 2);
  /* column labels, rotated */
  for (uint32_t j = 0; j < n; j++) {
    int x = left + (int)j * cell + cell / 2, y = top - 8;
    fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"13\" transform=\"rotate(-45 %d %d)\">", x, y, x, y);
    xml_text(f, label_of(labels, j, buf, sizeof buf));
    fprintf(f, "</text>\n");
  }
  /* rows */
  for (uint32_t i = 0; i < n; i++) {
    uint64_t row = s.support[i];
    int y = top + (int)i * cell;
    fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"13\" text-anchor=\"end\">", left - 8, y + cell / 2 + 5);
    xml_text(f, label_of(labels, i, buf, sizeof buf));
    fprintf(f, "</text>\n");
    for (uint32_t j = 0; j < n; j++) {
      uint64_t v = c->m[(size_t)i * n + j];
      double r = row ? (double)v / (double)row : 0.0;
      /* white -> dark blue */
      int R = (int)(247 + (8 - 247) * r + 0.5), G = (int)(251 + (48 - 251) * r + 0.5),
          B = (int)(255 + (107 - 255) * r + 0.5);
      int x = left + (int)j * cell;
      fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"#%02x%02x%02x\" stroke=\"#cccccc\" "
                 "stroke-width=\"1\"/>\n", x, y, cell, cell, R, G, B);
      const char *tc = r > 0.5 ? "#ffffff" : "#111111";
      fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"15\" font-weight=\"bold\" text-anchor=\"middle\" fill=\"%s\">%llu</text>\n",
              x + cell / 2, y + cell / 2 + 1, tc, (unsigned long long)v);
      fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\" fill=\"%s\">%.0f%%</text>\n",
              x + cell / 2, y + cell / 2 + 17, tc, 100.0 * r);
    }
  }
  /* the diagonal (correct predictions) outlined, on top of the cells */
  for (uint32_t i = 0; i < n; i++)
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#222222\" "
               "stroke-width=\"2\"/>\n", left + (int)i * cell, top + (int)i * cell, cell, cell);
  fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"13\" text-anchor=\"middle\">WA %.1f %%   UA %.1f %%   "
             "macro-F1 %.3f   n = %llu</text>\n",
          width / 2, top + grid + 34, 100.0 * s.wa, 100.0 * s.ua, s.macro_f1, (unsigned long long)s.total);
  fprintf(f, "</svg>\n");
}

int ser_report_svg(const char *path, const ser_confusion *c, const char *const *labels, const char *title,
                   ser_error *err) {
  if (!path || !*path) return ser_fail(err, "svg: empty file name");
  if (!c || !c->m) return ser_fail(err, "%s: empty confusion matrix", path);
  FILE *f = fopen(path, "w");
  if (!f) return ser_fail(err, "%s: %s", path, strerror(errno));
  ser_report_svg_file(f, c, labels, title);
  int bad = ferror(f);
  if (fclose(f) != 0 || bad) return ser_fail(err, "%s: write error", path);
  return 0;
}
