/* On-the-fly data augmentation for training: noise, speed, pitch, shift,
 * gain, crop (audio) and SpecAugment (features). Defaults and definitions:
 * docs/data-and-augmentation.md. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ser/augment.h"
#include "augment_internal.h"

void ser_augment_config_default(ser_augment_config *c) {
  memset(c, 0, sizeof *c);
  c->p_noise = 0.5f;
  c->snr_min_db = 10.0f;
  c->snr_max_db = 30.0f;
  c->p_speed = 0.3f;
  c->speed_min = 0.9f;
  c->speed_max = 1.1f;
  c->p_pitch = 0.3f;
  c->pitch_min_st = -2.0f;
  c->pitch_max_st = 2.0f;
  c->p_shift = 0.3f;
  c->shift_max_s = 0.2f;
  c->p_gain = 0.5f;
  c->gain_min_db = -6.0f;
  c->gain_max_db = 6.0f;
  c->p_crop = 0.0f;
  c->crop_s = 3.0f;
  c->p_specaug = 0.5f;
  c->time_masks = 2;
  c->time_mask_max = 20;
  c->freq_masks = 2;
  c->freq_mask_max = 6;
}

void ser_augment_config_off(ser_augment_config *c) {
  ser_augment_config_default(c);
  c->p_noise = c->p_speed = c->p_pitch = c->p_shift = c->p_gain = c->p_crop = c->p_specaug = 0.0f;
}

#define MAX_SEMITONES 12.0f

static int check_p(float p, const char *name, ser_error *err) {
  if (!(p >= 0.0f && p <= 1.0f)) return ser_fail(err, "%s: %g is not a probability in [0, 1]", name, (double)p);
  return 0;
}

static int check_range(float lo, float hi, float min, float max, const char *lname, const char *hname,
                       ser_error *err) {
  if (!(lo >= min && lo <= max)) return ser_fail(err, "%s: %g is outside [%g, %g]", lname, (double)lo, (double)min, (double)max);
  if (!(hi >= min && hi <= max)) return ser_fail(err, "%s: %g is outside [%g, %g]", hname, (double)hi, (double)min, (double)max);
  if (lo > hi) return ser_fail(err, "%s: %g is larger than %s %g", lname, (double)lo, hname, (double)hi);
  return 0;
}

int ser_augment_config_check(const ser_augment_config *c, ser_error *err) {
  if (!c) return ser_fail(err, "augment: no configuration");
  if (check_p(c->p_noise, "p_noise", err) || check_p(c->p_speed, "p_speed", err) ||
      check_p(c->p_pitch, "p_pitch", err) || check_p(c->p_shift, "p_shift", err) ||
      check_p(c->p_gain, "p_gain", err) || check_p(c->p_crop, "p_crop", err) ||
      check_p(c->p_specaug, "p_specaug", err))
    return -1;
  if (c->p_noise > 0 && check_range(c->snr_min_db, c->snr_max_db, -30, 100, "snr_min_db", "snr_max_db", err))
    return -1;
  if (c->p_speed > 0 && (check_range(c->speed_min, c->speed_max, 0.25f, 4.0f, "speed_min", "speed_max", err)))
    return -1;
  if (c->p_pitch > 0 && check_range(c->pitch_min_st, c->pitch_max_st, -MAX_SEMITONES, MAX_SEMITONES,
                                    "pitch_min_st", "pitch_max_st", err))
    return -1;
  if (c->p_shift > 0 && !(c->shift_max_s >= 0 && c->shift_max_s <= 60))
    return ser_fail(err, "shift_max_s: %g is outside [0, 60] seconds", (double)c->shift_max_s);
  if (c->p_gain > 0 && check_range(c->gain_min_db, c->gain_max_db, -60, 60, "gain_min_db", "gain_max_db", err))
    return -1;
  if (c->p_crop > 0 && !(c->crop_s > 0 && c->crop_s <= 3600))
    return ser_fail(err, "crop_s: %g is not a length in (0, 3600] seconds", (double)c->crop_s);
  return 0;
}

static float uniform_in(ser_rng *r, float lo, float hi) {
  return lo + (hi - lo) * ser_rng_uniform(r);
}

/* ---- individual transforms ---- */

void ser_aug_gain(float *x, size_t n, float gain_db) {
  float g = powf(10.0f, gain_db / 20.0f);
  for (size_t i = 0; i < n; i++) x[i] *= g;
}

