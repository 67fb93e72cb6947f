/* Windowed-sinc resampling for augmentation (speed perturbation and the
 * second half of pitch shifting). The product's streaming path resamples
 * with GstAudioConverter; this is training-only. */
#include <math.h>
#include <string.h>

#include "augment_internal.h"

#define ZERO_CROSSINGS 16

void ser_resample_sinc(const float *x, size_t n, double step, float *y, size_t n_out) {
  if (n_out == 0) return;
  if (n == 0 || !(step > 0)) {
    memset(y, 0, n_out * sizeof *y);
    return;
  }
  const double fc = step > 1.0 ? 1.0 / step : 1.0; /* cut-off, relative to the input's Nyquist */
  const double half = ZERO_CROSSINGS / fc;           /* kernel half-width in input samples */
  const double phi = M_PI * fc, cphi = cos(phi), sphi = sin(phi);
  const double psi = M_PI / half, cpsi = cos(psi), spsi = sin(psi);
  const long ln = (long)n;
  for (size_t i = 0; i < n_out; i++) {
    const double t = (double)i * step;
    long j0 = (long)floor(t - half) + 1, j1 = (long)floor(t + half);
    double u = t - (double)j0; /* decreases by 1 per tap */
    /* sin(pi fc u) and the window's cos/sin(pi u / half), advanced by rotation */
    double sa = sin(phi * u), ca = cos(phi * u);
    double cb = cos(psi * u), sb = sin(psi * u);
    double acc = 0.0, wsum = 0.0;
    for (long j = j0; j <= j1; j++) {
      double k;
      if (fabs(u) < 1e-9) k = 1.0;
      else k = sa / (phi * u);
      k *= 0.5 + 0.5 * cb;
      wsum += k;
      if (j >= 0 && j < ln) acc += k * (double)x[j];
      /* u -> u - 1 */
      double ns = sa * cphi - ca * sphi, nc = ca * cphi + sa * sphi;
      sa = ns;
      ca = nc;
      double nb = cb * cpsi + sb * spsi, nsb = sb * cpsi - cb * spsi;
      cb = nb;
      sb = nsb;
      u -= 1.0;
    }
    y[i] = wsum != 0.0 ? (float)(acc / wsum) : 0.0f;
  }
}
