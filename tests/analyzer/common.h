/* Shared helpers for the analyzer tests: real speech from SER_DATASETS. */
#ifndef TEST_ANALYZER_COMMON_H
#define TEST_ANALYZER_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ser.h"
#include "wav.h"

#define CHECK(c)                                                              \
  do {                                                                        \
    if (!(c)) {                                                               \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c);   \
      exit(1);                                                                \
    }                                                                         \
  } while (0)

/* Appends a 16 kHz EMO-DB clip to *x (grown with realloc). */
static inline void append_clip(const char *name, float **x, size_t *n) {
  const char *ds = getenv("SER_DATASETS");
  char path[4096], err[512];
  snprintf(path, sizeof path, "%s/emodb/%s", ds ? ds : "../shared/datasets", name);
  ser_wav w;
  if (ser_wav_open(&w, path, err, sizeof err) != 1) {
    fprintf(stderr, "cannot read %s: %s\n", path, err);
    exit(1);
  }
  CHECK(w.rate == 16000);
  *x = realloc(*x, (*n + w.frames + 1) * sizeof **x);
  CHECK(*x);
  size_t k = ser_wav_read(&w, *x + *n, w.frames);
  *n += k;
  ser_wav_close(&w);
}

/* About `seconds` of real speech: EMO-DB speaker 03 and 08 clips, concatenated. */
static inline float *speech(double seconds, size_t *n) {
  static const char *clips[] = {"wav/03a01Fa.wav", "wav/03a01Nc.wav", "wav/03a01Wa.wav",
                                "wav/03a02Fc.wav", "wav/08a01Ab.wav", "wav/08a01Lc.wav",
                                "wav/03a02Wb.wav", "wav/08a02Ab.wav", "wav/03a04Ta.wav",
                                "wav/08a04Wc.wav", "wav/03a05Aa.wav", "wav/08a05Wa.wav"};
  float *x = NULL;
  *n = 0;
  for (size_t i = 0; *n < seconds * 16000; i = (i + 1) % (sizeof clips / sizeof *clips))
    append_clip(clips[i], &x, n);
  if (*n > seconds * 16000) *n = (size_t)(seconds * 16000);
  return x;
}

static inline ser_model *default_model(void) {
  ser_error e;
  ser_model *m = ser_model_default(&e);
  if (!m) {
    fprintf(stderr, "default model: %s\n", e.msg);
    exit(1);
  }
  return m;
}

/* Results collected from the callback. */
typedef struct {
  size_t n, cap;
  uint32_t nl;
  ser_result *r;
  float *scores; /* n x nl */
} results;

static inline void collect(void *user, const ser_result *r) {
  results *c = user;
  if (c->n == c->cap) {
    c->cap = c->cap ? 2 * c->cap : 64;
    c->r = realloc(c->r, c->cap * sizeof *c->r);
    c->scores = realloc(c->scores, c->cap * c->nl * sizeof(float));
    CHECK(c->r && c->scores);
    for (size_t i = 0; i < c->n; i++) c->r[i].scores = c->scores + i * c->nl;
  }
  c->r[c->n] = *r;
  memcpy(c->scores + c->n * c->nl, r->scores, c->nl * sizeof(float));
  c->r[c->n].scores = c->scores + c->n * c->nl;
  c->n++;
}

static inline void results_free(results *c) {
  free(c->r);
  free(c->scores);
  memset(c, 0, sizeof *c);
}

#endif
