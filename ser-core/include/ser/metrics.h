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

int ser_confusion_init(ser_confusion *c, uint32_t n);
void ser_confusion_free(ser_confusion *c);
void ser_confusion_add(ser_confusion *c, uint32_t truth, uint32_t pred);

typedef struct ser_scores {
  double wa;          /* weighted accuracy: correct / total */
  double ua;          /* unweighted average recall (classes with examples) */
  double macro_f1;
  double recall[64];  /* per class */
} ser_scores;

void ser_confusion_scores(const ser_confusion *c, ser_scores *s);
void ser_report_text(FILE *f, const ser_confusion *c, const char *const *labels);
void ser_report_json(FILE *f, const ser_confusion *c, const char *const *labels);
int ser_report_svg(const char *path, const ser_confusion *c,
                   const char *const *labels, const char *title, ser_error *err);

#ifdef __cplusplus
}
#endif
#endif
