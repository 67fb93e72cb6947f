/* Direct 1-D convolution (stride 1) with weights packed once at model load:
 * an AVX-512 kernel (conv_fast.c) when the CPU has AVX-512F, an AVX2 + FMA
 * one (conv_avx2.c) when it has those; both give the same floats. Without
 * either, net.c falls back to im2col + OpenBLAS sgemm. Not installed. */
#ifndef SER_CONV_FAST_H
#define SER_CONV_FAST_H

#include <stddef.h>
#include <stdint.h>

/* Output channels per packed panel. */
#define SER_CONV_PANEL 8u

/* Floats the packed copy of a (cout, cin, k) weight tensor takes. */
size_t ser_conv_packed_floats(uint32_t cout, uint32_t cin, uint32_t k);

/* Packs w[cout][cin][k] (row-major, as in the .sermodel) into panels of
 * SER_CONV_PANEL output channels, [panel][cin][k][SER_CONV_PANEL]; when the
 * AVX-512 kernel runs (ser_conv_fast_ok() == 2), followed by the transpose
 * [cin][k][cout16] its channel tiles read (cout16 = cout rounded up to 16).
 * Entries past cout are zero. */
void ser_conv_pack(const float *w, uint32_t cout, uint32_t cin, uint32_t k, float *wp);

/* Non-zero when ser_conv_fast() may be called: 2 when the CPU has AVX-512F,
 * 1 when it has AVX2 and FMA, else 0. SER_CONV=blas in the environment
 * makes it 0 (the fallback), SER_CONV=avx2 at most 1 (the AVX2 kernel on an
 * AVX-512 CPU, for tests and benchmarks). Decided once per process. */
int ser_conv_fast_ok(void);

/* y[o][t] = b[o] + sum_c sum_j wp(o, c, j) * xp[c * ldx + t + j * d] for
 * o < cout, t < to; then max(y, 0) if relu. xp already holds the left
 * padding; row c is read at [0, to + (k - 1) * d). y has row stride ldy. */
void ser_conv_fast(const float *wp, const float *b, uint32_t cout, uint32_t cin, uint32_t k, uint32_t d,
                   const float *xp, size_t ldx, uint32_t to, float *y, size_t ldy, int relu);
/* The same, always the AVX2 + FMA kernel (the CPU must have both). */
void ser_conv_avx2(const float *wp, const float *b, uint32_t cout, uint32_t cin, uint32_t k, uint32_t d,
                   const float *xp, size_t ldx, uint32_t to, float *y, size_t ldy, int relu);

/* Per-row sum and maximum of x (rows of n floats, row stride ld), for the
 * attention and global-pool layers; AVX-512 when ser_conv_fast_ok() is 2. */
void ser_rows_sum_max(const float *x, uint32_t rows, uint32_t n, size_t ld, float *sum, float *max);

/* Spatial attention's two passes over a (C, T) tensor x, with the channel
 * weights cs of a channel attention before it (or NULL): the column mean
 * and max of x[c][t] * cs[c] (summed in channel order), and
 * y[c][t] = (x[c][t] * cs[c]) * sv[t]. AVX-512 when ser_conv_fast_ok() is 2. */
void ser_cols_mean_max(const float *x, uint32_t C, uint32_t T, const float *cs, float *mean, float *max);
void ser_scale_rows_cols(const float *x, float *y, uint32_t C, uint32_t T, const float *cs, const float *sv);

/* *ra = w . a and *rb = w . b over n floats (the attention MLP's first
 * layer); AVX-512 when ser_conv_fast_ok() is 2. */
void ser_dot2(const float *w, const float *a, const float *b, uint32_t n, float *ra, float *rb);

#endif
