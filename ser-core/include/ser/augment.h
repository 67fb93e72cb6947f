/* ser-core: data augmentation for training (on the fly, training data only). */
#ifndef SER_AUGMENT_H
#define SER_AUGMENT_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Each augmentation is applied with its probability; 0 switches it off.
 * Defaults (ser_augment_config_default) are documented in
 * docs/data-and-augmentation.md. */
typedef struct ser_augment_config {
  float p_noise;   float snr_min_db, snr_max_db;        /* additive white/pink noise at a random SNR */
  float p_speed;   float speed_min, speed_max;          /* speed perturbation (resampling; changes duration) */
  float p_pitch;   float pitch_min_st, pitch_max_st;    /* pitch shift in semitones, duration kept (WSOLA + resampling) */
  float p_shift;   float shift_max_s;                   /* circular-free time shift (zero fill) */
  float p_gain;    float gain_min_db, gain_max_db;      /* gain */
  float p_crop;    float crop_s;                        /* random crop of crop_s seconds (if longer) */
  float p_specaug; uint32_t time_masks, time_mask_max;  /* SpecAugment: masks on feature frames */
  uint32_t freq_masks, freq_mask_max;
} ser_augment_config;

void ser_augment_config_default(ser_augment_config *c);
void ser_augment_config_off(ser_augment_config *c);

/* Audio-domain augmentation of one clip at sample rate sr. Writes to *out
 * (realloc'd as needed, capacity in *cap) and its length to *n_out.
 * Order: crop, speed, pitch, shift, gain, noise (noise last, so the SNR is
 * relative to the final signal). Each is applied when a uniform draw is below
 * its probability. The only allocation is growing *out: its tail is the
 * scratch space of the pitch shifter and of the noise, so *cap may exceed *n_out; reuse the
 * same buffer for every clip and nothing is allocated once it is large
 * enough. in must not overlap *out. Errors: a bad config field (names it). */
int ser_augment_audio(const ser_augment_config *c, ser_rng *rng, uint32_t sr,
                      const float *in, size_t n, float **out, size_t *cap,
                      size_t *n_out, ser_error *err);
/* Added: checks every field (probabilities in [0, 1], min <= max, speeds
 * in (0.25, 4], pitch within +/-12 semitones, ...); -1 with the field named. */
int ser_augment_config_check(const ser_augment_config *c, ser_error *err);

/* Individual transforms (deterministic given their arguments). */
/* White Gaussian noise scaled so that 10 log10(mean(x^2) / mean(noise^2)) is
 * exactly snr_db over the clip; a silent clip is left unchanged. */
void ser_aug_add_noise(ser_rng *rng, float *x, size_t n, float snr_db);
void ser_aug_gain(float *x, size_t n, float gain_db);
/* Resample by factor (out length ~ n / factor); out must hold n/factor + 2.
 * Windowed-sinc interpolation (16 zero crossings, Hann), low-passed at
 * 1/factor when factor > 1. Returns the output length, floor((n-1)/factor)+1. */
size_t ser_aug_speed(const float *in, size_t n, float factor, float *out);
/* Pitch shift by semitones keeping duration; out holds n samples.
 * WSOLA time-stretch by 2^(st/12), then resampling back to n samples.
 * Allocates its scratch per call (ser_augment_audio does not; see
 * ser_aug_pitch_buf). semitones within +/-12, else -1. */
int ser_aug_pitch(const float *in, size_t n, uint32_t sr, float semitones,
                  float *out, ser_error *err);
/* Added: scratch floats ser_aug_pitch_buf needs for n samples. */
size_t ser_aug_pitch_scratch(size_t n, float semitones);
/* Added: ser_aug_pitch with caller-provided scratch (no allocation). */
int ser_aug_pitch_buf(const float *in, size_t n, uint32_t sr, float semitones,
                      float *out, float *scratch, size_t scratch_len, ser_error *err);
/* Added: moves the content by shift samples (> 0 later, < 0 earlier),
 * zero fill, length kept. */
void ser_aug_shift(float *x, size_t n, long shift);
/* SpecAugment on frames x dim features (row-major), masking with 0 (the
 * normalised mean). Applied with probability p_specaug (0 = off): then
 * time_masks runs of whole frames, each of a width uniform in
 * [1, min(time_mask_max, frames)], and freq_masks runs of coefficients, each
 * [1, min(freq_mask_max, dim)] wide, at uniform positions (they may overlap). */
void ser_aug_specaugment(const ser_augment_config *c, ser_rng *rng, float *feats,
                         size_t frames, uint32_t dim);

#ifdef __cplusplus
}
#endif
#endif