/* With noise (n floats): the noise is drawn once, kept there to measure its
 * power, then added. Without: drawn twice from the same state (no buffer),
 * which gives the same result and leaves rng in the same state, but the
 * normal draws (a log and a cos each) are most of the cost. */
static void add_noise(ser_rng *rng, float *x, size_t n, float snr_db, float *noise) {
  if (n == 0) return;
  double ps = 0.0;
  for (size_t i = 0; i < n; i++) ps += (double)x[i] * x[i];
  ps /= (double)n;
  if (ps <= 0.0) return;
  ser_rng save = *rng;
  double pn = 0.0;
  for (size_t i = 0; i < n; i++) {
    float v = ser_rng_normal(rng);
    if (noise) noise[i] = v;
    pn += (double)v * v;
  }
  pn /= (double)n;
  if (pn <= 0.0) return;
  double scale = sqrt(ps / pow(10.0, snr_db / 10.0) / pn);
  if (noise) {
    for (size_t i = 0; i < n; i++) x[i] += (float)(scale * noise[i]);
    return;
  }
  *rng = save;
  for (size_t i = 0; i < n; i++) x[i] += (float)(scale * ser_rng_normal(rng));
}

void ser_aug_add_noise(ser_rng *rng, float *x, size_t n, float snr_db) { add_noise(rng, x, n, snr_db, NULL); }

size_t ser_aug_speed(const float *in, size_t n, float factor, float *out) {
  if (n == 0 || !(factor > 0)) return 0;
  size_t n_out = (size_t)floor((double)(n - 1) / (double)factor) + 1;
  ser_resample_sinc(in, n, (double)factor, out, n_out);
  return n_out;
}

static double pitch_ratio(float semitones) { return pow(2.0, semitones / 12.0); }

size_t ser_aug_pitch_scratch(size_t n, float semitones) {
  if (!(fabsf(semitones) <= MAX_SEMITONES)) semitones = MAX_SEMITONES;
  return (size_t)ceil((double)n * pitch_ratio(semitones)) + 64;
}

int ser_aug_pitch_buf(const float *in, size_t n, uint32_t sr, float semitones, float *out, float *scratch,
                      size_t scratch_len, ser_error *err) {
  if (!(fabsf(semitones) <= MAX_SEMITONES))
    return ser_fail(err, "pitch: %g semitones is outside [-12, 12]", (double)semitones);
  if (sr == 0) return ser_fail(err, "pitch: sample rate 0");
  if (n == 0) return 0;
  size_t need = ser_aug_pitch_scratch(n, semitones);
  if (!scratch || scratch_len < need)
    return ser_fail(err, "pitch: scratch of %zu samples, %zu needed", scratch_len, need);
  double r = pitch_ratio(semitones);
  /* stretch to n * r samples (same pitch), then play back r times faster */
  ser_wsola(in, n, r, sr, scratch, need);
  ser_resample_sinc(scratch, need, r, out, n);
  return 0;
}

int ser_aug_pitch(const float *in, size_t n, uint32_t sr, float semitones, float *out, ser_error *err) {
  if (!(fabsf(semitones) <= MAX_SEMITONES))
    return ser_fail(err, "pitch: %g semitones is outside [-12, 12]", (double)semitones);
  size_t need = ser_aug_pitch_scratch(n, semitones);
  float *s = malloc(need * sizeof *s);
  if (!s) return ser_fail(err, "pitch: out of memory (%zu samples)", need);
  int rc = ser_aug_pitch_buf(in, n, sr, semitones, out, s, need, err);
  free(s);
  return rc;
}

void ser_aug_shift(float *x, size_t n, long shift) {
  if (n == 0 || shift == 0) return;
  size_t a = (size_t)labs(shift);
  if (a >= n) {
    memset(x, 0, n * sizeof *x);
    return;
  }
  if (shift > 0) {
    memmove(x + a, x, (n - a) * sizeof *x);
    memset(x, 0, a * sizeof *x);
  } else {
    memmove(x, x + a, (n - a) * sizeof *x);
    memset(x + n - a, 0, a * sizeof *x);
  }
}

