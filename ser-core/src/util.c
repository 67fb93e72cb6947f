/* Errors, random numbers, version. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>

#include "ser/common.h"

int ser_fail(ser_error *err, const char *fmt, ...) {
  if (err) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
  }
  return -1;
}

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

void ser_rng_seed(ser_rng *r, uint64_t seed) {
  r->s[0] = splitmix64(&seed);
  r->s[1] = splitmix64(&seed);
  if (!r->s[0] && !r->s[1]) r->s[1] = 1;
}

/* xorshift128+ */
static uint64_t next64(ser_rng *r) {
  uint64_t s1 = r->s[0];
  const uint64_t s0 = r->s[1];
  r->s[0] = s0;
  s1 ^= s1 << 23;
  r->s[1] = s1 ^ s0 ^ (s1 >> 17) ^ (s0 >> 26);
  return r->s[1] + s0;
}

uint32_t ser_rng_u32(ser_rng *r) { return (uint32_t)(next64(r) >> 32); }

float ser_rng_uniform(ser_rng *r) {
  return (float)(next64(r) >> 40) * (1.0f / 16777216.0f);
}

uint32_t ser_rng_below(ser_rng *r, uint32_t n) {
  return n ? (uint32_t)(((next64(r) >> 32) * (uint64_t)n) >> 32) : 0;
}

float ser_rng_normal(ser_rng *r) {
  /* Box-Muller; u1 in (0, 1] */
  double u1 = ((double)(next64(r) >> 11) + 1.0) * (1.0 / 9007199254740992.0);
  double u2 = (double)(next64(r) >> 11) * (1.0 / 9007199254740992.0);
  return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

const char *ser_version(void) { return SER_VERSION; }
