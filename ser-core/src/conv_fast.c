/* Direct 1-D convolution, stride 1, AVX-512 (see conv_fast.h; the AVX2
 * kernel is in conv_avx2.c).
 *
 * Two tile shapes, each keeping up to 24 accumulators in registers while the
 * loop runs over input channels and kernel taps:
 *  - time tiles: 8 output channels x 32 or 48 time positions (vectors of 16
 *    positions). Per tap: 2-3 input vectors, 8 broadcast weights.
 *  - channel tiles, for the last < 32 positions (a window's edges, the few
 *    new positions of a stream, short windows): up to 64 output channels
 *    (vectors of 16 channels) x up to 6 positions. Per tap: 4 weight
 *    vectors, 6 broadcast inputs; results are scattered into the rows.
 * Nothing is read or written outside the rows (masks), no im2col copy, no
 * packing per call: the weights were packed at model load and the input is
 * read in place. */
#include "conv_fast.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define R ((int)SER_CONV_PANEL)

static size_t cout16(uint32_t cout) { return ((size_t)cout + 15) / 16 * 16; }

static size_t panel_floats(uint32_t cout, uint32_t cin, uint32_t k) {
  size_t panels = (cout + SER_CONV_PANEL - 1) / SER_CONV_PANEL;
  return panels * cin * k * SER_CONV_PANEL;
}

/* the transpose is the AVX-512 kernel's alone: AVX2 CPUs go without it */
static int with_transpose(void) { return ser_conv_fast_ok() == 2; }

size_t ser_conv_packed_floats(uint32_t cout, uint32_t cin, uint32_t k) {
  return panel_floats(cout, cin, k) + (with_transpose() ? (size_t)cin * k * cout16(cout) : 0);
}

