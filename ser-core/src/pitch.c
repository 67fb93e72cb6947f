/* Frame-level pitch by normalised cross-correlation (NCCF).
 *
 * For a frame x of n samples (mean removed) and a lag t,
 *   nccf(t) = sum_{i < n-t} x[i] x[i+t] / sqrt(sum_{i < n-t} x[i]^2 * sum_{i >= t} x[i]^2),
 * 1 for a perfectly periodic frame at its period. The products come from
 * one autocorrelation by FFT (zero padded to twice the frame, so nothing
 * wraps around), the energies from prefix sums. The period is the shortest
 * lag between SER_PITCH_FMAX and SER_PITCH_FMIN whose local peak reaches
 * 90 % of the highest peak there (a periodic frame correlates about
 * as well at every multiple of its period, so the highest peak is often a
 * multiple), refined by a parabola through the peak and its neighbours. */
#include "pitch.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fft_plan.h"

struct ser_pitch {
  uint32_t sr, n, nfft, tmin, tmax;
  fftwf_plan fwd, inv;
  float *buf;            /* fftwf_malloc, nfft */
  fftwf_complex *spec;   /* fftwf_malloc, nfft/2 + 1 */
  float *ac;             /* fftwf_malloc, nfft: autocorrelation * nfft */
  float *cum;            /* n + 1 prefix sums of x^2 */
  float *nccf;           /* tmax + 2: signed squares, nccf * |nccf| */
  float held;
};

static void lags(uint32_t sr, uint32_t n, uint32_t *tmin, uint32_t *tmax) {
  *tmin = (uint32_t)floor(sr / SER_PITCH_FMAX);
  uint32_t hi = (uint32_t)ceil(sr / SER_PITCH_FMIN), cap = n - n / 3; /* a third overlaps, at least */
  *tmax = hi < cap ? hi : cap;
  if (*tmin < 2) *tmin = 2;
}

int ser_pitch_check(uint32_t sample_rate, uint32_t n, ser_error *err) {
  uint32_t tmin, tmax;
  if (n < 16) return ser_fail(err, "pitch: frames of %u samples are too short", n);
  lags(sample_rate, n, &tmin, &tmax);
  if (tmax < tmin + 4 || (double)tmax * 100.0 < sample_rate) {
    uint32_t need = (uint32_t)ceil(1.5 * sample_rate / 100.0);
    return ser_fail(err, "pitch: frames of %u samples (n_fft) are too short for pitch down to 100 Hz "
                    "at %u Hz; they need at least %u", n, sample_rate, need);
  }
  return 0;
}

ser_pitch *ser_pitch_new(uint32_t sample_rate, uint32_t n, ser_error *err) {
  if (ser_pitch_check(sample_rate, n, err) < 0) return NULL;
  ser_pitch *p = calloc(1, sizeof *p);
  if (!p) {
    ser_fail(err, "pitch: out of memory");
    return NULL;
  }
  p->sr = sample_rate;
  p->n = n;
  lags(sample_rate, n, &p->tmin, &p->tmax);
  p->nfft = 16;
  while (p->nfft < 2 * n) p->nfft *= 2;
  p->buf = fftwf_malloc(sizeof(float) * p->nfft);
  p->spec = fftwf_malloc(sizeof(fftwf_complex) * (p->nfft / 2 + 1));
  p->ac = fftwf_malloc(sizeof(float) * p->nfft);
  p->cum = malloc(sizeof(float) * (n + 1));
  p->nccf = malloc(sizeof(float) * (p->tmax + 2));
  p->fwd = ser_fft_plan_r2c_get((int)p->nfft);
  p->inv = ser_fft_plan_c2r_get((int)p->nfft);
  if (!p->buf || !p->spec || !p->ac || !p->cum || !p->nccf || !p->fwd || !p->inv) {
    ser_fail(err, "pitch: out of memory or no FFT plan for %u points", p->nfft);
    ser_pitch_free(p);
    return NULL;
  }
  memset(p->buf, 0, sizeof(float) * p->nfft);
  ser_pitch_reset(p);
  return p;
}

void ser_pitch_free(ser_pitch *p) {
  if (!p) return;
  ser_fft_plan_release(p->fwd);
  ser_fft_plan_release(p->inv);
  fftwf_free(p->buf);
  fftwf_free(p->spec);
  fftwf_free(p->ac);
  free(p->cum);
  free(p->nccf);
  free(p);
}

