/* ser-core: data augmentation for training (on the fly, training data only). */
#ifndef SER_AUGMENT_H
#define SER_AUGMENT_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Each augmentation is applied with its probability; 0 switches it off.
 * Defaults (ser_augment_config_default) are documented in docs/training.md. */
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
 * (realloc'd as needed, capacity in *cap) and its length to *n_out. */
int ser_augment_audio(const ser_augment_config *c, ser_rng *rng, uint32_t sr,
                      const float *in, size_t n, float **out, size_t *cap,
                      size_t *n_out, ser_error *err);
/* Individual transforms (deterministic given their arguments). */
void ser_aug_add_noise(ser_rng *rng, float *x, size_t n, float snr_db);
void ser_aug_gain(float *x, size_t n, float gain_db);
/* Resample by factor (out length ~ n / factor); out must hold n/factor + 2. */
size_t ser_aug_speed(const float *in, size_t n, float factor, float *out);
/* Pitch shift by semitones keeping duration; out holds n samples. */
int ser_aug_pitch(const float *in, size_t n, uint32_t sr, float semitones,
                  float *out, ser_error *err);
/* SpecAugment on frames x dim features (row-major), masking with 0 (the
 * normalised mean). */
void ser_aug_specaugment(const ser_augment_config *c, ser_rng *rng, float *feats,
                         size_t frames, uint32_t dim);

#ifdef __cplusplus
}
#endif
#endif