void ser_conv_pack(const float *w, uint32_t cout, uint32_t cin, uint32_t k, float *wp) {
  size_t panels = (cout + SER_CONV_PANEL - 1) / SER_CONV_PANEL, ck = (size_t)cin * k;
  for (size_t p = 0; p < panels; p++)
    for (size_t q = 0; q < ck; q++)
      for (uint32_t r = 0; r < SER_CONV_PANEL; r++) {
        size_t o = p * SER_CONV_PANEL + r;
        wp[(p * ck + q) * SER_CONV_PANEL + r] = o < cout ? w[o * ck + q] : 0.0f;
      }
  if (!with_transpose()) return;
  /* the transpose in 64 x 16 blocks, so reads and writes stay in cache */
  float *wt = wp + panel_floats(cout, cin, k);
  size_t c16 = cout16(cout);
  for (size_t q0 = 0; q0 < ck; q0 += 64) {
    size_t q1 = q0 + 64 < ck ? q0 + 64 : ck;
    for (size_t o0 = 0; o0 < c16; o0 += 16)
      for (size_t q = q0; q < q1; q++)
        for (size_t o = o0; o < o0 + 16; o++) wt[q * c16 + o] = o < cout ? w[o * ck + q] : 0.0f;
  }
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define TGT __attribute__((target("avx512f")))

static inline __attribute__((always_inline)) TGT void
tile(int V, const float *wp, const float *b, uint32_t rows, uint32_t cin, uint32_t k, uint32_t d,
     const float *xp, size_t ldx, uint32_t t0, __mmask16 last, float *y, size_t ldy, int relu) {
  __m512 acc[R][3];
#pragma GCC unroll 8
  for (int r = 0; r < R; r++) {
    __m512 bv = _mm512_set1_ps(r < (int)rows ? b[r] : 0.0f);
#pragma GCC unroll 3
    for (int v = 0; v < V; v++) acc[r][v] = bv;
  }
  const __mmask16 full = 0xffff;
  for (uint32_t c = 0; c < cin; c++) {
    const float *xr = xp + (size_t)c * ldx + t0;
    const float *w = wp + (size_t)c * k * R;
    for (uint32_t j = 0; j < k; j++, w += R) {
      const float *xj = xr + (size_t)j * d;
      __m512 x[3];
#pragma GCC unroll 3
      for (int v = 0; v < V; v++) x[v] = _mm512_maskz_loadu_ps(v == V - 1 ? last : full, xj + 16 * v);
#pragma GCC unroll 8
      for (int r = 0; r < R; r++) {
        __m512 wv = _mm512_set1_ps(w[r]);
#pragma GCC unroll 3
        for (int v = 0; v < V; v++) acc[r][v] = _mm512_fmadd_ps(wv, x[v], acc[r][v]);
      }
    }
  }
  const __m512 zero = _mm512_setzero_ps();
#pragma GCC unroll 8
  for (int r = 0; r < R; r++) {
    if (r >= (int)rows) break;
    float *yr = y + (size_t)r * ldy + t0;
#pragma GCC unroll 3
    for (int v = 0; v < V; v++) {
      __m512 a = relu ? _mm512_max_ps(acc[r][v], zero) : acc[r][v];
      _mm512_mask_storeu_ps(yr + 16 * v, v == V - 1 ? last : full, a);
    }
  }
}

static TGT void tile2(const float *wp, const float *b, uint32_t rows, uint32_t cin, uint32_t k, uint32_t d,
                      const float *xp, size_t ldx, uint32_t t0, __mmask16 last, float *y, size_t ldy,
                      int relu) {
  tile(2, wp, b, rows, cin, k, d, xp, ldx, t0, last, y, ldy, relu);
}
static TGT void tile3(const float *wp, const float *b, uint32_t rows, uint32_t cin, uint32_t k, uint32_t d,
                      const float *xp, size_t ldx, uint32_t t0, __mmask16 last, float *y, size_t ldy,
                      int relu) {
  tile(3, wp, b, rows, cin, k, d, xp, ldx, t0, last, y, ldy, relu);
}

/* Channel tile: V vectors of 16 output channels from o0 (the last one
 * masked by `last`) x P positions from t0. wt is the transposed packing,
 * row stride c16. */
static inline __attribute__((always_inline)) TGT void
ctile(int V, int P, const float *wt, size_t c16, const float *b, uint32_t o0, __mmask16 last, uint32_t cin,
      uint32_t k, uint32_t d, const float *xp, size_t ldx, uint32_t t0, float *y, size_t ldy, int relu) {
  const __mmask16 full = 0xffff;
  __m512 acc[6][4];
#pragma GCC unroll 4
  for (int v = 0; v < V; v++) {
    __m512 bv = _mm512_maskz_loadu_ps(v == V - 1 ? last : full, b + o0 + 16 * v);
#pragma GCC unroll 6
    for (int p = 0; p < P; p++) acc[p][v] = bv;
  }
  for (uint32_t c = 0; c < cin; c++) {
    const float *xr = xp + (size_t)c * ldx + t0;
    const float *w = wt + (size_t)c * k * c16 + o0;
    for (uint32_t j = 0; j < k; j++, w += c16) {
      const float *xj = xr + (size_t)j * d;
      __m512 wv[4];
#pragma GCC unroll 4
      for (int v = 0; v < V; v++) wv[v] = _mm512_loadu_ps(w + 16 * v);
#pragma GCC unroll 6
      for (int p = 0; p < P; p++) {
        __m512 xb = _mm512_set1_ps(xj[p]);
#pragma GCC unroll 4
        for (int v = 0; v < V; v++) acc[p][v] = _mm512_fmadd_ps(wv[v], xb, acc[p][v]);
      }
    }
  }
  const __m512 zero = _mm512_setzero_ps();
  const __m512i idx = _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                                         _mm512_set1_epi32((int)ldy));
#pragma GCC unroll 4
  for (int v = 0; v < V; v++) {
    float *yv = y + (size_t)(o0 + 16 * v) * ldy + t0;
#pragma GCC unroll 6
    for (int p = 0; p < P; p++) {
      __m512 a = relu ? _mm512_max_ps(acc[p][v], zero) : acc[p][v];
      _mm512_mask_i32scatter_ps(yv + p, v == V - 1 ? last : full, idx, a, 4);
    }
  }
}

#define CTILE_V(V)                                                                                         \
  static TGT void ctile##V(int P, const float *wt, size_t c16, const float *b, uint32_t o0, __mmask16 last, \
                           uint32_t cin, uint32_t k, uint32_t d, const float *xp, size_t ldx, uint32_t t0,  \
                           float *y, size_t ldy, int relu) {                                                \
    switch (P) {                                                                                           \
    case 1: ctile(V, 1, wt, c16, b, o0, last, cin, k, d, xp, ldx, t0, y, ldy, relu); break;                \
    case 2: ctile(V, 2, wt, c16, b, o0, last, cin, k, d, xp, ldx, t0, y, ldy, relu); break;                \
    case 3: ctile(V, 3, wt, c16, b, o0, last, cin, k, d, xp, ldx, t0, y, ldy, relu); break;                \
    case 4: ctile(V, 4, wt, c16, b, o0, last, cin, k, d, xp, ldx, t0, y, ldy, relu); break;                \
    case 5: ctile(V, 5, wt, c16, b, o0, last, cin, k, d, xp, ldx, t0, y, ldy, relu); break;                \
    default: ctile(V, 6, wt, c16, b, o0, last, cin, k, d, xp, ldx, t0, y, ldy, relu); break;               \
    }                                                                                                      \
  }
