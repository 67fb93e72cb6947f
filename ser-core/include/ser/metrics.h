/* ser-core: classification metrics and reports. */
#ifndef SER_METRICS_H
#define SER_METRICS_H

#include <stdio.h>
#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ser_confusion {
  uint32_t n;        /* classes */
  uint64_t *m;       /* n x n, row = true, column = predicted */
} ser_confusion;

/* n in [1, 64] (ser_scores holds 64 classes); -1 otherwise or out of memory. */
int ser_confusion_init(ser_confusion *c, uint32_t n);
void ser_confusion_free(ser_confusion *c);
/* Out-of-range classes are ignored. */
void ser_confusion_add(ser_confusion *c, uint32_t truth, uint32_t pred);
/* Added: sums b into a (same n); -1 if the sizes differ. For pooling folds. */
int ser_confusion_merge(ser_confusion *a, const ser_confusion *b);

typedef struct ser_scores {
  double wa;          /* weighted accuracy: correct / total */
  double ua;          /* unweighted average recall (classes with examples) */
  double macro_f1;
  double recall[64];  /* per class */
  /* Added (after the original fields): */
  double precision[64];  /* per class; 0 if the class was never predicted */
  double f1[64];         /* per class; 0 if precision + recall is 0 */
  uint64_t support[64];  /* per class: examples whose truth is the class */
  uint64_t total;        /* examples */
  uint32_t n_present;    /* classes with examples (the UA denominator) */
} ser_scores;

/* WA = trace / total; UA = mean recall over classes with examples; macro F1 =
 * mean F1 over classes that occur in the truth or in the predictions (as
 * scikit-learn's f1_score(average='macro')). See docs/data-and-augmentation.md. */
void ser_confusion_scores(const ser_confusion *c, ser_scores *s);
/* labels may be NULL (classes are then named by their index). */
void ser_report_text(FILE *f, const ser_confusion *c, const char *const *labels);
void ser_report_json(FILE *f, const ser_confusion *c, const char *const *labels);
int ser_report_svg(const char *path, const ser_confusion *c,
                   const char *const *labels, const char *title, ser_error *err);
/* Added: how far the scores could move with other speakers. Whole groups (the
 * test speakers: one confusion matrix each, all of the same size) are drawn
 * with replacement, as many as there are groups with examples, and WA, UA and
 * macro F1 of every resample's summed matrix give percentile intervals. */
typedef struct ser_bootstrap {
  uint32_t groups;      /* groups with examples (those that were drawn) */
  uint32_t resamples;
  double level;         /* e.g. 0.95 */
  double wa_lo, wa_hi, ua_lo, ua_hi, f1_lo, f1_hi;
} ser_bootstrap;

/* resamples >= 1, level in (0, 1); deterministic for a seed. -1 if fewer than
 * 2 groups have examples, the sizes differ, or out of memory. */
int ser_confusion_bootstrap(const ser_confusion *groups, uint32_t n_groups, uint32_t resamples,
                            double level, uint64_t seed, ser_bootstrap *out);
/* Added: ser_report_json with a "bootstrap" object when b is not NULL. */
void ser_report_json_bootstrap(FILE *f, const ser_confusion *c, const char *const *labels,
                               const ser_bootstrap *b);
/* Added: ser_report_json_bootstrap, then (when given) "folds": the name, n,
 * WA, UA and macro F1 of every fold with examples, "folds_mean": the mean of
 * those folds' scores (with leave-one-speaker-out, the mean over speakers),
 * and "speakers": the same per speaker. Names may be NULL (parts are then
 * named by their index); each part is a confusion matrix of c's size. */
void ser_report_json_groups(FILE *f, const ser_confusion *c, const char *const *labels, const ser_bootstrap *b,
                            const char *const *fold_names, const ser_confusion *folds, uint32_t n_folds,
                            const char *const *speaker_names, const ser_confusion *speakers,
                            uint32_t n_speakers);
/* Added: the same SVG written to an open stream. */
void ser_report_svg_file(FILE *f, const ser_confusion *c, const char *const *labels,
                         const char *title);

#ifdef __cplusplus
}
#endif
#endif
