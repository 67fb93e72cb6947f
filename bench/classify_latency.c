/* Latency of the streaming analyzer: audio pushed in 10 ms blocks (as a
 * GStreamer source delivers it); for each window, the time from the start of
 * the push() that carries the window's last sample to its result callback
 * (the MFCC of that block, the shared convolutions, the window's own layers).
 * Prints: windows median_ms p95_ms max_ms mean_ms (one core, single-threaded).
 * Usage: classify_latency MODEL.sermodel SPEECH.wav [WINDOW_S [INTERVAL_S]] */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ser.h"
#include "wav.h"

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}

static double t_push, *lat;
static size_t n_lat, cap_lat;

static void on_result(void *user, const ser_result *r) {
  (void)user;
  (void)r;
  if (n_lat < cap_lat) lat[n_lat++] = (now() - t_push) * 1e3;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s MODEL SPEECH.wav [WINDOW_S [INTERVAL_S]]\n", argv[0]);
    return 1;
  }
  ser_error e;
  ser_model *m = ser_model_load(argv[1], &e);
  if (!m) {
    fprintf(stderr, "%s\n", e.msg);
    return 1;
  }
  char err[512];
  ser_wav w;
  if (ser_wav_open(&w, argv[2], err, sizeof err) != 1) {
    fprintf(stderr, "%s: %s\n", argv[2], err);
    return 1;
  }
  float *x = malloc(w.frames * sizeof *x);
  size_t n = ser_wav_read(&w, x, w.frames);
  ser_wav_close(&w);
  ser_analyzer_config c;
  ser_analyzer_config_default(&c, m);
  c.window = (uint64_t)llround((argc > 3 ? atof(argv[3]) : 3.0) * w.rate);
  c.interval = (uint64_t)llround((argc > 4 ? atof(argv[4]) : 0.5) * w.rate);
  ser_analyzer *a = ser_analyzer_new(m, &c, &e);
  if (!a) {
    fprintf(stderr, "%s\n", e.msg);
    return 1;
  }
  cap_lat = n / c.interval + 16;
  lat = malloc(cap_lat * sizeof *lat);
  size_t block = w.rate / 100;
  double t0 = now();
  for (size_t i = 0; i < n; i += block) {
    t_push = now();
    ser_analyzer_push(a, x + i, n - i < block ? n - i : block, on_result, NULL);
  }
  double total = now() - t0;
  qsort(lat, n_lat, sizeof *lat, cmp);
  double mean = 0;
  for (size_t i = 0; i < n_lat; i++) mean += lat[i];
  printf("%zu %.4f %.4f %.4f %.4f %.4f\n", n_lat, lat[n_lat / 2], lat[(size_t)(0.95 * (n_lat - 1))],
         lat[n_lat - 1], mean / n_lat, total);
  ser_analyzer_free(a);
  ser_model_unref(m);
  free(lat);
  free(x);
  return 0;
}