void ser_aug_specaugment(const ser_augment_config *c, ser_rng *rng, float *feats, size_t frames, uint32_t dim) {
  if (!c || !feats || frames == 0 || dim == 0 || !(c->p_specaug > 0)) return;
  if (ser_rng_uniform(rng) >= c->p_specaug) return;
  for (uint32_t k = 0; k < c->time_masks && c->time_mask_max > 0; k++) {
    size_t maxw = c->time_mask_max < frames ? c->time_mask_max : frames;
    size_t w = 1 + ser_rng_below(rng, (uint32_t)maxw);
    size_t t0 = ser_rng_below(rng, (uint32_t)(frames - w + 1));
    memset(feats + t0 * dim, 0, w * dim * sizeof *feats);
  }
  for (uint32_t k = 0; k < c->freq_masks && c->freq_mask_max > 0; k++) {
    uint32_t maxw = c->freq_mask_max < dim ? c->freq_mask_max : dim;
    uint32_t w = 1 + ser_rng_below(rng, maxw);
    uint32_t f0 = ser_rng_below(rng, dim - w + 1);
    for (size_t t = 0; t < frames; t++) memset(feats + t * dim + f0, 0, w * sizeof *feats);
  }
}

/* ---- the whole chain ---- */

int ser_augment_audio(const ser_augment_config *c, ser_rng *rng, uint32_t sr, const float *in, size_t n,
                      float **out, size_t *cap, size_t *n_out, ser_error *err) {
  if (!out || !cap || !n_out || !rng) return ser_fail(err, "augment: missing output or generator");
  *n_out = 0;
  if (ser_augment_config_check(c, err) != 0) return -1;
  if (sr == 0) return ser_fail(err, "augment: sample rate 0");
  if (n > 0 && !in) return ser_fail(err, "augment: no input");

  /* draw every decision first, in a fixed order */
  size_t start = 0, len = n;
  size_t crop_len = (size_t)llround((double)c->crop_s * sr);
  if (c->p_crop > 0 && crop_len > 0 && n > crop_len && ser_rng_uniform(rng) < c->p_crop) {
    start = ser_rng_below(rng, (uint32_t)(n - crop_len + 1 > UINT32_MAX ? UINT32_MAX : n - crop_len + 1));
    len = crop_len;
  }
  float speed = 1.0f;
  if (c->p_speed > 0 && ser_rng_uniform(rng) < c->p_speed) speed = uniform_in(rng, c->speed_min, c->speed_max);
  float semis = 0.0f;
  if (c->p_pitch > 0 && ser_rng_uniform(rng) < c->p_pitch) semis = uniform_in(rng, c->pitch_min_st, c->pitch_max_st);
  long shift = 0;
  if (c->p_shift > 0 && ser_rng_uniform(rng) < c->p_shift)
    shift = lround((double)uniform_in(rng, -c->shift_max_s, c->shift_max_s) * sr);
  int do_gain = c->p_gain > 0 && ser_rng_uniform(rng) < c->p_gain;
  float gain = do_gain ? uniform_in(rng, c->gain_min_db, c->gain_max_db) : 0.0f;
  int do_noise = c->p_noise > 0 && ser_rng_uniform(rng) < c->p_noise;
  float snr = do_noise ? uniform_in(rng, c->snr_min_db, c->snr_max_db) : 0.0f;

  int do_speed = speed != 1.0f && len > 0;
  int do_pitch = fabsf(semis) >= 1e-3f && len > 0;
  size_t len2 = do_speed ? (size_t)floor((double)(len - 1) / (double)speed) + 1 : len;
  size_t scratch = do_pitch ? ser_aug_pitch_scratch(len2, semis) : 0;
  if (do_noise && scratch < len2) scratch = len2; /* (the noise, after the pitch shift is done) */
  size_t need = len2 + scratch;
  if (need == 0) need = 1;
  if (*cap < need || !*out) {
    float *nb = realloc(*out, need * sizeof *nb);
    if (!nb) return ser_fail(err, "augment: out of memory (%zu samples)", need);
    *out = nb;
    *cap = need;
  }
  float *a = *out;
  if (do_speed) {
    size_t got = ser_aug_speed(in + start, len, speed, a);
    (void)got; /* == len2 by construction */
  } else if (len) {
    memcpy(a, in + start, len * sizeof *a);
  }
  if (do_pitch && ser_aug_pitch_buf(a, len2, sr, semis, a, a + len2, scratch, err) != 0) return -1;
  if (shift) ser_aug_shift(a, len2, shift);
  if (do_gain) ser_aug_gain(a, len2, gain);
  if (do_noise) add_noise(rng, a, len2, snr, a + len2);
  *n_out = len2;
  return 0;
}
