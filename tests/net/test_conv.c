/* The direct convolution kernels (ser-core/src/conv_fast.c, AVX-512;
 * conv_avx2.c, AVX2 + FMA) against a float64 reference, and to the bit
 * against the order both promise (b, then one fused multiply-add per input
 * channel and tap, fmaf), over shapes that hit every tile and mask path: output
 * channels that are not multiples of 8 or 16, 1 to 100 positions, kernels
 * 1-7, dilation, ReLU on and off, and an output row stride wider than the
 * row (whose gap must stay untouched). Also the attention helpers (column
 * mean/max with channel weights, row x column scaling, paired dot products)
 * for 1-200 positions, on both sides of the 128 positions the AVX-512 column
 * pass keeps in registers: bit-identical to the plain C order where the
 * order is fixed, within rounding for the dot products. Each kernel the CPU
 * has is tested (SER_CONV=avx2 runs the AVX2 one where ser_conv_fast()
 * would pick AVX-512); skips (77) on a CPU with neither. */
#include <math.h>
#include <stdint.h>

#include "../../ser-core/src/conv_fast.h"
#include "net_test.h"

static uint64_t rng = 88172645463325252ull;
static float urand(void) {
  rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
  return (float)((rng >> 40) / (double)(1u << 24)) * 2.0f - 1.0f;
}

static void one(int avx2, uint32_t cout, uint32_t cin, uint32_t k, uint32_t d, uint32_t to, int relu) {
  const uint32_t tin = to + (k - 1) * d, ldy = to + 3;
  float *w = malloc(sizeof(float) * cout * cin * k), *b = malloc(sizeof(float) * cout);
  float *wp = malloc(sizeof(float) * ser_conv_packed_floats(cout, cin, k));
  float *x = malloc(sizeof(float) * cin * tin), *y = malloc(sizeof(float) * cout * ldy);
  for (uint32_t i = 0; i < cout * cin * k; i++) w[i] = urand();
  for (uint32_t i = 0; i < cout; i++) b[i] = urand();
  for (uint32_t i = 0; i < cin * tin; i++) x[i] = urand();
  for (uint32_t i = 0; i < cout * ldy; i++) y[i] = 1234.5f;
  ser_conv_pack(w, cout, cin, k, wp);
  if (avx2) ser_conv_avx2(wp, b, cout, cin, k, d, x, tin, to, y, ldy, relu);
  else ser_conv_fast(wp, b, cout, cin, k, d, x, tin, to, y, ldy, relu);
  double worst = 0;
  int gap_ok = 1, exact = 1;
  for (uint32_t o = 0; o < cout; o++) {
    for (uint32_t t = 0; t < to; t++) {
      double v = b[o];
      float f = b[o];
      for (uint32_t c = 0; c < cin; c++)
        for (uint32_t j = 0; j < k; j++) {
          float wv = w[((size_t)o * cin + c) * k + j], xv = x[(size_t)c * tin + t + j * d];
          v += (double)wv * xv;
          f = fmaf(wv, xv, f);
        }
      if (relu && v < 0) v = 0;
      if (relu && f < 0) f = 0;
      double e = fabs(v - y[(size_t)o * ldy + t]);
      if (e > worst) worst = e;
      exact &= f == y[(size_t)o * ldy + t];
    }
    for (uint32_t t = to; t < ldy; t++) gap_ok &= y[(size_t)o * ldy + t] == 1234.5f;
  }
  /* |terms| <= 1, cin * k of them: float32 accumulation error well below 1e-5 per term */
  CHECK(worst <= 1e-5 * (cin * k + 1), "cout %u cin %u k %u d %u to %u relu %d: max error %g", cout, cin, k,
        d, to, relu, worst);
  CHECK(gap_ok, "cout %u cin %u k %u d %u to %u: wrote outside the rows", cout, cin, k, d, to);
  CHECK(exact, "cout %u cin %u k %u d %u to %u relu %d: not the fused multiply-adds in order (%s kernel)", cout,
        cin, k, d, to, relu, avx2 ? "AVX2" : "AVX-512");
  free(w), free(b), free(wp), free(x), free(y);
}

