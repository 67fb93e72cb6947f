/* WSOLA (waveform-similarity overlap-add) time-stretching, after Verhelst &
 * Roelands (1993): constant synthesis hop of half a frame, analysis
 * positions at t / ratio, each moved within a tolerance to the position
 * whose waveform best continues the previously copied frame. */
#include <math.h>
#include <string.h>

#include "augment_internal.h"

/* correlation of x[a..a+N) with x[b..b+N) and the energy of the first, on
 * every second sample, zero outside [0, n) */
static void corr(const float *x, long n, long a, long b, long N, double *xy, double *xx) {
  long lo = 0, hi = N;
  if (-a > lo) lo = -a;
  if (-b > lo) lo = -b;
  if (n - a < hi) hi = n - a;
  if (n - b < hi) hi = n - b;
  double s = 0.0, e = 0.0;
  for (long i = lo; i < hi; i += 2) {
    double p = x[a + i], q = x[b + i];
    s += p * q;
    e += p * p;
  }
  *xy = s;
  *xx = e;
}

static double score(const float *x, long n, long a, long b, long N) {
  double xy, xx;
  corr(x, n, a, b, N, &xy, &xx);
  return xx > 0.0 ? xy / sqrt(xx) : 0.0;
}

void ser_wsola(const float *x, size_t n, double ratio, uint32_t sr, float *y, size_t m) {
  memset(y, 0, m * sizeof *y);
  if (n == 0 || m == 0 || !(ratio > 0) || sr == 0) return;
  long N = 2 * (long)lround(sr * 0.015); /* 30 ms frames */
  if (N < 16) N = 16;
  const long Hs = N / 2;
  long tol = (long)lround(sr * 0.0075);
  if (tol < 2) tol = 2;
  const long ln = (long)n, lm = (long)m;
  long prev = -Hs; /* input start of the previous frame */
  for (long k = 0;; k++) {
    long o = k * Hs - Hs; /* output start of this frame */
    if (o >= lm) break;
    long pos;
    if (k == 0) {
      pos = -Hs;
    } else {
      long target = (long)llround((double)k * (double)Hs / ratio) - Hs;
      long natural = prev + Hs;
      double nat_e;
      double dummy;
      corr(x, ln, natural, natural, N, &dummy, &nat_e);
      pos = target;
      if (nat_e > 0.0) {
        /* coarse search on every second offset, then refine by one */
        double best = -INFINITY;
        long bd = 0;
        for (long d = -tol; d <= tol; d += 2) {
          double s = score(x, ln, target + d, natural, N);
          if (s > best) {
            best = s;
            bd = d;
          }
        }
        for (long d = bd - 1; d <= bd + 1; d += 2) {
          if (d < -tol || d > tol) continue;
          double s = score(x, ln, target + d, natural, N);
          if (s > best) {
            best = s;
            bd = d;
          }
        }
        pos = target + bd;
      }
    }
    /* overlap-add with a periodic Hann window (sums to 1 at 50 % overlap) */
    for (long i = 0; i < N; i++) {
      long oi = o + i, xi = pos + i;
      if (oi < 0) continue;
      if (oi >= lm) break;
      if (xi < 0 || xi >= ln) continue;
      double w = 0.5 - 0.5 * cos(2.0 * M_PI * (double)i / (double)N);
      y[oi] += (float)(w * x[xi]);
    }
    prev = pos;
  }
}
