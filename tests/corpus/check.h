/* Tiny assertion helpers for the corpus/augment/metrics tests. */
#ifndef SER_TEST_CHECK_H
#define SER_TEST_CHECK_H
#include <stdio.h>
#include <stdlib.h>

static int check_failures;

#define CHECK(cond, ...)                                                   \
  do {                                                                     \
    if (!(cond)) {                                                         \
      fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond); \
      fprintf(stderr, __VA_ARGS__);                                        \
      fputc('\n', stderr);                                                 \
      check_failures++;                                                    \
    }                                                                      \
  } while (0)

#define REQUIRE(cond, ...)                                                 \
  do {                                                                     \
    if (!(cond)) {                                                         \
      fprintf(stderr, "%s:%d: REQUIRE(%s) failed: ", __FILE__, __LINE__, #cond); \
      fprintf(stderr, __VA_ARGS__);                                        \
      fputc('\n', stderr);                                                 \
      exit(1);                                                             \
    }                                                                      \
  } while (0)

static inline const char *env_or_die(const char *name) {
  const char *v = getenv(name);
  if (!v || !*v) {
    fprintf(stderr, "%s is not set (run through meson test)\n", name);
    exit(1);
  }
  return v;
}

#define CHECK_DONE()                                                       \
  do {                                                                     \
    if (check_failures) {                                                  \
      fprintf(stderr, "%d check(s) failed\n", check_failures);             \
      return 1;                                                            \
    }                                                                      \
    printf("all checks passed\n");                                         \
    return 0;                                                              \
  } while (0)
#endif
