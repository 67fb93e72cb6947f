/* Frame-level pitch (internal to ser-core; used by the MFCC extractor when
 * ser_feature_params.pitch is set). Per frame of n raw samples it gives two
 * values: the log pitch in octaves relative to 100 Hz, log2(F0 / 100 Hz),
 * held at the last voiced frame's value through unvoiced frames, and the
 * voicing strength, the peak of the normalised cross-correlation (0..1).
 * Frames are analysed in order; the hold is the only state. */
#ifndef SER_PITCH_H
#define SER_PITCH_H

#include <stdint.h>

#include "ser/common.h"

#define SER_PITCH_FMIN 60.0  /* Hz: lowest pitch searched */
#define SER_PITCH_FMAX 500.0 /* Hz: highest */
#define SER_PITCH_VOICED 0.5f /* voicing strength from which a frame's pitch is taken */
#define SER_PITCH_START 0.5849625f /* log2(150 / 100): the value before any voiced frame */

typedef struct ser_pitch ser_pitch;

/* 0 if a pitch tracker can run on frames of n samples at rate sr, else -1
 * with a message naming the parameter. */
int ser_pitch_check(uint32_t sample_rate, uint32_t n, ser_error *err);
ser_pitch *ser_pitch_new(uint32_t sample_rate, uint32_t n, ser_error *err);
void ser_pitch_free(ser_pitch *p);
/* Forget the held pitch (a new stream). */
void ser_pitch_reset(ser_pitch *p);
/* x: n finite samples. out[0] = log pitch (held), out[1] = voicing. */
void ser_pitch_frame(ser_pitch *p, const float *x, float out[2]);

#endif
