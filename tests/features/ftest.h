/* Helpers for the feature tests: checks, npy and WAV loading, fixtures. */
#ifndef FTEST_H
#define FTEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ser.h"
#include "wav.h"

static int ft_failures;

#define CHECK(cond, ...)                                                  \
  do {                                                                    \
    if (!(cond)) {                                                        \
      ft_failures++;                                                      \
      fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond); \
      fprintf(stderr, __VA_ARGS__);                                       \
      fputc('\n', stderr);                                                \
    }                                                                     \
  } while (0)

static inline const char *ft_env(const char *name) {
  const char *v = getenv(name);
  if (!v || !*v) {
    fprintf(stderr, "environment variable %s is not set (run through meson test)\n", name);
    exit(1);
  }
  return v;
}

/* float32 little-endian C-order npy, 1-D or 2-D. Returns data (malloc'd). */
static inline float *ft_load_npy(const char *path, size_t *rows, size_t *cols) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "%s: cannot open\n", path);
    return NULL;
  }
  unsigned char pre[10];
  float *data = NULL;
  char hdr[1024];
  if (fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6) || pre[6] != 1) goto bad;
  size_t hl = (size_t)pre[8] | (size_t)pre[9] << 8;
  if (hl >= sizeof hdr || fread(hdr, 1, hl, f) != hl) goto bad;
  hdr[hl] = 0;
  if (!strstr(hdr, "'descr': '<f4'") || !strstr(hdr, "'fortran_order': False")) goto bad;
  const char *s = strstr(hdr, "'shape': (");
  if (!s) goto bad;
  s += 10;
  char *e;
  unsigned long a = strtoul(s, &e, 10), b = 1;
  while (*e == ' ') e++;
  if (*e == ',') {
    e++;
    while (*e == ' ') e++;
    if (*e != ')') b = strtoul(e, &e, 10);
  }
  *rows = a;
  *cols = b;
  data = malloc(sizeof(float) * (a * b > 0 ? a * b : 1));
  if (!data || fread(data, sizeof(float), a * b, f) != a * b) goto bad;
  fclose(f);
  return data;
bad:
  fprintf(stderr, "%s: not a float32 npy this test reads\n", path);
  free(data);
  fclose(f);
  return NULL;
}

/* a WAV file as mono float (the library's reader) */
static inline float *ft_load_wav(const char *path, size_t *n, uint32_t *rate) {
  ser_wav w;
  char err[512];
  if (ser_wav_open(&w, path, err, sizeof err) != 1) {
    fprintf(stderr, "%s: cannot read as WAV\n", path);
    return NULL;
  }
  float *x = malloc(sizeof(float) * (w.frames ? w.frames : 1));
  *n = ser_wav_read(&w, x, (size_t)w.frames);
  *rate = w.rate;
  ser_wav_close(&w);
  return x;
}

static inline float *ft_dataset_wav(const char *rel, size_t *n) {
  char path[2048];
  uint32_t rate;
  snprintf(path, sizeof path, "%s/%s", ft_env("SER_DATASETS"), rel);
  return ft_load_wav(path, n, &rate);
}

/* key=value from the fixture manifest into params; 0 if the key is known */
static inline int ft_set_param(ser_feature_params *p, const char *k, const char *v) {
  unsigned long u = strtoul(v, NULL, 10);
  float f = strtof(v, NULL);
  if (!strcmp(k, "sample_rate")) p->sample_rate = (uint32_t)u;
  else if (!strcmp(k, "win_length")) p->win_length = (uint32_t)u;
  else if (!strcmp(k, "hop_length")) p->hop_length = (uint32_t)u;
  else if (!strcmp(k, "n_fft")) p->n_fft = (uint32_t)u;
  else if (!strcmp(k, "window")) p->window = !strcmp(v, "hamming") ? SER_WIN_HAMMING : SER_WIN_HANN;
  else if (!strcmp(k, "n_mels")) p->n_mels = (uint32_t)u;
  else if (!strcmp(k, "fmin")) p->fmin = f;
  else if (!strcmp(k, "fmax")) p->fmax = f;
  else if (!strcmp(k, "mel_scale")) p->mel_scale = !strcmp(v, "slaney") ? SER_MEL_SLANEY : SER_MEL_HTK;
  else if (!strcmp(k, "mel_norm")) p->mel_norm = !strcmp(v, "slaney") ? SER_MELNORM_SLANEY : SER_MELNORM_NONE;
  else if (!strcmp(k, "log")) p->log = !strcmp(v, "ln") ? SER_LOG_LN : SER_LOG_DB;
  else if (!strcmp(k, "n_mfcc")) p->n_mfcc = (uint32_t)u;
  else if (!strcmp(k, "preemph")) p->preemph = f;
  else if (!strcmp(k, "deltas")) p->deltas = (uint32_t)u;
  else if (!strcmp(k, "delta_width")) p->delta_width = (uint32_t)u;
  else if (!strcmp(k, "center")) p->center = (uint32_t)u;
  else if (!strcmp(k, "top_db")) p->top_db = f;
  else if (!strcmp(k, "zcr_rms")) p->zcr_rms = (uint32_t)u;
  else if (!strcmp(k, "pitch")) p->pitch = (uint32_t)u;
  else return -1;
  return 0;
}

/* collects streamed frames */
typedef struct ft_frames {
  float *data;
  size_t n, cap, dim;
  float *energy;
} ft_frames;

static inline void ft_collect(void *user, const float *frame, float energy_db) {
  ft_frames *c = user;
  if (c->n == c->cap) {
    c->cap = c->cap ? c->cap * 2 : 256;
    c->data = realloc(c->data, sizeof(float) * c->cap * c->dim);
    c->energy = realloc(c->energy, sizeof(float) * c->cap);
    if (!c->data || !c->energy) abort();
  }
  memcpy(c->data + c->n * c->dim, frame, sizeof(float) * c->dim);
  c->energy[c->n] = energy_db;
  c->n++;
}

static inline void ft_frames_free(ft_frames *c) {
  free(c->data);
  free(c->energy);
  memset(c, 0, sizeof *c);
}

static inline int ft_finish(const char *name) {
  if (ft_failures) {
    fprintf(stderr, "%s: %d check(s) failed\n", name, ft_failures);
    return 1;
  }
  printf("%s: all checks passed\n", name);
  return 0;
}

#endif