/* column mean/max and scaling against the plain loops, in the same order */
static void attention(uint32_t C, uint32_t T, int with_cs) {
  float *x = malloc(sizeof(float) * C * T), *cs = malloc(sizeof(float) * C), *sv = malloc(sizeof(float) * T);
  float *mean = malloc(sizeof(float) * T), *mx = malloc(sizeof(float) * T), *y = malloc(sizeof(float) * C * T);
  for (uint32_t i = 0; i < C * T; i++) x[i] = urand();
  for (uint32_t i = 0; i < C; i++) cs[i] = 0.5f + 0.5f * urand();
  for (uint32_t i = 0; i < T; i++) sv[i] = 0.5f + 0.5f * urand();
  const float *c = with_cs ? cs : NULL;
  ser_cols_mean_max(x, C, T, c, mean, mx);
  ser_scale_rows_cols(x, y, C, T, c, sv);
  int same = 1;
  for (uint32_t t = 0; t < T; t++) {
    float s = 0.0f, m = -INFINITY;
    for (uint32_t k = 0; k < C; k++) {
      float v = c ? x[k * T + t] * c[k] : x[k * T + t];
      s += v;
      m = v > m ? v : m;
    }
    same &= mean[t] == s * (1.0f / (float)C) && mx[t] == m;
    for (uint32_t k = 0; k < C; k++) same &= y[k * T + t] == (c ? x[k * T + t] * c[k] : x[k * T + t]) * sv[t];
  }
  CHECK(same, "attention helpers C %u T %u cs %d: differ from the plain loops", C, T, with_cs);
  double ra = 0, rb = 0;
  for (uint32_t i = 0; i < T; i++) ra += (double)x[i] * sv[i], rb += (double)x[i] * x[T + i % T];
  float da, db;
  ser_dot2(x, sv, x + T, T, &da, &db);
  CHECK(fabs(da - ra) <= 1e-5 * T && fabs(db - rb) <= 1e-5 * T, "dot2 n %u: %g %g against %g %g", T, da, db, ra,
        rb);
  free(x), free(cs), free(sv), free(mean), free(mx), free(y);
}

/* every shape through one kernel */
static int shapes(int avx2) {
  const uint32_t couts[] = {1, 3, 4, 5, 7, 8, 12, 13, 16, 24, 40, 64, 100};
  const uint32_t tos[] = {1, 2, 5, 6, 7, 8, 9, 15, 16, 17, 23, 24, 25, 31, 32, 33, 37, 40, 47, 48, 49, 60, 95, 96, 97};
  const uint32_t kd[][2] = {{1, 1}, {3, 1}, {5, 1}, {5, 2}, {7, 3}};
  int n = 0;
  for (size_t a = 0; a < sizeof couts / sizeof *couts; a++)
    for (size_t t = 0; t < sizeof tos / sizeof *tos; t++)
      for (size_t q = 0; q < sizeof kd / sizeof *kd; q++) {
        uint32_t cin = 1 + (uint32_t)((a * 7 + t * 3 + q) % 41);
        one(avx2, couts[a], cin, kd[q][0], kd[q][1], tos[t], (int)((a + t + q) & 1));
        n++;
      }
  one(avx2, 256, 256, 5, 1, 37, 1); /* the benchmark model's per-window conv */
  return n + 1;
}

int main(void) {
  const int level = ser_conv_fast_ok();
  if (!level) {
    printf("SKIP: no AVX-512F nor AVX2 + FMA (or SER_CONV=blas): the kernels are not used here\n");
    return 77;
  }
  int n = 0;
  if (level == 2) n += shapes(0);
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) n += shapes(1);
  else
#endif
    printf("no AVX2 + FMA here: only the AVX-512 kernel tested\n");
  if (level < 2) printf("no AVX-512F here (or SER_CONV=avx2): only the AVX2 kernel tested\n");
  const uint32_t ts[] = {1, 15, 16, 17, 37, 74, 127, 128, 129, 200};
  for (size_t t = 0; t < sizeof ts / sizeof *ts; t++)
    for (int w = 0; w < 2; w++) attention(t % 2 ? 3 : 64, ts[t], w);
  printf("%d shapes, %d failures\n", n, t_failures);
  return t_failures ? 1 : 0;
}
