/* The running speaker normaliser (ser/spknorm.h): exponentially weighted
 * per-coefficient sums of the voice's speech frames, blended with a prior. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ser.h"

struct ser_spknorm {
  uint32_t dim;
  double fps;
  ser_spknorm_params p;
  double lambda; /* decay per counted frame */
  double w0;     /* prior weight, frames */
  double w;      /* counted frames, decayed */
  double *s1, *s2;
  float *pm, *pv; /* prior mean and variance, or NULL */
  float *mean, *inv;
};

void ser_spknorm_params_default(ser_spknorm_params *p) {
  p->memory_s = SER_SPKNORM_MEMORY_DEFAULT;
  p->prior_s = SER_SPKNORM_PRIOR_DEFAULT;
  p->gate_db = SER_SPKNORM_GATE_DEFAULT;
}

int ser_spknorm_params_check(const ser_spknorm_params *p, ser_error *err) {
  if (!isfinite(p->memory_s) || p->memory_s < 0 || p->memory_s > 1e6f)
    return ser_fail(err, "speaker normaliser: memory %g s is not in [0, 1e6]", p->memory_s);
  if (!isfinite(p->prior_s) || p->prior_s < 0 || p->prior_s > 1e6f)
    return ser_fail(err, "speaker normaliser: prior weight %g s is not in [0, 1e6]", p->prior_s);
  if (!isfinite(p->gate_db) || p->gate_db < -200 || p->gate_db > 0)
    return ser_fail(err, "speaker normaliser: gate %g dBFS is not in [-200, 0]", p->gate_db);
  return 0;
}

/* mean and 1/std from the sums and the prior */
static void refresh(ser_spknorm *s) {
  double W = s->w0 + s->w;
  for (uint32_t d = 0; d < s->dim; d++) {
    double m = 0, v = 1;
    if (W > 0) {
      double a = s->s1[d], b = s->s2[d];
      if (s->pm) {
        a += s->w0 * s->pm[d];
        b += s->w0 * (s->pv[d] + (double)s->pm[d] * s->pm[d]);
      }
      m = a / W;
      v = b / W - m * m;
    }
    if (!(v > 1e-6)) v = 1e-6;
    s->mean[d] = (float)m;
    s->inv[d] = (float)(1.0 / sqrt(v));
  }
}

static void apply_params(ser_spknorm *s, const ser_spknorm_params *p) {
  s->p = *p;
  s->lambda = p->memory_s > 0 ? exp(-1.0 / (p->memory_s * s->fps)) : 1.0;
  s->w0 = s->pm ? p->prior_s * s->fps : 0.0;
}

ser_spknorm *ser_spknorm_new(uint32_t dim, double frames_per_s, const float *prior_mean,
                             const float *prior_std, const ser_spknorm_params *p,
                             ser_error *err) {
  if (dim == 0 || !(frames_per_s > 0)) {
    ser_fail(err, "speaker normaliser: %u values per frame at %g frames/s", dim, frames_per_s);
    return NULL;
  }
  if (!prior_mean != !prior_std) {
    ser_fail(err, "speaker normaliser: prior mean and std must be given together");
    return NULL;
  }
  ser_spknorm_params def;
  if (!p) {
    ser_spknorm_params_default(&def);
    p = &def;
  }
  if (ser_spknorm_params_check(p, err) < 0) return NULL;
  if (prior_mean)
    for (uint32_t d = 0; d < dim; d++)
      if (!isfinite(prior_mean[d]) || !isfinite(prior_std[d]) || !(prior_std[d] > 0)) {
        ser_fail(err, "speaker normaliser: prior[%u] is not a finite mean with a positive std", d);
        return NULL;
      }
  ser_spknorm *s = calloc(1, sizeof *s);
  if (!s) goto oom;
  s->dim = dim;
  s->fps = frames_per_s;
  s->s1 = calloc(2 * (size_t)dim, sizeof(double));
  s->mean = malloc(2 * (size_t)dim * sizeof(float));
  if (!s->s1 || !s->mean) goto oom;
  s->s2 = s->s1 + dim;
  s->inv = s->mean + dim;
  if (prior_mean) {
    s->pm = malloc(2 * (size_t)dim * sizeof(float));
    if (!s->pm) goto oom;
    s->pv = s->pm + dim;
    for (uint32_t d = 0; d < dim; d++) {
      s->pm[d] = prior_mean[d];
      s->pv[d] = prior_std[d] * prior_std[d];
    }
  }
  apply_params(s, p);
  ser_spknorm_reset(s);
  return s;
oom:
  ser_spknorm_free(s);
  ser_fail(err, "speaker normaliser: out of memory");
  return NULL;
}

void ser_spknorm_free(ser_spknorm *s) {
  if (!s) return;
  free(s->s1);
  free(s->mean);
  free(s->pm);
  free(s);
}

void ser_spknorm_reset(ser_spknorm *s) {
  s->w = 0;
  memset(s->s1, 0, 2 * (size_t)s->dim * sizeof(double));
  refresh(s);
}

int ser_spknorm_set_params(ser_spknorm *s, const ser_spknorm_params *p, ser_error *err) {
  if (ser_spknorm_params_check(p, err) < 0) return -1;
  apply_params(s, p);
  refresh(s);
  return 0;
}

void ser_spknorm_frame(ser_spknorm *s, const float *in, float energy_db, float *out) {
  int count = energy_db >= s->p.gate_db;
  for (uint32_t d = 0; d < s->dim && count; d++)
    if (!isfinite(in[d])) count = 0;
  if (count) { /* update before writing out: in and out may alias */
    double l = s->lambda;
    s->w = l * s->w + 1.0;
    for (uint32_t d = 0; d < s->dim; d++) {
      double x = in[d];
      s->s1[d] = l * s->s1[d] + x;
      s->s2[d] = l * s->s2[d] + x * x;
    }
  }
  if (out)
    for (uint32_t d = 0; d < s->dim; d++) out[d] = (in[d] - s->mean[d]) * s->inv[d];
  if (count) refresh(s);
}

void ser_spknorm_stats(const ser_spknorm *s, float *mean, float *std) {
  for (uint32_t d = 0; d < s->dim; d++) {
    mean[d] = s->mean[d];
    std[d] = 1.0f / s->inv[d];
  }
}

double ser_spknorm_speech_s(const ser_spknorm *s) { return s->w / s->fps; }

static void feed_frame(void *user, const float *f, float energy_db) {
  ser_spknorm_frame(user, f, energy_db, NULL);
}

void ser_spknorm_feed_clip(ser_spknorm *s, ser_mfcc *m, const float *audio, size_t n) {
  ser_mfcc_reset(m);
  ser_mfcc_push(m, audio, n, feed_frame, s);
  ser_mfcc_flush(m, feed_frame, s);
}
