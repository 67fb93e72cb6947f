/* ser-core: the running speaker normaliser.
 *
 * A voice's MFCCs sit around the voice's own mean (vocal tract, microphone,
 * room, level); the emotion is in how frames move around it. The normaliser
 * keeps a running per-coefficient mean and variance of the current voice's
 * speech frames and z-normalises every frame with them, before the model's
 * stored statistics. It starts from a prior (a typical training speaker)
 * worth prior_s seconds of speech, and forgets with an exponential memory of
 * memory_s seconds of speech, so it follows a change of speaker or channel.
 * Frames quieter than gate_db do not update it. See docs/analyzer.md.
 * No allocation after ser_spknorm_new(). */
#ifndef SER_SPKNORM_H
#define SER_SPKNORM_H

#include "common.h"
#include "features.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ser_spknorm_params {
  float memory_s; /* seconds of speech the statistics average over; 0 = never forget */
  float prior_s;  /* weight of the prior, in seconds of speech (>= 0) */
  float gate_db;  /* frames with energy below this (dBFS) are not counted */
} ser_spknorm_params;

#define SER_SPKNORM_MEMORY_DEFAULT 120.0f
#define SER_SPKNORM_PRIOR_DEFAULT 3.0f
#define SER_SPKNORM_GATE_DEFAULT (-50.0f)

void ser_spknorm_params_default(ser_spknorm_params *p);
/* 0 if valid, else -1 with a message naming the field. */
int ser_spknorm_params_check(const ser_spknorm_params *p, ser_error *err);

typedef struct ser_spknorm ser_spknorm;

/* dim values per frame, frames_per_s frames a second. prior_mean/prior_std
 * (dim floats, copied; std > 0) may both be NULL: no prior (prior_s is then
 * ignored; with no frame counted yet the statistics are 0 and 1). */
ser_spknorm *ser_spknorm_new(uint32_t dim, double frames_per_s, const float *prior_mean,
                             const float *prior_std, const ser_spknorm_params *p,
                             ser_error *err);
void ser_spknorm_free(ser_spknorm *s);
/* Back to the prior (a new voice). */
void ser_spknorm_reset(ser_spknorm *s);
/* Change memory/prior/gate; the statistics gathered so far are kept. */
int ser_spknorm_set_params(ser_spknorm *s, const ser_spknorm_params *p, ser_error *err);
/* out = (in - mean) / std with the statistics so far (the frame itself not
 * included), then the frame updates them when energy_db >= gate. in and out
 * may be the same array. out may be NULL (update only). Non-finite values
 * are not counted. */
void ser_spknorm_frame(ser_spknorm *s, const float *in, float energy_db, float *out);
/* The current statistics (dim floats each). */
void ser_spknorm_stats(const ser_spknorm *s, float *mean, float *std);
/* Seconds of speech counted, with forgetting applied (approaches memory_s). */
double ser_spknorm_speech_s(const ser_spknorm *s);
/* Feeds a whole clip (features with fp, computed with the streaming
 * extractor m, which is reset) through the normaliser, output discarded. */
void ser_spknorm_feed_clip(ser_spknorm *s, ser_mfcc *m, const float *audio, size_t n);

#ifdef __cplusplus
}
#endif
#endif