CTILE_V(1)
CTILE_V(2)
CTILE_V(4)

static void conv_avx512(const float *wp, const float *b, uint32_t cout, uint32_t cin, uint32_t k, uint32_t d,
                        const float *xp, size_t ldx, uint32_t to, float *y, size_t ldy, int relu) {
  /* time tiles over [0, tt): blocks of 48, then one of 32 */
  uint32_t tt = to / 48 * 48;
  if (to - tt >= 32) tt += 32;
  const size_t panel = (size_t)cin * k * R;
  const __mmask16 full = 0xffff;
  for (uint32_t o = 0; o < cout && tt; o += R) {
    uint32_t rows = cout - o < R ? cout - o : R;
    const float *w = wp + (size_t)(o / R) * panel;
    float *yo = y + (size_t)o * ldy;
    for (uint32_t t0 = 0; t0 < tt; t0 += 48) {
      if (tt - t0 >= 48) tile3(w, b + o, rows, cin, k, d, xp, ldx, t0, full, yo, ldy, relu);
      else tile2(w, b + o, rows, cin, k, d, xp, ldx, t0, full, yo, ldy, relu);
    }
  }
  if (tt == to) return;
  /* channel tiles over [tt, to) */
  const float *wt = wp + panel_floats(cout, cin, k);
  const size_t c16 = cout16(cout);
  for (uint32_t o = 0; o < cout; o += 64) {
    uint32_t n = cout - o < 64 ? cout - o : 64, nv = (n + 15) / 16, rem = n - (nv - 1) * 16;
    __mmask16 last = (__mmask16)(rem == 16 ? 0xffffu : (1u << rem) - 1u);
    for (uint32_t t0 = tt; t0 < to; t0 += 6) {
      int P = to - t0 < 6 ? (int)(to - t0) : 6;
      if (nv == 4) ctile4(P, wt, c16, b, o, last, cin, k, d, xp, ldx, t0, y, ldy, relu);
      else if (nv >= 2) {
        ctile2(P, wt, c16, b, o, nv == 2 ? last : full, cin, k, d, xp, ldx, t0, y, ldy, relu);
        if (nv == 3) ctile1(P, wt, c16, b, o + 32, last, cin, k, d, xp, ldx, t0, y, ldy, relu);
      } else ctile1(P, wt, c16, b, o, last, cin, k, d, xp, ldx, t0, y, ldy, relu);
    }
  }
}

static TGT void rows_sum_max_avx512(const float *x, uint32_t rows, uint32_t n, size_t ld, float *sum,
                                    float *max) {
  const uint32_t rem = n % 16;
  const __mmask16 tail = (__mmask16)((1u << rem) - 1u);
  const __m512 ninf = _mm512_set1_ps(-INFINITY);
  for (uint32_t r = 0; r < rows; r++) {
    const float *xr = x + (size_t)r * ld;
    __m512 s = _mm512_setzero_ps(), m = ninf;
    uint32_t t = 0;
    for (; t + 16 <= n; t += 16) {
      __m512 v = _mm512_loadu_ps(xr + t);
      s = _mm512_add_ps(s, v);
      m = _mm512_max_ps(m, v);
    }
    if (rem) {
      __m512 v = _mm512_maskz_loadu_ps(tail, xr + t);
      s = _mm512_add_ps(s, v);
      m = _mm512_mask_max_ps(m, tail, m, v);
    }
    sum[r] = _mm512_reduce_add_ps(s);
    max[r] = _mm512_reduce_max_ps(m);
  }
}

/* Column mean and max of (x[c][t] * cs[c]) over the C rows (cs NULL: 1),
 * T <= 16 * 8: the columns' sums and maxima stay in registers. */
