/* ser_net_forward() allocates nothing: this test replaces malloc & co. with
 * counting versions (glibc's __libc_* underneath) and runs forward passes
 * of every fixture model, checking that the count does not move. Under
 * AddressSanitizer (which owns malloc) it is skipped (exit 77). */
#if defined(__SANITIZE_ADDRESS__)
#define SKIP_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SKIP_ASAN 1
#endif
#endif

#include <errno.h>
#include <stddef.h>

#include "net_test.h"
#include "ser.h"

#ifndef SKIP_ASAN
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

static __thread long n_alloc; /* allocations made by this thread */

void *malloc(size_t n) {
  n_alloc++;
  return __libc_malloc(n);
}
void *calloc(size_t a, size_t b) {
  n_alloc++;
  return __libc_calloc(a, b);
}
void *realloc(void *p, size_t n) {
  n_alloc++;
  return __libc_realloc(p, n);
}
void free(void *p) { __libc_free(p); }
int posix_memalign(void **out, size_t align, size_t n) {
  n_alloc++;
  void *p = __libc_memalign(align, n);
  if (!p) return ENOMEM;
  *out = p;
  return 0;
}
void *aligned_alloc(size_t align, size_t n) {
  n_alloc++;
  return __libc_memalign(align, n);
}
void *memalign(size_t align, size_t n) {
  n_alloc++;
  return __libc_memalign(align, n);
}

static void run(const char *name, uint32_t T) {
  char path[4400];
  if (strchr(name, '/')) /* a path from the source root */
    snprintf(path, sizeof path, "%s/%s.sermodel", getenv("SER_SOURCE_ROOT") ? getenv("SER_SOURCE_ROOT") : ".", name);
  else
    snprintf(path, sizeof path, "%s/%s.sermodel", fixture_dir(), name);
  ser_error e;
  long before = n_alloc;
  ser_model *m = ser_model_load(path, &e);
  CHECK(m != NULL, "%s", e.msg);
  if (!m) return;
  CHECK(n_alloc > before, "the counting malloc is not in use");
  const ser_model_spec *s = ser_model_get_spec(m);
  ser_net *n = ser_net_new(m, T, &e);
  CHECK(n != NULL, "%s", e.msg);
  float *x = calloc((size_t)T * s->in_ch, sizeof *x), p[64];
  for (size_t i = 0; i < (size_t)T * s->in_ch; i++) x[i] = (float)((i * 7919) % 13) - 6.0f;
  /* the first call may let OpenBLAS set itself up; count every call anyway */
  for (int r = 0; r < 3; r++) {
    before = n_alloc;
    int ok = ser_net_forward(n, x, T, p, &e) == 0;
    CHECK(ok, "%s: %s", name, e.msg);
    CHECK(n_alloc == before, "%s T=%u: forward pass %d made %ld allocations", name, T, r, n_alloc - before);
    if (s->arch == SER_ARCH_TEMPORAL && T > ser_model_min_frames(m)) {
      before = n_alloc;
      ok = ser_net_forward(n, x, ser_model_min_frames(m), p, &e) == 0;
      CHECK(ok && n_alloc == before, "%s: short forward made %ld allocations", name, n_alloc - before);
    }
  }
  free(x);
  ser_net_free(n);
  ser_model_unref(m);
}

int main(void) {
  run("temporal", 300);
  run("conv", 64);
  run("pools", 40);
  run("attention", 33);
  run("paper", 16);
  run("tests/fuzz/corpus/tiny_ensemble", 50); /* 3 networks: their scores averaged */
  return finish("test_noalloc");
}
#else
int main(void) {
  printf("test_noalloc: skipped under AddressSanitizer (it owns malloc)\n");
  return 77;
}
#endif
