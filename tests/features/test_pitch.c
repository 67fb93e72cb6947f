/* Pitch columns of the feature extractor (ser_feature_params.pitch):
 * known tones, the normalised cross-correlation recomputed directly in double
 * precision on real speech, male and female EMO-DB speakers, noise, silence,
 * reset and parameter checks. */
#include "ftest.h"
#include "pitch.h"

static const double PI = 3.14159265358979323846;

/* features of x with pitch on; *dim is the row width (pitch: last two) */
static float *pitch_rows(const float *x, size_t n, size_t *T, uint32_t *dim) {
  ser_feature_params p;
  ser_feature_params_default(&p);
  p.pitch = 1;
  *dim = ser_feature_dim(&p);
  float *out = NULL;
  ser_error e;
  if (ser_features_clip(&p, x, n, &out, T, &e) < 0) {
    fprintf(stderr, "features: %s\n", e.msg);
    return NULL;
  }
  return out;
}

static int cmpf(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

static float median(float *v, size_t n) {
  qsort(v, n, sizeof *v, cmpf);
  return n ? v[n / 2] : NAN;
}

/* harmonic tones, including one whose fundamental is nearly missing */
static void test_tones(void) {
  const double f0s[] = {80.0, 123.4, 200.0, 310.0, 450.0};
  const size_t n = 16000;
  float *x = malloc(sizeof(float) * n);
  for (int weak = 0; weak < 2; weak++)
    for (size_t k = 0; k < sizeof f0s / sizeof *f0s; k++) {
      double f0 = f0s[k];
      for (size_t i = 0; i < n; i++) {
        double s = 0.0;
        for (int h = 1; h * f0 < 7000.0; h++)
          s += (h == 1 && weak ? 0.05 : 1.0 / h) * sin(2 * PI * h * f0 * i / 16000.0 + h);
        x[i] = (float)(0.1 * s);
      }
      size_t T;
      uint32_t d;
      float *r = pitch_rows(x, n, &T, &d);
      CHECK(r && T > 90, "tone %g Hz: no frames", f0);
      if (!r) continue;
      float *lf = malloc(sizeof(float) * T), *vo = malloc(sizeof(float) * T);
      for (size_t t = 0; t < T; t++) lf[t] = r[t * d + d - 2], vo[t] = r[t * d + d - 1];
      float m = median(lf, T), v = median(vo, T);
      double est = 100.0 * pow(2.0, m);
      CHECK(fabs(est / f0 - 1.0) < 0.01, "tone %g Hz (weak fundamental %d): median estimate %.2f Hz",
            f0, weak, est);
      CHECK(v > 0.9f, "tone %g Hz: median voicing %.3f", f0, v);
      free(lf), free(vo), free(r);
    }
  free(x);
}

/* direct double-precision NCCF at lag t of the frame starting at x */
static double nccf(const float *x, uint32_t n, uint32_t t) {
  double mean = 0.0;
  for (uint32_t i = 0; i < n; i++) mean += x[i];
  mean /= n;
  double xy = 0.0, xx = 0.0, yy = 0.0;
  for (uint32_t i = 0; i + t < n; i++) {
    double a = x[i] - mean, b = x[i + t] - mean;
    xy += a * b, xx += a * a, yy += b * b;
  }
  return xx * yy > 0.0 ? xy / sqrt(xx * yy) : 0.0;
}

/* On real speech the voicing value is the directly computed NCCF at the
 * reported pitch's lag, that lag is a local maximum, and no local maximum in
 * the search range reaches more than 1/0.9 of it. */
static void test_nccf_reference(void) {
  size_t n;
  float *x = ft_dataset_wav("emodb/wav/08a01Wa.wav", &n);
  CHECK(x != NULL, "08a01Wa.wav not loaded");
  if (!x) return;
  size_t T;
  uint32_t d;
  float *r = pitch_rows(x, n, &T, &d);
  const uint32_t tmin = 32, tmax = 267; /* 500 and 60 Hz at 16 kHz */
  size_t voiced = 0, bad = 0;
  for (size_t t = 0; r && t < T; t++) {
    float v = r[t * d + d - 1];
    if (v < SER_PITCH_VOICED) continue;
    voiced++;
    const float *fr = x + t * 160;
    double lag = 16000.0 / (100.0 * pow(2.0, r[t * d + d - 2]));
    uint32_t lo = (uint32_t)floor(lag), best = 0;
    double bv = -2.0, top = -2.0;
    for (uint32_t c = lo; c <= lo + 1; c++) {
      double q = nccf(fr, 512, c);
      if (q > bv) bv = q, best = c;
    }
    double prev = nccf(fr, 512, tmin - 1), cur = nccf(fr, 512, tmin);
    for (uint32_t c = tmin; c <= tmax; c++) { /* the highest local peak */
      double next = nccf(fr, 512, c + 1);
      if (cur >= prev && cur >= next) top = fmax(top, cur);
      prev = cur, cur = next;
    }
    int ok = fabs(bv - v) < 2e-3 && bv >= nccf(fr, 512, best - 1) - 1e-6 &&
             bv >= nccf(fr, 512, best + 1) - 1e-6 && bv >= 0.9 * top - 1e-3;
    if (!ok && bad++ < 5)
      fprintf(stderr, "frame %zu: voicing %.5f, direct NCCF %.5f at lag %u, best in range %.5f\n", t,
              (double)v, bv, best, top);
  }
  CHECK(voiced > 50, "only %zu voiced frames in 08a01Wa", voiced);
  CHECK(bad == 0, "%zu of %zu voiced frames disagree with the direct NCCF", bad, voiced);
  free(r);
  free(x);
}

/* median pitch of 3 neutral clips per EMO-DB speaker: the women's are all
 * above the men's, each in a plausible range */
static void test_speakers(void) {
  const char *men[] = {"03a01Nc", "03a02Nc", "03a04Nc", "10a01Nb", "10a02Na", "10a04Nb",
                       "11a01Nd", "11a02Nc", "11a04Nd", "15a01Nb", "15a02Na", "15a04Nc"};
  const char *women[] = {"08a01Na", "08a02Na", "08a04Nc", "09a01Nb", "09a04Nb", "09a05Nb",
                         "13a01Nb", "13a02Nc", "13a05Nb", "16a01Nc", "16a02Nb", "16a04Nc"};
  double hi_men = 0.0, lo_women = 1e9;
  for (int g = 0; g < 2; g++)
    for (int s = 0; s < 4; s++) {
      size_t cap = 0, m = 0;
      float *all = NULL;
      for (int c = 0; c < 3; c++) {
        char rel[64];
        snprintf(rel, sizeof rel, "emodb/wav/%s.wav", (g ? women : men)[s * 3 + c]);
        size_t n, T;
        uint32_t d;
        float *x = ft_dataset_wav(rel, &n);
        CHECK(x != NULL, "%s not loaded", rel);
        if (!x) continue;
        float *r = pitch_rows(x, n, &T, &d);
        all = realloc(all, sizeof(float) * (cap += T));
        for (size_t t = 0; r && t < T; t++)
          if (r[t * d + d - 1] >= SER_PITCH_VOICED) all[m++] = r[t * d + d - 2];
        free(r);
        free(x);
      }
      double f = 100.0 * pow(2.0, median(all, m));
      const char *who = (g ? women : men)[s * 3];
      CHECK(m > 100, "speaker %.2s: %zu voiced frames", who, m);
      if (g) {
        CHECK(f > 150.0 && f < 320.0, "woman %.2s: median pitch %.1f Hz", who, f);
        lo_women = fmin(lo_women, f);
      } else {
        CHECK(f > 80.0 && f < 180.0, "man %.2s: median pitch %.1f Hz", who, f);
        hi_men = fmax(hi_men, f);
      }
      free(all);
    }
  CHECK(lo_women > 1.3 * hi_men, "lowest woman %.1f Hz, highest man %.1f Hz", lo_women, hi_men);
}

/* noise is (nearly) never voiced and leaves the start value; silence gives
 * voicing 0; the held value survives unvoiced frames and resets */
static void test_noise_silence_reset(void) {
  const size_t n = 32000;
  float *x = calloc(n, sizeof(float));
  ser_rng rng;
  ser_rng_seed(&rng, 7);
  for (size_t i = 0; i < n / 2; i++) x[i] = 0.1f * ser_rng_normal(&rng);
  size_t T;
  uint32_t d;
  float *r = pitch_rows(x, n, &T, &d);
  size_t voiced = 0, noise_frames = 0;
  for (size_t t = 0; r && t < T; t++) {
    const float *row = r + t * d;
    if (t * 160 + 512 <= n / 2) {
      noise_frames++;
      voiced += row[d - 1] >= SER_PITCH_VOICED;
    } else if (t * 160 >= n / 2) {
      CHECK(row[d - 1] == 0.0f, "silent frame %zu: voicing %g", t, (double)row[d - 1]);
    }
  }
  CHECK(voiced * 50 < noise_frames, "white noise: %zu of %zu frames voiced", voiced, noise_frames);
  free(r);
  /* a tone, then silence: the silence holds the tone's pitch; a new stream starts over */
  for (size_t i = 0; i < n / 2; i++) x[i] = 0.2f * (float)sin(2 * PI * 220.0 * i / 16000.0);
  for (size_t i = n / 2; i < n; i++) x[i] = 0.0f;
  ser_feature_params p;
  ser_feature_params_default(&p);
  p.pitch = 1;
  ser_error e;
  ser_mfcc *m = ser_mfcc_new(&p, &e);
  CHECK(m != NULL, "ser_mfcc_new: %s", e.msg);
  if (!m) return free(x);
  ft_frames a = {.dim = d}, b = {.dim = d};
  ser_mfcc_push(m, x, n, ft_collect, &a);
  ser_mfcc_reset(m);
  ser_mfcc_push(m, x + n / 2, n / 2, ft_collect, &b);
  ser_mfcc_free(m);
  float last = a.data[(a.n - 1) * d + d - 2];
  CHECK(fabsf(last - (float)log2(2.2)) < 0.01f, "after the tone, silence holds %g, not log2(2.2)",
        (double)last);
  CHECK(b.n > 0 && b.data[d - 2] == SER_PITCH_START && b.data[(b.n - 1) * d + d - 2] == SER_PITCH_START,
        "after reset, silence gives %g, not the start value", b.n ? (double)b.data[d - 2] : -1.0);
  ft_frames_free(&a);
  ft_frames_free(&b);
  free(x);
}

static void test_params(void) {
  ser_feature_params p;
  ser_error e;
  ser_feature_params_default(&p);
  p.pitch = 2;
  CHECK(ser_feature_params_check(&p, &e) < 0 && strstr(e.msg, "pitch"), "pitch = 2 accepted: %s",
        e.msg);
  p.pitch = 1;
  p.center = 1;
  CHECK(ser_feature_params_check(&p, &e) < 0 && strstr(e.msg, "pitch") && strstr(e.msg, "center"),
        "pitch with center accepted: %s", e.msg);
  p.center = 0;
  p.n_fft = 128;
  p.win_length = 128;
  CHECK(ser_feature_params_check(&p, &e) < 0 && strstr(e.msg, "pitch") && strstr(e.msg, "128"),
        "pitch with n_fft 128 at 16 kHz accepted: %s", e.msg);
  CHECK(ser_mfcc_new(&p, &e) == NULL, "streaming extractor accepted n_fft 128 with pitch");
  ser_feature_params_default(&p);
  uint32_t d0 = ser_feature_dim(&p);
  p.pitch = 1;
  CHECK(ser_feature_dim(&p) == d0 + 2, "pitch adds %u columns", ser_feature_dim(&p) - d0);
}

int main(void) {
  test_tones();
  test_nccf_reference();
  test_speakers();
  test_noise_silence_reset();
  test_params();
  return ft_finish("test_pitch");
}