static TGT void cols_mean_max_avx512(const float *x, uint32_t C, uint32_t T, const float *cs, float *mean,
                                     float *max) {
  const uint32_t nv = (T + 15) / 16, rem = T - (nv - 1) * 16;
  const __mmask16 tail = (__mmask16)(rem == 16 ? 0xffffu : (1u << rem) - 1u), full = 0xffff;
  __m512 s[8], m[8];
  for (uint32_t v = 0; v < 8; v++) s[v] = _mm512_setzero_ps(), m[v] = _mm512_set1_ps(-INFINITY);
  for (uint32_t c = 0; c < C; c++) {
    const float *xr = x + (size_t)c * T;
    const __m512 a = _mm512_set1_ps(cs ? cs[c] : 1.0f);
#pragma GCC unroll 8
    for (uint32_t v = 0; v < 8; v++) {
      if (v >= nv) break;
      __m512 u = _mm512_maskz_loadu_ps(v == nv - 1 ? tail : full, xr + 16 * v);
      if (cs) u = _mm512_mul_ps(u, a);
      s[v] = _mm512_add_ps(s[v], u);
      m[v] = _mm512_max_ps(u, m[v]); /* u > m ? u : m */
    }
  }
  const __m512 inv = _mm512_set1_ps(1.0f / (float)C);
  for (uint32_t v = 0; v < nv; v++) {
    _mm512_mask_storeu_ps(mean + 16 * v, v == nv - 1 ? tail : full, _mm512_mul_ps(s[v], inv));
    _mm512_mask_storeu_ps(max + 16 * v, v == nv - 1 ? tail : full, m[v]);
  }
}

/* y[c][t] = (x[c][t] * cs[c]) * sv[t] (cs NULL: x[c][t] * sv[t]) */
static TGT void scale_rows_cols_avx512(const float *x, float *y, uint32_t C, uint32_t T, const float *cs,
                                       const float *sv) {
  const uint32_t rem = T % 16;
  const __mmask16 tail = (__mmask16)((1u << rem) - 1u);
  for (uint32_t c = 0; c < C; c++) {
    const float *xr = x + (size_t)c * T;
    float *yr = y + (size_t)c * T;
    const __m512 a = _mm512_set1_ps(cs ? cs[c] : 1.0f);
    uint32_t t = 0;
    for (; t + 16 <= T; t += 16) {
      __m512 u = _mm512_loadu_ps(xr + t);
      if (cs) u = _mm512_mul_ps(u, a);
      _mm512_storeu_ps(yr + t, _mm512_mul_ps(u, _mm512_loadu_ps(sv + t)));
    }
    if (rem) {
      __m512 u = _mm512_maskz_loadu_ps(tail, xr + t);
      if (cs) u = _mm512_mul_ps(u, a);
      _mm512_mask_storeu_ps(yr + t, tail, _mm512_mul_ps(u, _mm512_maskz_loadu_ps(tail, sv + t)));
    }
  }
}

static TGT void dot2_avx512(const float *w, const float *a, const float *b, uint32_t n, float *ra, float *rb) {
  const uint32_t rem = n % 16;
  const __mmask16 tail = (__mmask16)((1u << rem) - 1u);
  __m512 sa = _mm512_setzero_ps(), sb = _mm512_setzero_ps();
  uint32_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m512 wv = _mm512_loadu_ps(w + i);
    sa = _mm512_fmadd_ps(wv, _mm512_loadu_ps(a + i), sa);
    sb = _mm512_fmadd_ps(wv, _mm512_loadu_ps(b + i), sb);
  }
  if (rem) {
    __m512 wv = _mm512_maskz_loadu_ps(tail, w + i);
    sa = _mm512_fmadd_ps(wv, _mm512_maskz_loadu_ps(tail, a + i), sa);
    sb = _mm512_fmadd_ps(wv, _mm512_maskz_loadu_ps(tail, b + i), sb);
  }
  *ra = _mm512_reduce_add_ps(sa);
  *rb = _mm512_reduce_add_ps(sb);
}

static int fast_level = -1;

int ser_conv_fast_ok(void) {
  int v = __atomic_load_n(&fast_level, __ATOMIC_RELAXED);
  if (v < 0) {
    const char *e = getenv("SER_CONV");
    __builtin_cpu_init();
    v = __builtin_cpu_supports("avx512f")                                    ? 2
        : __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? 1
                                                                            : 0;
    if (e && strcmp(e, "blas") == 0) v = 0;
    if (e && strcmp(e, "avx2") == 0 && v > 1) v = 1;
    __atomic_store_n(&fast_level, v, __ATOMIC_RELAXED);
  }
  return v;
}

