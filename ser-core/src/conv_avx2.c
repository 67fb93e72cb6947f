/* Direct 1-D convolution, stride 1, AVX2 + FMA (see conv_fast.h): the
 * kernel of CPUs without AVX-512F (AMD before Zen 4, most desktop Intel).
 *
 * Tiles of 4 output channels (half a packed panel) x 2-3 vectors of 8 time
 * positions, or of 8 channels x 1 vector (a row's last few positions): 8 to
 * 12 accumulators in the 16 registers while the loop runs over input
 * channels and kernel taps; per tap 1-3 input vectors and 4 or 8 broadcast
 * weights. The last vector of a row is masked (maskload/maskstore),
 * so nothing is read or written outside the rows.
 *
 * Every output is b + the products over input channels, then taps, each
 * added with one fused multiply-add, in that order: the same operations as
 * the AVX-512 kernel, so both give the same floats, and how the positions are
 * blocked (a stream's few new positions, or a whole window) never changes a
 * result. */
#include "conv_fast.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define TGT __attribute__((target("avx2,fma")))
#define R ((int)SER_CONV_PANEL)

/* Rows 0 .. rows - 1 (of RH) from the packed panel at wp (whose rows are R
 * floats apart per tap), positions t0 .. t0 + 8V - 1 (the last vector
 * masked by `last`). */
static inline __attribute__((always_inline)) TGT void
tile(int RH, int V, int M, const float *wp, const float *b, int rows, uint32_t cin, uint32_t k, uint32_t d,
     const float *xp, size_t ldx, uint32_t t0, __m256i last, float *y, size_t ldy, int relu) {
  __m256 acc[8][3];
#pragma GCC unroll 8
  for (int r = 0; r < RH; r++) {
    __m256 bv = _mm256_set1_ps(r < rows ? b[r] : 0.0f);
#pragma GCC unroll 3
    for (int v = 0; v < V; v++) acc[r][v] = bv;
  }
  for (uint32_t c = 0; c < cin; c++) {
    const float *xr = xp + (size_t)c * ldx + t0;
    const float *w = wp + (size_t)c * k * R;
    for (uint32_t j = 0; j < k; j++, w += R) {
      const float *xj = xr + (size_t)j * d;
      __m256 x[3];
#pragma GCC unroll 3
      for (int v = 0; v < V; v++)
        x[v] = M && v == V - 1 ? _mm256_maskload_ps(xj + 8 * v, last) : _mm256_loadu_ps(xj + 8 * v);
#pragma GCC unroll 8
      for (int r = 0; r < RH; r++) {
        __m256 wv = _mm256_broadcast_ss(w + r);
#pragma GCC unroll 3
        for (int v = 0; v < V; v++) acc[r][v] = _mm256_fmadd_ps(wv, x[v], acc[r][v]);
      }
    }
  }
  const __m256 zero = _mm256_setzero_ps();
#pragma GCC unroll 8
  for (int r = 0; r < RH; r++) {
    if (r >= rows) break;
    float *yr = y + (size_t)r * ldy + t0;
#pragma GCC unroll 3
    for (int v = 0; v < V; v++) {
      __m256 a = relu ? _mm256_max_ps(acc[r][v], zero) : acc[r][v];
      if (M && v == V - 1) _mm256_maskstore_ps(yr + 8 * v, last, a);
      else _mm256_storeu_ps(yr + 8 * v, a);
    }
  }
}

/* 4 rows x 2 or 3 vectors, 8 rows x 1 vector: 8 to 12 accumulators, enough
 * independent sums to keep both FMA units busy */
#define TILE(RH, V, M)                                                                                     \
  static TGT void tile##RH##x##V##M(const float *wp, const float *b, int rows, uint32_t cin, uint32_t k,      \
                                 uint32_t d, const float *xp, size_t ldx, uint32_t t0, __m256i last,       \
                                 float *y, size_t ldy, int relu) {                                         \
    tile(RH, V, M, wp, b, rows, cin, k, d, xp, ldx, t0, last, y, ldy, relu);                                  \
  }
TILE(8, 1, 1)
TILE(4, 2, 0)
TILE(4, 2, 1)
TILE(4, 3, 0)
TILE(4, 3, 1)

/* one panel's rows (up to R) x V vectors from t0, as two tiles of 4 rows */
static TGT void halves(int V, int M, const float *w, const float *b, int rows, uint32_t cin, uint32_t k, uint32_t d,
                       const float *xp, size_t ldx, uint32_t t0, __m256i last, float *y, size_t ldy, int relu) {
  for (int h = 0; h < rows; h += 4) {
    int n = rows - h < 4 ? rows - h : 4;
    float *yh = y + (size_t)h * ldy;
    if (V == 3 && M) tile4x31(w + h, b + h, n, cin, k, d, xp, ldx, t0, last, yh, ldy, relu);
    else if (V == 3) tile4x30(w + h, b + h, n, cin, k, d, xp, ldx, t0, last, yh, ldy, relu);
    else if (M) tile4x21(w + h, b + h, n, cin, k, d, xp, ldx, t0, last, yh, ldy, relu);
    else tile4x20(w + h, b + h, n, cin, k, d, xp, ldx, t0, last, yh, ldy, relu);
  }
}

TGT void ser_conv_avx2(const float *wp, const float *b, uint32_t cout, uint32_t cin, uint32_t k, uint32_t d,
                       const float *xp, size_t ldx, uint32_t to, float *y, size_t ldy, int relu) {
  const size_t panel = (size_t)cin * k * R;
  const uint32_t nv = (to + 7) / 8, rem = to - (nv ? nv - 1 : 0) * 8;
  const __m256i last = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)rem), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  for (uint32_t o = 0; o < cout; o += R) {
    const int rows = cout - o < R ? (int)(cout - o) : R;
    const float *w = wp + (size_t)(o / R) * panel;
    float *yo = y + (size_t)o * ldy;
    /* vectors of 8 positions: 3 at a time; the last 4 as 2 + 2 */
    uint32_t v = 0;
    for (; nv - v > 4; v += 3) halves(3, 0, w, b + o, rows, cin, k, d, xp, ldx, 8 * v, last, yo, ldy, relu);
    if (nv - v == 4) {
      halves(2, 0, w, b + o, rows, cin, k, d, xp, ldx, 8 * v, last, yo, ldy, relu);
      v += 2;
    }
    if (nv - v == 3) halves(3, 1, w, b + o, rows, cin, k, d, xp, ldx, 8 * v, last, yo, ldy, relu);
    else if (nv - v == 2) halves(2, 1, w, b + o, rows, cin, k, d, xp, ldx, 8 * v, last, yo, ldy, relu);
    else if (nv - v == 1) tile8x11(w, b + o, rows, cin, k, d, xp, ldx, 8 * v, last, yo, ldy, relu);
  }
}

#endif
