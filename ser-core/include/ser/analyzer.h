/* ser-core: the streaming analyzer: samples in, a result every interval.
 * Data flows one way: samples -> MFCC frames -> windows -> scores. */
#ifndef SER_ANALYZER_H
#define SER_ANALYZER_H

#include "model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ser_analyzer_config {
  uint64_t window;          /* samples at the model's rate; 0 = model default */
  uint64_t interval;        /* samples between window starts; 0 = 500 ms */
  double smoothing;         /* 0 = off; else exponential: s = a*s_prev + (1-a)*p, a in [0,1) */
  double speech_threshold;  /* dBFS; a window whose speech-frame level is below counts as no speech */
  uint64_t min_tail;        /* samples; shortest stream/tail classified at finish; 0 = default (1 s or model min) */
  /* Models with a running speaker normaliser (ser/spknorm.h; ser_model_spec
   * spk_mean): 1 (default) adapts it to the voice heard so far; 0 keeps it at
   * the model's prior (a typical training speaker). Ignored by other models. */
  int speaker_norm;
  double speaker_memory;    /* seconds of speech it averages over; 0 = the model's */
} ser_analyzer_config;

/* Default speech threshold, dBFS (see docs/analyzer.md for the detector). */
#define SER_SPEECH_THRESHOLD_DEFAULT (-50.0)

/* window = the model's, interval = 500 ms, smoothing off, speech threshold
 * SER_SPEECH_THRESHOLD_DEFAULT, min_tail = default, speaker normaliser on
 * with the model's memory. */
void ser_analyzer_config_default(ser_analyzer_config *c, const ser_model *m);

typedef struct ser_result {
  uint64_t start;       /* first sample of the window, counted since the last reset, at model rate */
  uint64_t length;      /* window length in samples */
  int speech;           /* 0 when the window held no speech */
  int32_t top;          /* index of the top label, -1 without speech */
  float confidence;     /* its score; 0 without speech */
  const float *scores;  /* n_labels (smoothed if enabled); valid during the callback */
  float level_db;       /* the window's level used by the detector */
  int is_tail;          /* 1 for the short window classified at finish */
  float speaker_s;      /* seconds of speech the speaker normaliser had adapted to
                         * when it normalised the window's last frame (decayed;
                         * -1: the model has none, 0: still at its prior); the
                         * same whatever the block sizes pushed */
} ser_result;

typedef void (*ser_result_fn)(void *user, const ser_result *r);

typedef struct ser_analyzer ser_analyzer;

ser_analyzer *ser_analyzer_new(ser_model *m, const ser_analyzer_config *c,
                               ser_error *err);
void ser_analyzer_free(ser_analyzer *a);
/* Takes effect at the next window. */
int ser_analyzer_set_config(ser_analyzer *a, const ser_analyzer_config *c,
                            ser_error *err);
void ser_analyzer_get_config(const ser_analyzer *a, ser_analyzer_config *c);
/* Mono float samples at the model's rate, any block size (x == NULL: n zeros).
 * Results are delivered through fn (may be NULL) from inside this call. */
void ser_analyzer_push(ser_analyzer *a, const float *x, size_t n,
                       ser_result_fn fn, void *user);
/* n samples of silence (a GAP). */
void ser_analyzer_push_silence(ser_analyzer *a, size_t n, ser_result_fn fn,
                               void *user);
/* End of stream: classify the unanalysed tail (or a short stream) if it is at
 * least min_tail long, then reset. */
void ser_analyzer_finish(ser_analyzer *a, ser_result_fn fn, void *user);
/* Forget the stream (flush, discont, new segment); sample count restarts at 0.
 * The speaker normaliser's statistics are kept: the voice is the same. */
void ser_analyzer_reset(ser_analyzer *a);
/* A new voice (a new stream, another speaker): the speaker normaliser goes
 * back to the model's prior. Allocates nothing. */
void ser_analyzer_reset_speaker(ser_analyzer *a);
/* Seconds of speech the speaker normaliser has adapted to (-1: none). */
double ser_analyzer_speaker_s(const ser_analyzer *a);
const ser_model *ser_analyzer_model(const ser_analyzer *a);

/* Counters since creation (for tests and benchmarks). */
typedef struct ser_analyzer_stats {
  uint64_t windows; /* results delivered */
  uint64_t reused;  /* windows computed with convolutions shared across windows */
  uint64_t skipped; /* windows dropped after a config change left their frames behind */
  uint64_t errors;  /* windows whose inference failed (uniform scores reported) */
} ser_analyzer_stats;
void ser_analyzer_get_stats(const ser_analyzer *a, ser_analyzer_stats *s);
/* 1 (default): temporal models reuse the convolutions of overlapping windows
 * (results equal to whole-window inference within float rounding); 0: every
 * window runs the whole network. For tests and benchmarks. */
void ser_analyzer_set_reuse(ser_analyzer *a, int on);

#ifdef __cplusplus
}
#endif
#endif
