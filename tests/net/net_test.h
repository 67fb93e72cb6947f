/* Tiny helpers shared by the tests in tests/net. */
#ifndef NET_TEST_H
#define NET_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int t_failures;

#define CHECK(cond, ...)                                              \
  do {                                                                \
    if (!(cond)) {                                                    \
      fprintf(stderr, "%s:%d: FAILED: %s: ", __FILE__, __LINE__, #cond); \
      fprintf(stderr, __VA_ARGS__);                                   \
      fprintf(stderr, "\n");                                          \
      t_failures++;                                                   \
    }                                                                 \
  } while (0)

static inline const char *fixture_dir(void) {
  static char buf[2048];
  const char *root = getenv("SER_SOURCE_ROOT");
  snprintf(buf, sizeof buf, "%s/tests/fixtures/net", root ? root : ".");
  return buf;
}

/* Whole file into a malloc'd buffer; NULL if unreadable. */
static inline void *read_all(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long sz = ftell(f);
  fseek(f, 0, SEEK_SET);
  void *p = malloc(sz > 0 ? (size_t)sz : 1);
  *n = p ? fread(p, 1, (size_t)sz, f) : 0;
  fclose(f);
  return p;
}

static inline int finish(const char *name) {
  if (t_failures) {
    fprintf(stderr, "%s: %d check(s) failed\n", name, t_failures);
    return 1;
  }
  printf("%s: all checks passed\n", name);
  return 0;
}

#endif
