/* Augmentation properties on a real EMO-DB clip and on synthetic signals:
 * SNR, gain, speed (length and frequency), pitch (F0 ratio, duration kept),
 * shift, crop, SpecAugment masks, determinism, config errors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ser.h"
#include "check.h"
#include "wav.h"

static double power(const float *x, size_t n) {
  double p = 0;
  for (size_t i = 0; i < n; i++) p += (double)x[i] * x[i];
  return n ? p / n : 0;
}

/* F0 of x[a, a+len) by normalised autocorrelation over lags [lo, hi]: the
 * first lag whose value is within 10 % of the best (avoids octave errors),
 * refined by parabolic interpolation. Returns 0 if not voiced (peak < thr). */
static double f0_autocorr(const float *x, size_t a, size_t len, uint32_t sr, double thr) {
  const int lo = (int)(sr / 400), hi = (int)(sr / 70);
  static double r[1024];
  if (hi >= 1024 || len <= (size_t)hi) return 0;
  double best = -1;
  for (int l = lo - 1; l <= hi + 1; l++) {
    double s = 0, e1 = 0, e2 = 0;
    for (size_t i = a; i + l < a + len; i++) {
      s += (double)x[i] * x[i + l];
      e1 += (double)x[i] * x[i];
      e2 += (double)x[i + l] * x[i + l];
    }
    r[l] = (e1 > 0 && e2 > 0) ? s / sqrt(e1 * e2) : 0;
    if (l >= lo && l <= hi && r[l] > best) best = r[l];
  }
  if (best < thr) return 0;
  for (int l = lo; l <= hi; l++) {
    if (r[l] >= 0.9 * best && r[l] >= r[l - 1] && r[l] >= r[l + 1]) {
      double den = r[l - 1] - 2 * r[l] + r[l + 1];
      double d = den != 0 ? 0.5 * (r[l - 1] - r[l + 1]) / den : 0;
      return sr / (l + d);
    }
  }
  return 0;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* median over 40 ms frames (10 ms hop) voiced in both of F0(y) / F0(x) */
static double median_f0_ratio(const float *x, const float *y, size_t n, uint32_t sr, size_t *voiced) {
  size_t len = sr / 25, hop = sr / 100, k = 0;
  double *rat = malloc((n / hop + 1) * sizeof *rat);
  double px = power(x, n);
  for (size_t a = 0; a + len <= n; a += hop) {
    if (power(x + a, len) < 0.1 * px) continue; /* quiet: skip */
    double fx = f0_autocorr(x, a, len, sr, 0.85), fy = f0_autocorr(y, a, len, sr, 0.85);
    if (fx > 0 && fy > 0) rat[k++] = fy / fx;
  }
  qsort(rat, k, sizeof *rat, cmp_double);
  double m = k ? rat[k / 2] : 0;
  free(rat);
  *voiced = k;
  return m;
}

/* correlation of 20 ms RMS envelopes */
static double envelope_corr(const float *x, const float *y, size_t n, uint32_t sr) {
  size_t len = sr / 50, m = n / len;
  double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
  for (size_t k = 0; k < m; k++) {
    double ex = sqrt(power(x + k * len, len)), ey = sqrt(power(y + k * len, len));
    sx += ex;
    sy += ey;
    sxx += ex * ex;
    syy += ey * ey;
    sxy += ex * ey;
  }
  double cx = sxx - sx * sx / m, cy = syy - sy * sy / m, cxy = sxy - sx * sy / m;
  return cxy / sqrt(cx * cy);
}

static float *harmonic(size_t n, uint32_t sr, double f0) {
  float *x = malloc(n * sizeof *x);
  for (size_t i = 0; i < n; i++) {
    double t = (double)i / sr, v = 0;
    for (int h = 1; h <= 6; h++) v += sin(2 * M_PI * f0 * h * t + 0.3 * h) / h;
    x[i] = (float)(0.3 * v);
  }
  return x;
}

static void test_noise_gain(const float *x, size_t n) {
  ser_rng rng;
  ser_rng_seed(&rng, 7);
  float *y = malloc(n * sizeof *y), *d = malloc(n * sizeof *d);
  const float snrs[] = {0.0f, 5.0f, 10.0f, 20.0f, 35.0f};
  for (int k = 0; k < 5; k++) {
    memcpy(y, x, n * sizeof *y);
    ser_aug_add_noise(&rng, y, n, snrs[k]);
    for (size_t i = 0; i < n; i++) d[i] = y[i] - x[i];
    double snr = 10 * log10(power(x, n) / power(d, n));
    CHECK(fabs(snr - snrs[k]) < 0.5, "noise at %g dB measured %.3f dB", snrs[k], snr);
    /* white: neighbouring noise samples uncorrelated */
    double c = 0;
    for (size_t i = 1; i < n; i++) c += (double)d[i] * d[i - 1];
    c /= (n - 1) * power(d, n);
    CHECK(fabs(c) < 0.05, "noise lag-1 correlation %.3f", c);
  }
  /* silent clip: unchanged */
  memset(y, 0, n * sizeof *y);
  ser_aug_add_noise(&rng, y, n, 10);
  CHECK(power(y, n) == 0, "noise on silence");
  /* gain */
  memcpy(y, x, n * sizeof *y);
  ser_aug_gain(y, n, 6.0f);
  double g = sqrt(power(y, n) / power(x, n));
  CHECK(fabs(20 * log10(g) - 6.0) < 1e-3, "gain 6 dB gave %.4f dB", 20 * log10(g));
  ser_aug_gain(y, n, -6.0f);
  double maxd = 0;
  for (size_t i = 0; i < n; i++) maxd = fmax(maxd, fabs(y[i] - x[i]));
  CHECK(maxd < 1e-5, "gain +6 -6 round trip %g", maxd);
  free(y);
  free(d);
}

static void test_speed(const float *x, size_t n, uint32_t sr) {
  const float factors[] = {0.8f, 0.9f, 1.1f, 1.25f};
  float *y = malloc((size_t)(n / 0.8 + 3) * sizeof *y);
  for (int k = 0; k < 4; k++) {
    size_t m = ser_aug_speed(x, n, factors[k], y);
    double expect = n / factors[k];
    CHECK(fabs((double)m - expect) <= 1.0, "speed %g: %zu samples, expected %.1f", factors[k], m, expect);
  }
  /* on a harmonic signal: F0 scales by the factor, level kept */
  size_t hn = sr;
  float *h = harmonic(hn, sr, 150);
  for (int k = 0; k < 4; k++) {
    size_t m = ser_aug_speed(h, hn, factors[k], y);
    double f = f0_autocorr(y, m / 4, m / 2, sr, 0.9);
    CHECK(fabs(f / 150 - factors[k]) < 0.01 * factors[k], "speed %g: F0 %.2f Hz", factors[k], f);
    double lv = 10 * log10(power(y + m / 4, m / 2) / power(h + hn / 4, hn / 2));
    CHECK(fabs(lv) < 0.2, "speed %g: level changed by %.2f dB", factors[k], lv);
  }
  /* decimating by 2 removes what would alias: 6 kHz -> 12 kHz > Nyquist */
  for (size_t i = 0; i < hn; i++) h[i] = (float)(0.5 * sin(2 * M_PI * 6000.0 * i / sr));
  size_t m = ser_aug_speed(h, hn, 2.0f, y);
  double att = 10 * log10(power(y + 64, m - 128) / power(h, hn));
  CHECK(att < -40, "6 kHz tone after 2x speed-up: %.1f dB (aliasing)", att);
  /* a 1 kHz tone at factor 1 is returned unchanged (interpolation at integer points) */
  for (size_t i = 0; i < hn; i++) h[i] = (float)(0.5 * sin(2 * M_PI * 1000.0 * i / sr));
  m = ser_aug_speed(h, hn, 1.0f, y);
  double maxd = 0;
  for (size_t i = 100; i + 100 < hn; i++) maxd = fmax(maxd, fabs(y[i] - h[i]));
  CHECK(m == hn && maxd < 1e-4, "speed 1: %zu samples, max diff %g", m, maxd);
  free(h);
  free(y);
}

static void test_pitch(const float *x, size_t n, uint32_t sr) {
  ser_error err;
  /* synthetic harmonic signal */
  size_t hn = sr;
  float *h = harmonic(hn, sr, 150), *y = malloc(n > hn ? n * sizeof *y : hn * sizeof *y);
  const float st[] = {-4.0f, -2.0f, -1.0f, 1.0f, 2.0f, 3.0f, 7.0f};
  for (int k = 0; k < 7; k++) {
    REQUIRE(ser_aug_pitch(h, hn, sr, st[k], y, &err) == 0, "%s", err.msg);
    double want = 150 * pow(2, st[k] / 12.0), f = f0_autocorr(y, hn / 4, hn / 2, sr, 0.8);
    CHECK(fabs(f / want - 1) < 0.02, "pitch %+g st on 150 Hz: F0 %.2f Hz, expected %.2f", st[k], f, want);
    double lv = 10 * log10(power(y + hn / 4, hn / 2) / power(h + hn / 4, hn / 2));
    CHECK(fabs(lv) < 1.5, "pitch %+g st: level changed by %.2f dB", st[k], lv);
  }
  /* real speech: F0 moves by 2^(st/12) frame by frame (so timing is kept), length kept */
  const float st2[] = {-3.0f, 2.0f, 4.0f};
  for (int k = 0; k < 3; k++) {
    REQUIRE(ser_aug_pitch(x, n, sr, st2[k], y, &err) == 0, "%s", err.msg);
    size_t voiced = 0;
    double r = median_f0_ratio(x, y, n, sr, &voiced), want = pow(2, st2[k] / 12.0);
    CHECK(voiced >= 20, "pitch %+g: only %zu voiced frames", st2[k], voiced);
    CHECK(fabs(r / want - 1) < 0.03, "pitch %+g st on speech: median F0 ratio %.4f, expected %.4f (%zu frames)",
          st2[k], r, want, voiced);
    double ec = envelope_corr(x, y, n, sr);
    CHECK(ec > 0.9, "pitch %+g st: envelope correlation %.3f (timing not kept)", st2[k], ec);
    printf("pitch %+g st: F0 ratio %.4f (expected %.4f, %zu voiced frames), envelope corr %.3f\n", st2[k], r,
           want, voiced, ec);
  }
  /* the same via the scratch API (in place) */
  size_t need = ser_aug_pitch_scratch(hn, 2.0f);
  float *s = malloc(need * sizeof *s), *z = malloc(hn * sizeof *z);
  memcpy(z, h, hn * sizeof *z);
  REQUIRE(ser_aug_pitch(h, hn, sr, 2.0f, y, &err) == 0, "%s", err.msg);
  REQUIRE(ser_aug_pitch_buf(z, hn, sr, 2.0f, z, s, need, &err) == 0, "%s", err.msg);
  CHECK(memcmp(y, z, hn * sizeof *y) == 0, "in-place scratch API differs");
  CHECK(ser_aug_pitch_buf(z, hn, sr, 2.0f, z, s, need - 1, &err) == -1 && strstr(err.msg, "scratch"), "%s",
        err.msg);
  CHECK(ser_aug_pitch(h, hn, sr, 13.0f, y, &err) == -1 && strstr(err.msg, "13"), "%s", err.msg);
  CHECK(ser_aug_pitch(h, hn, sr, NAN, y, &err) == -1, "NaN semitones");
  free(s);
  free(z);
  free(h);
  free(y);
}

static void test_shift_crop(const float *x, size_t n, uint32_t sr) {
  float *y = malloc(n * sizeof *y);
  memcpy(y, x, n * sizeof *y);
  ser_aug_shift(y, n, 1000);
  int ok = 1;
  for (size_t i = 0; i < 1000; i++) ok &= y[i] == 0;
  for (size_t i = 1000; i < n; i++) ok &= y[i] == x[i - 1000];
  CHECK(ok, "shift +1000");
  memcpy(y, x, n * sizeof *y);
  ser_aug_shift(y, n, -500);
  ok = 1;
  for (size_t i = 0; i + 500 < n; i++) ok &= y[i] == x[i + 500];
  for (size_t i = n - 500; i < n; i++) ok &= y[i] == 0;
  CHECK(ok, "shift -500");
  free(y);

  /* the chain with only shift: content moved by at most shift_max */
  ser_augment_config c;
  ser_augment_config_off(&c);
  c.p_shift = 1;
  c.shift_max_s = 0.1f;
  ser_rng rng;
  ser_rng_seed(&rng, 3);
  float *out = NULL;
  size_t cap = 0, m = 0;
  ser_error err;
  int moved = 0;
  for (int t = 0; t < 20; t++) {
    REQUIRE(ser_augment_audio(&c, &rng, sr, x, n, &out, &cap, &m, &err) == 0, "%s", err.msg);
    CHECK(m == n, "shift changed the length");
    long found = -99999;
    for (long s = -(long)(0.1 * sr); s <= (long)(0.1 * sr) && found == -99999; s++) {
      int match = 1;
      for (size_t i = n / 2; i < n / 2 + 200 && match; i++) match = out[i] == x[(size_t)((long)i - s)];
      if (match) found = s;
    }
    CHECK(found != -99999, "shifted content not found within 0.1 s");
    moved += found != 0;
  }
  CHECK(moved >= 18, "shift moved only %d of 20 clips", moved);
  /* crop */
  ser_augment_config_off(&c);
  c.p_crop = 1;
  c.crop_s = 1.0f;
  size_t starts_differ = 0, first = 0;
  for (int t = 0; t < 10; t++) {
    REQUIRE(ser_augment_audio(&c, &rng, sr, x, n, &out, &cap, &m, &err) == 0, "%s", err.msg);
    CHECK(m == sr, "crop of 1 s gave %zu samples", m);
    size_t start = n;
    for (size_t s = 0; s + m <= n; s++)
      if (memcmp(out, x + s, m * sizeof *x) == 0) {
        start = s;
        break;
      }
    CHECK(start < n, "crop is not a slice of the input");
    if (t == 0) first = start;
    else starts_differ += start != first;
  }
  CHECK(starts_differ > 0, "crops all start at the same sample");
  /* shorter than the crop: kept whole */
  REQUIRE(ser_augment_audio(&c, &rng, sr, x, sr / 2, &out, &cap, &m, &err) == 0, "%s", err.msg);
  CHECK(m == sr / 2 && memcmp(out, x, m * sizeof *x) == 0, "short clip cropped");
  free(out);
}

static void test_specaugment(void) {
  const size_t frames = 300;
  const uint32_t dim = 40;
  float *f = malloc(frames * dim * sizeof *f);
  ser_augment_config c;
  ser_augment_config_off(&c);
  c.p_specaug = 1;
  c.time_masks = 1;
  c.time_mask_max = 20;
  c.freq_masks = 1;
  c.freq_mask_max = 6;
  ser_rng rng;
  ser_rng_seed(&rng, 11);
  size_t tmin = 1000, tmax = 0, fmin = 1000, fmax_ = 0;
  for (int trial = 0; trial < 400; trial++) {
    for (size_t i = 0; i < frames * dim; i++) f[i] = 1.0f + (float)(i % 7);
    ser_aug_specaugment(&c, &rng, f, frames, dim);
    /* zero rows, zero columns; every zero lies in one of them */
    size_t zr = 0, zc = 0, runs_r = 0, runs_c = 0, stray = 0;
    int prev = 0;
    for (size_t t = 0; t < frames; t++) {
      int z = 1;
      for (uint32_t d = 0; d < dim; d++) z &= f[t * dim + d] == 0;
      zr += z;
      runs_r += z && !prev;
      prev = z;
    }
    prev = 0;
    for (uint32_t d = 0; d < dim; d++) {
      int z = 1;
      for (size_t t = 0; t < frames; t++) z &= f[t * dim + d] == 0;
      zc += z;
      runs_c += z && !prev;
      prev = z;
    }
    for (size_t t = 0; t < frames; t++)
      for (uint32_t d = 0; d < dim; d++)
        if (f[t * dim + d] == 0) {
          int rowz = 1, colz = 1;
          for (uint32_t e = 0; e < dim; e++) rowz &= f[t * dim + e] == 0;
          for (size_t u = 0; u < frames; u++) colz &= f[u * dim + d] == 0;
          stray += !rowz && !colz;
        } else if (f[t * dim + d] != 1.0f + (float)((t * dim + d) % 7)) {
          stray++;
        }
    CHECK(runs_r == 1 && runs_c == 1 && stray == 0, "trial %d: %zu time runs, %zu freq runs, %zu stray", trial,
          runs_r, runs_c, stray);
    tmin = zr < tmin ? zr : tmin;
    tmax = zr > tmax ? zr : tmax;
    fmin = zc < fmin ? zc : fmin;
    fmax_ = zc > fmax_ ? zc : fmax_;
  }
  CHECK(tmin == 1 && tmax == 20, "time mask widths %zu..%zu, expected 1..20", tmin, tmax);
  CHECK(fmin == 1 && fmax_ == 6, "freq mask widths %zu..%zu, expected 1..6", fmin, fmax_);
  /* several masks: at most count x max masked */
  c.time_masks = 3;
  c.freq_masks = 2;
  for (int trial = 0; trial < 100; trial++) {
    for (size_t i = 0; i < frames * dim; i++) f[i] = 1.0f;
    ser_aug_specaugment(&c, &rng, f, frames, dim);
    size_t zr = 0, zc = 0;
    for (size_t t = 0; t < frames; t++) zr += f[t * dim + (dim - 1) / 2] == 0 && f[t * dim] == 0 && f[t * dim + dim - 1] == 0;
    for (uint32_t d = 0; d < dim; d++) zc += f[d] == 0 && f[(frames / 2) * dim + d] == 0 && f[(frames - 1) * dim + d] == 0;
    CHECK(zr >= 1 && zr <= 60 + 12 && zc >= 1 && zc <= 12 + 60, "3 + 2 masks: %zu rows, %zu columns", zr, zc);
  }
  /* probability: 0 never, 0.5 about half */
  c.p_specaug = 0;
  for (size_t i = 0; i < frames * dim; i++) f[i] = 1.0f;
  ser_aug_specaugment(&c, &rng, f, frames, dim);
  int any = 0;
  for (size_t i = 0; i < frames * dim; i++) any |= f[i] == 0;
  CHECK(!any, "p_specaug 0 masked something");
  c.p_specaug = 0.5f;
  int applied = 0;
  for (int trial = 0; trial < 400; trial++) {
    for (size_t i = 0; i < frames * dim; i++) f[i] = 1.0f;
    ser_aug_specaugment(&c, &rng, f, frames, dim);
    any = 0;
    for (size_t i = 0; i < frames * dim; i++) any |= f[i] == 0;
    applied += any;
  }
  CHECK(applied > 150 && applied < 250, "p_specaug 0.5 applied %d of 400 times", applied);
  /* masks wider than the input are clamped */
  c.p_specaug = 1;
  c.time_mask_max = 1000;
  c.freq_mask_max = 1000;
  ser_aug_specaugment(&c, &rng, f, 5, 3);
  free(f);
}

static void test_chain(const float *x, size_t n, uint32_t sr) {
  ser_augment_config c;
  ser_augment_config_default(&c);
  ser_error err;
  REQUIRE(ser_augment_config_check(&c, &err) == 0, "defaults rejected: %s", err.msg);
  /* off: identity */
  ser_augment_config off;
  ser_augment_config_off(&off);
  ser_rng rng;
  ser_rng_seed(&rng, 1);
  float *out = NULL, *out2 = NULL;
  size_t cap = 0, cap2 = 0, m = 0, m2 = 0;
  REQUIRE(ser_augment_audio(&off, &rng, sr, x, n, &out, &cap, &m, &err) == 0, "%s", err.msg);
  CHECK(m == n && memcmp(out, x, n * sizeof *x) == 0, "all off is not the identity");
  /* everything on: lengths follow speed only; determinism with a seed */
  c.p_noise = c.p_speed = c.p_pitch = c.p_shift = c.p_gain = 1;
  int lengths_differ = 0;
  for (uint64_t seed = 1; seed <= 8; seed++) {
    ser_rng_seed(&rng, seed);
    REQUIRE(ser_augment_audio(&c, &rng, sr, x, n, &out, &cap, &m, &err) == 0, "%s", err.msg);
    ser_rng_seed(&rng, seed);
    REQUIRE(ser_augment_audio(&c, &rng, sr, x, n, &out2, &cap2, &m2, &err) == 0, "%s", err.msg);
    CHECK(m == m2 && memcmp(out, out2, m * sizeof *out) == 0, "seed %llu: not deterministic",
          (unsigned long long)seed);
    CHECK(m >= (size_t)(n / 1.1) - 1 && m <= (size_t)(n / 0.9) + 1, "length %zu of %zu", m, n);
    lengths_differ += m != n;
    int finite = 1;
    for (size_t i = 0; i < m; i++) finite &= isfinite(out[i]);
    CHECK(finite, "non-finite output");
  }
  CHECK(lengths_differ >= 7, "speed did not change lengths");
  /* the chain's noise (drawn once into its buffer) is ser_aug_add_noise's
   * (drawn twice from one state), to the bit, and leaves the generator in
   * the same state: noise only, at a fixed SNR */
  {
    ser_augment_config nz;
    ser_augment_config_off(&nz);
    nz.p_noise = 1;
    nz.snr_min_db = nz.snr_max_db = 12;
    ser_rng r1, r2;
    ser_rng_seed(&r1, 77);
    ser_rng_seed(&r2, 77);
    REQUIRE(ser_augment_audio(&nz, &r1, sr, x, n, &out, &cap, &m, &err) == 0, "%s", err.msg);
    float *y = malloc(n * sizeof *y);
    memcpy(y, x, n * sizeof *y);
    (void)ser_rng_uniform(&r2); /* the chain's two draws: apply noise?, the SNR */
    (void)ser_rng_uniform(&r2);
    ser_aug_add_noise(&r2, y, n, 12);
    CHECK(m == n && memcmp(out, y, n * sizeof *y) == 0, "the chain's noise differs from ser_aug_add_noise");
    CHECK(ser_rng_uniform(&r1) == ser_rng_uniform(&r2), "the chain's noise left the generator elsewhere");
    free(y);
  }
  ser_rng_seed(&rng, 100);
  REQUIRE(ser_augment_audio(&c, &rng, sr, x, n, &out, &cap, &m, &err) == 0, "%s", err.msg);
  ser_rng_seed(&rng, 101);
  REQUIRE(ser_augment_audio(&c, &rng, sr, x, n, &out2, &cap2, &m2, &err) == 0, "%s", err.msg);
  CHECK(m != m2 || memcmp(out, out2, m * sizeof *out) != 0, "different seeds, same output");
  /* the buffer is reused once large enough */
  float *keep = out;
  size_t kcap = cap;
  c.p_speed = 0;
  c.p_pitch = 0;
  REQUIRE(ser_augment_audio(&c, &rng, sr, x, n, &out, &cap, &m, &err) == 0, "%s", err.msg);
  CHECK(out == keep && cap == kcap, "buffer reallocated although large enough");
  /* defaults over many clips: rate of application near the probabilities */
  ser_augment_config_default(&c);
  c.p_noise = 0;
  c.p_gain = 0;
  c.p_shift = 0;
  c.p_pitch = 0;
  int changed = 0;
  for (int t = 0; t < 200; t++) {
    REQUIRE(ser_augment_audio(&c, &rng, sr, x, n / 4, &out, &cap, &m, &err) == 0, "%s", err.msg);
    changed += m != n / 4;
  }
  CHECK(changed > 35 && changed < 85, "p_speed 0.3 changed %d of 200", changed);
  /* config errors name the field */
  struct { const char *field; void (*set)(ser_augment_config *); } bad[] = {
    {"p_noise", NULL}, {"speed_min", NULL}, {"pitch_max_st", NULL}, {"snr_min_db", NULL}};
  ser_augment_config b;
  ser_augment_config_default(&b);
  b.p_noise = 1.5f;
  CHECK(ser_augment_audio(&b, &rng, sr, x, n, &out, &cap, &m, &err) == -1 && strstr(err.msg, bad[0].field), "%s",
        err.msg);
  ser_augment_config_default(&b);
  b.speed_min = 0;
  CHECK(ser_augment_config_check(&b, &err) == -1 && strstr(err.msg, bad[1].field), "%s", err.msg);
  ser_augment_config_default(&b);
  b.pitch_max_st = 20;
  CHECK(ser_augment_config_check(&b, &err) == -1 && strstr(err.msg, bad[2].field), "%s", err.msg);
  ser_augment_config_default(&b);
  b.snr_min_db = 40;
  CHECK(ser_augment_config_check(&b, &err) == -1 && strstr(err.msg, bad[3].field), "%s", err.msg);
  ser_augment_config_default(&b);
  b.p_speed = NAN;
  CHECK(ser_augment_config_check(&b, &err) == -1 && strstr(err.msg, "p_speed"), "%s", err.msg);
  CHECK(ser_augment_audio(&c, &rng, 0, x, n, &out, &cap, &m, &err) == -1, "sample rate 0");
  /* empty input */
  REQUIRE(ser_augment_audio(&c, &rng, sr, x, 0, &out, &cap, &m, &err) == 0, "%s", err.msg);
  CHECK(m == 0, "empty input gave %zu samples", m);
  free(out);
  free(out2);
}

int main(void) {
  const char *ds = env_or_die("SER_DATASETS");
  char path[1024];
  /* EMO-DB speaker 03 (male), sentence a01, neutral: about 2 s of voiced speech */
  snprintf(path, sizeof path, "%s/emodb/wav/03a01Nc.wav", ds);
  size_t n = 0;
  uint32_t sr = 0;
  float *x = wav_read(path, &n, &sr);
  REQUIRE(x && n > 16000 && sr == 16000, "cannot read %s", path);
  test_noise_gain(x, n);
  test_speed(x, n, sr);
  test_pitch(x, n, sr);
  test_shift_crop(x, n, sr);
  test_specaugment();
  test_chain(x, n, sr);
  free(x);
  CHECK_DONE();
}