void ser_conv_fast(const float *wp, const float *b, uint32_t cout, uint32_t cin, uint32_t k, uint32_t d,
                   const float *xp, size_t ldx, uint32_t to, float *y, size_t ldy, int relu) {
  if (ser_conv_fast_ok() == 2) conv_avx512(wp, b, cout, cin, k, d, xp, ldx, to, y, ldy, relu);
  else ser_conv_avx2(wp, b, cout, cin, k, d, xp, ldx, to, y, ldy, relu);
}

#else

void ser_conv_fast(const float *wp, const float *b, uint32_t cout, uint32_t cin, uint32_t k, uint32_t d,
                   const float *xp, size_t ldx, uint32_t to, float *y, size_t ldy, int relu) {
  (void)wp, (void)b, (void)cout, (void)cin, (void)k, (void)d, (void)xp, (void)ldx, (void)to, (void)y,
      (void)ldy, (void)relu;
}

int ser_conv_fast_ok(void) { return 0; }

#endif

void ser_rows_sum_max(const float *x, uint32_t rows, uint32_t n, size_t ld, float *sum, float *max) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  if (ser_conv_fast_ok() == 2) {
    rows_sum_max_avx512(x, rows, n, ld, sum, max);
    return;
  }
#endif
  for (uint32_t r = 0; r < rows; r++) {
    const float *xr = x + (size_t)r * ld;
    float s8[8] = {0}, m8[8], s = 0.0f, m = -INFINITY;
    for (int i = 0; i < 8; i++) m8[i] = -INFINITY;
    uint32_t t = 0;
    for (; t + 8 <= n; t += 8)
      for (int i = 0; i < 8; i++) {
        s8[i] += xr[t + i];
        m8[i] = xr[t + i] > m8[i] ? xr[t + i] : m8[i];
      }
    for (; t < n; t++) {
      s += xr[t];
      m = xr[t] > m ? xr[t] : m;
    }
    for (int i = 0; i < 8; i++) {
      s += s8[i];
      m = m8[i] > m ? m8[i] : m;
    }
    sum[r] = s;
    max[r] = m;
  }
}

void ser_cols_mean_max(const float *x, uint32_t C, uint32_t T, const float *cs, float *mean, float *max) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  if (ser_conv_fast_ok() == 2 && T <= 16 * 8) {
    cols_mean_max_avx512(x, C, T, cs, mean, max);
    return;
  }
#endif
  for (uint32_t t = 0; t < T; t++) mean[t] = 0.0f, max[t] = -INFINITY;
  for (uint32_t c = 0; c < C; c++) {
    const float *xr = x + (size_t)c * T;
    const float a = cs ? cs[c] : 1.0f;
    for (uint32_t t = 0; t < T; t++) {
      float v = cs ? xr[t] * a : xr[t];
      mean[t] += v;
      max[t] = v > max[t] ? v : max[t];
    }
  }
  const float inv = 1.0f / (float)C;
  for (uint32_t t = 0; t < T; t++) mean[t] *= inv;
}

void ser_scale_rows_cols(const float *x, float *y, uint32_t C, uint32_t T, const float *cs, const float *sv) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  if (ser_conv_fast_ok() == 2) {
    scale_rows_cols_avx512(x, y, C, T, cs, sv);
    return;
  }
#endif
  for (uint32_t c = 0; c < C; c++) {
    const float *xr = x + (size_t)c * T;
    float *yr = y + (size_t)c * T;
    const float a = cs ? cs[c] : 1.0f;
    for (uint32_t t = 0; t < T; t++) yr[t] = (cs ? xr[t] * a : xr[t]) * sv[t];
  }
}

void ser_dot2(const float *w, const float *a, const float *b, uint32_t n, float *ra, float *rb) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  if (ser_conv_fast_ok() == 2) {
    dot2_avx512(w, a, b, n, ra, rb);
    return;
  }
#endif
  double sa = 0.0, sb = 0.0;
  for (uint32_t i = 0; i < n; i++) {
    sa += (double)w[i] * a[i];
    sb += (double)w[i] * b[i];
  }
  *ra = (float)sa;
  *rb = (float)sb;
}
