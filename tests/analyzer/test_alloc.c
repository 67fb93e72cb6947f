/* No allocation on the audio path: after ser_analyzer_new(), push(),
 * push_silence(), finish(), reset() and set_config() to a window no longer
 * than before must not call malloc/calloc/realloc (counted by interposing
 * them). Real speech; the built-in (temporal) model, and a tiny model with
 * pitch features and a speaker normaliser (tests/fuzz/corpus). Skipped under ASan,
 * which owns malloc. */
#if defined(__SANITIZE_ADDRESS__)
#define SKIP_ALLOC 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SKIP_ALLOC 1
#endif
#endif

#include "common.h"

#ifndef SKIP_ALLOC
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
static volatile int counting;
static volatile long n_alloc;
void *malloc(size_t n) {
  if (counting) n_alloc++;
  return __libc_malloc(n);
}
void *calloc(size_t a, size_t b) {
  if (counting) n_alloc++;
  return __libc_calloc(a, b);
}
void *realloc(void *p, size_t n) {
  if (counting) n_alloc++;
  return __libc_realloc(p, n);
}
int posix_memalign(void **p, size_t al, size_t n) {
  if (counting) n_alloc++;
  *p = __libc_memalign(al, n);
  return *p ? 0 : 12;
}

static long windows;
static void count(void *user, const ser_result *r) {
  (void)user;
  (void)r;
  windows++;
}


/* shared: the model's networks have a prefix whose convolutions windows share */
static void run(ser_model *m, const char *name, const float *x, size_t n, int shared) {
  windows = 0;
  n_alloc = 0;
  ser_analyzer_config c;
  ser_analyzer_config_default(&c, m);
  c.window = 3 * 16000;
  c.interval = 8000;
  c.smoothing = 0.5;
  ser_error e;
  ser_analyzer *a = ser_analyzer_new(m, &c, &e);
  CHECK(a);
  counting = 1; /* from here on: the audio path, from the first sample */
  for (int pass = 0; pass < 2; pass++) {
    for (size_t i = 0; i < n; i += 1000) ser_analyzer_push(a, x + i, n - i < 1000 ? n - i : 1000, count, NULL);
    ser_analyzer_push_silence(a, 16000 * 2 + 17, count, NULL);
    ser_analyzer_push(a, x, 16000 * 2, count, NULL);
    ser_analyzer_finish(a, count, NULL);
  }
  c.window = 2 * 16000; /* shorter: fits the buffers, no allocation either */
  c.interval = 4000;
  CHECK(ser_analyzer_set_config(a, &c, &e) == 0);
  ser_analyzer_push(a, x, n, count, NULL);
  ser_analyzer_reset(a);
  ser_analyzer_reset_speaker(a);
  ser_analyzer_push(a, x, n / 2, count, NULL);
  counting = 0;
  ser_analyzer_stats st;
  ser_analyzer_get_stats(a, &st);
  printf("%s: %ld windows (%lu with shared convolutions), %ld allocations on the audio path\n", name, windows,
         (unsigned long)st.reused, n_alloc);
  CHECK(windows > 100 && (shared ? st.reused > 100 : st.reused == 0));
  CHECK(n_alloc == 0);
  ser_analyzer_free(a);
}
#endif

int main(void) {
#ifdef SKIP_ALLOC
  printf("skipped under AddressSanitizer\n");
  return 77;
#else
  size_t n;
  float *x = speech(12.0, &n);
  ser_model *m = default_model();
  run(m, "built-in model", x, n, 1);
  ser_model_unref(m);
  /* pitch features and a speaker normaliser (a tiny trained model) */
  char path[4096];
  ser_error e;
  snprintf(path, sizeof path, "%s/tests/fuzz/corpus/tiny_pitch.sermodel", getenv("SER_SOURCE_ROOT"));
  m = ser_model_load(path, &e);
  CHECK(m && ser_model_get_spec(m)->feat.pitch == 1 && ser_model_get_spec(m)->spk_mean);
  if (m) run(m, "tiny_pitch.sermodel", x, n, 1);
  ser_model_unref(m);
  /* an ensemble of 3 networks (the same input, scores averaged) */
  snprintf(path, sizeof path, "%s/tests/fuzz/corpus/tiny_ensemble.sermodel", getenv("SER_SOURCE_ROOT"));
  m = ser_model_load(path, &e);
  CHECK(m && ser_model_n_nets(m) == 3);
  if (m) run(m, "tiny_ensemble.sermodel", x, n, 1);
  ser_model_unref(m);
  /* a network whose first conv (stride 2, padding 3) leaves nothing to share */
  snprintf(path, sizeof path, "%s/tests/fuzz/corpus/tiny_spkn.sermodel", getenv("SER_SOURCE_ROOT"));
  m = ser_model_load(path, &e);
  CHECK(m);
  if (m) run(m, "tiny_spkn.sermodel", x, n, 0);
  ser_model_unref(m);
  free(x);
  return 0;
#endif
}
