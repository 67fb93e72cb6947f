/* Shared, refcounted FFTW3f r2c/c2r plans (internal to ser-core).
 * FFTW's planner is not thread-safe: every plan creation and destruction in
 * ser-core goes through these functions, which hold one global mutex. The
 * plans are then executed with fftwf_execute_dft_r2c() on per-caller arrays
 * from fftwf_malloc() (new-array execute is thread-safe). */
#ifndef SER_FFT_PLAN_H
#define SER_FFT_PLAN_H

#include <fftw3.h>

/* Plan for a real-to-complex transform of n points, out-of-place, arrays
 * aligned as fftwf_malloc() aligns them. NULL if FFTW cannot plan it. */
fftwf_plan ser_fft_plan_r2c_get(int n);
/* The inverse, complex-to-real (n/2 + 1 bins in, n points out, unscaled: the
 * result is n times the signal). Like every FFTW c2r plan, it overwrites its
 * input. */
fftwf_plan ser_fft_plan_c2r_get(int n);
/* Drop one reference; the plan is destroyed with its last user. */
void ser_fft_plan_release(fftwf_plan p);
/* The global planner lock, for other ser-core code that plans with FFTW. */
void ser_fft_lock(void);
void ser_fft_unlock(void);

#endif
