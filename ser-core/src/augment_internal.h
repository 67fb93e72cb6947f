/* Internal to augment.c, resample.c and wsola.c. */
#ifndef SER_AUGMENT_INTERNAL_H
#define SER_AUGMENT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/* Band-limited interpolation: y[i] = x(i * step) for i in [0, n_out), with a
 * Hann-windowed sinc of 16 zero crossings, cut off at min(1, 1/step) of the
 * input's Nyquist frequency (so decimation does not alias); samples outside
 * [0, n) are zero. No allocation. */
void ser_resample_sinc(const float *x, size_t n, double step, float *y, size_t n_out);

/* WSOLA time-stretch: y (m samples, written in full) is x slowed down by
 * ratio (duration x ratio, pitch kept). Frames of 30 ms with 50 % overlap,
 * Hann window, +/- 7.5 ms search for the best-matching continuation
 * (normalised cross-correlation). Input beyond n is zero. No allocation. */
void ser_wsola(const float *x, size_t n, double ratio, uint32_t sr, float *y, size_t m);

#endif
