/* ser-core: shared definitions (errors, random numbers). */
#ifndef SER_COMMON_H
#define SER_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SER_ERR_LEN 512

/* Every fallible call takes an optional ser_error*; on failure it returns a
 * negative value (or NULL) and writes a message naming the file or field and
 * the problem, e.g. "n_mels: 300 is larger than the 257 FFT bins". */
typedef struct ser_error {
  char msg[SER_ERR_LEN];
} ser_error;

/* Formats into err (if non-NULL). Always returns -1 so callers can
 * `return ser_fail(err, ...)`. */
int ser_fail(ser_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Small, fast, reproducible generator (splitmix64-seeded xoshiro128+-like).
 * Not thread-safe: one per thread. */
typedef struct ser_rng {
  uint64_t s[2];
} ser_rng;

void ser_rng_seed(ser_rng *r, uint64_t seed);
uint32_t ser_rng_u32(ser_rng *r);
/* uniform in [0, 1) */
float ser_rng_uniform(ser_rng *r);
/* standard normal */
float ser_rng_normal(ser_rng *r);
/* uniform integer in [0, n) */
uint32_t ser_rng_below(ser_rng *r, uint32_t n);

/* Library version string, e.g. "0.1.0". */
const char *ser_version(void);

#ifdef __cplusplus
}
#endif
#endif