void ser_pitch_reset(ser_pitch *p) { p->held = SER_PITCH_START; }

/* t is a local maximum of the (signed-square) NCCF */
static int is_peak(const float *q, uint32_t t) { return q[t] >= q[t - 1] && q[t] >= q[t + 1]; }

/* the highest local maximum in the search range, or 0 if there is none */
static uint32_t highest_peak(const ser_pitch *p) {
  uint32_t best = 0;
  for (uint32_t t = p->tmin; t <= p->tmax; t++)
    if (is_peak(p->nccf, t) && (!best || p->nccf[t] > p->nccf[best])) best = t;
  return best;
}

/* nccf from its signed square q = nccf * |nccf| */
static float unsq(float q) { return q < 0.0f ? -sqrtf(-q) : sqrtf(q); }

void ser_pitch_frame(ser_pitch *p, const float *x, float out[2]) {
  const uint32_t n = p->n;
  float acc[8] = {0.0f}; /* 8 partial sums, the same order every time */
  uint32_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; k++) acc[k] += x[i + k];
  float sum = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
  for (; i < n; i++) sum += x[i];
  const float mean = sum / (float)n;
  for (i = 0; i < n; i++) p->buf[i] = x[i] - mean;
  /* prefix sums of x^2, accumulated in double: the running total moves by
   * whole blocks of 8 (one addition each), and each block's own prefix sums
   * do not wait for it, so the additions are not one long chain */
  double run = 0.0;
  const float *restrict xb = p->buf;
  float *restrict cum = p->cum;
  cum[0] = 0.0f;
  for (i = 0; i + 8 <= n; i += 8) {
    double pre[8], acc2 = 0.0;
    for (int k = 0; k < 8; k++) {
      acc2 += (double)xb[i + k] * xb[i + k];
      pre[k] = acc2;
    }
    for (int k = 0; k < 8; k++) cum[i + k + 1] = (float)(run + pre[k]);
    run += acc2;
  }
  for (; i < n; i++) {
    run += (double)xb[i] * xb[i];
    cum[i + 1] = (float)run;
  }
  out[0] = p->held;
  out[1] = 0.0f;
  if (!(run > 1e-10 * n)) return; /* digital silence: nothing to track */
  fftwf_execute_dft_r2c(p->fwd, p->buf, p->spec);
  float *restrict s = (float *)p->spec;
  const size_t nb = p->nfft / 2 + 1;
  for (size_t k = 0; k < nb; k++) { /* the power spectrum, as complex values with no imaginary part */
    const float re = s[2 * k], im = s[2 * k + 1];
    s[2 * k] = re * re + im * im;
    s[2 * k + 1] = 0.0f;
  }
  fftwf_execute_dft_c2r(p->inv, p->spec, p->ac);
  /* signed squares of the NCCF: the same order, no square roots */
  const float scale = 1.0f / (float)p->nfft, total = cum[n];
  const float *restrict ac = p->ac;
  float *restrict q = p->nccf;
  for (uint32_t t = p->tmin - 1; t <= p->tmax + 1; t++) {
    const float e = cum[n - t] * (total - cum[t]), r = ac[t] * scale;
    q[t] = e > 0.0f ? r * fabsf(r) / e : 0.0f;
  }
  uint32_t best = highest_peak(p);
  if (!best) return;
  /* the shortest lag whose peak reaches 90 % of the highest (81 % in
   * squares): a periodic frame correlates about as well at every multiple
   * of its period */
  const float floor_q = 0.81f * q[best];
  for (uint32_t t = p->tmin; t < best; t++) {
    if (q[t] >= floor_q && is_peak(q, t)) {
      best = t;
      break;
    }
  }
  const float a = unsq(q[best - 1]), b = unsq(q[best]), c = unsq(q[best + 1]);
  const float den = a - 2.0f * b + c;
  float d = den < 0.0f ? 0.5f * (a - c) / den : 0.0f;
  if (d > 0.5f) d = 0.5f;
  if (d < -0.5f) d = -0.5f;
  const float v = b >= 0.0f ? (b <= 1.0f ? b : 1.0f) : 0.0f; /* NaN (overflow): unvoiced */
  out[1] = v;
  if (v >= SER_PITCH_VOICED) {
    p->held = (float)log2((double)p->sr / ((double)best + d) / 100.0);
    out[0] = p->held;
  }
}
