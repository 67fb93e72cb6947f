/* Shared, refcounted FFTW3f r2c plans (internal to ser-core).
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
/* Drop one reference; the plan is destroyed with its last user. */
void ser_fft_plan_release(fftwf_plan p);
/* The global planner lock, for other ser-core code that plans with FFTW. */
void ser_fft_lock(void);
void ser_fft_unlock(void);

#endif
