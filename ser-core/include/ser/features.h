/* ser-core: streaming MFCC features (SPEC section 3). */
#ifndef SER_FEATURES_H
#define SER_FEATURES_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { SER_WIN_HANN = 0, SER_WIN_HAMMING = 1 } ser_window_fn;
typedef enum { SER_MEL_HTK = 0, SER_MEL_SLANEY = 1 } ser_mel_scale;
typedef enum { SER_MELNORM_NONE = 0, SER_MELNORM_SLANEY = 1 } ser_mel_norm;
/* DB: 10*log10(max(P, 1e-10)); LN: log(P + 1e-6) */
typedef enum { SER_LOG_DB = 0, SER_LOG_LN = 1 } ser_log_kind;

/* All feature parameters. Stored verbatim in every model file, so a model
 * always gets the features it was trained on. Fields are fixed-width so the
 * struct maps 1:1 onto the model file's feature section. */
typedef struct ser_feature_params {
  uint32_t sample_rate; /* 16000 */
  uint32_t win_length;  /* 400 (frame length, samples) */
  uint32_t hop_length;  /* 160 */
  uint32_t n_fft;       /* 512, >= win_length (window centred and zero padded) */
  uint32_t window;      /* ser_window_fn, periodic; SER_WIN_HANN */
  uint32_t n_mels;      /* 40 */
  float fmin;           /* 0 Hz */
  float fmax;           /* 0 = sample_rate / 2 */
  uint32_t mel_scale;   /* ser_mel_scale; SER_MEL_HTK */
  uint32_t mel_norm;    /* ser_mel_norm; SER_MELNORM_NONE */
  uint32_t log;         /* ser_log_kind; SER_LOG_DB */
  uint32_t n_mfcc;      /* 40, <= n_mels (DCT-II, orthonormal) */
  float preemph;        /* 0 = off; else y[n] = x[n] - preemph * x[n-1] */
  uint32_t deltas;      /* 0 none, 1 deltas, 2 deltas and delta-deltas */
  uint32_t delta_width; /* regression width, odd, >= 3; 9 */
  /* Clip-level extras (the paper preset). Honoured by ser_features_clip();
   * the streaming extractor refuses center and top_db (they need the whole
   * clip) but supports zcr_rms. */
  uint32_t center;      /* 1: frames centred, n_fft/2 zeros padded each side */
  float top_db;         /* > 0: clip dB values below (clip max - top_db) */
  uint32_t zcr_rms;     /* 1: append zero-crossing rate and RMS per frame */
  /* Prosody (off in the SPEC defaults; streaming and clip, not with center). */
  uint32_t pitch;       /* 1: append log pitch, log2(F0 / 100 Hz), held through
                           unvoiced frames, and voicing strength (0..1), from
                           the normalised cross-correlation of the frame's
                           n_fft raw samples (F0 60-500 Hz) */
} ser_feature_params;

/* SPEC defaults: 16 kHz, 400/160, FFT 512, hann, 40 htk mels, dB, 40 MFCC. */
void ser_feature_params_default(ser_feature_params *p);
/* The paper's librosa-style preset: 22.05 kHz, n_fft 2048 = win, hop 512,
 * 128 slaney mels with slaney norm, centred, top_db 80, 20 MFCC, ZCR + RMS. */
void ser_feature_params_paper(ser_feature_params *p);
/* 0 if valid, else -1 with a message naming the parameter. */
int ser_feature_params_check(const ser_feature_params *p, ser_error *err);
/* Values per frame: n_mfcc * (1 + deltas) + (zcr_rms ? 2 : 0) + (pitch ? 2 : 0).
 * Column order: mfcc, deltas, delta-deltas, zcr, rms, log pitch, voicing. */
uint32_t ser_feature_dim(const ser_feature_params *p);

/* Streaming extractor. Samples in any block size; each frame is computed
 * once and delivered as soon as it is complete (with deltas: as soon as the
 * regression window's future frames exist). Output is bit-identical whatever
 * the block sizes. No allocation after ser_mfcc_new(). */
typedef struct ser_mfcc ser_mfcc;

/* frame: ser_feature_dim() floats, valid during the call only.
 * energy_db: 10*log10(mean(x^2) + 1e-10) of the frame's raw samples
 * (full scale = 1.0), for speech detection. */
typedef void (*ser_frame_fn)(void *user, const float *frame, float energy_db);

ser_mfcc *ser_mfcc_new(const ser_feature_params *p, ser_error *err);
void ser_mfcc_free(ser_mfcc *m);
/* Forget all buffered samples and frames (start of a new stream). */
void ser_mfcc_reset(ser_mfcc *m);
uint32_t ser_mfcc_dim(const ser_mfcc *m);
/* Non-finite samples (NaN, +-Inf) are replaced by 0 before analysis, so
 * output stays finite; ser_mfcc_nonfinite() counts them since
 * ser_mfcc_new() (reset and flush keep the count). One extractor per thread;
 * extractors may be created, used and freed in parallel (FFTW planning is
 * serialised inside ser-core). */
void ser_mfcc_push(ser_mfcc *m, const float *x, size_t n, ser_frame_fn fn,
                   void *user);
/* End of stream: deliver frames held back for deltas (edge frames
 * replicated, as torchaudio's compute_deltas does), then reset. */
void ser_mfcc_flush(ser_mfcc *m, ser_frame_fn fn, void *user);
uint64_t ser_mfcc_nonfinite(const ser_mfcc *m);

/* Frames that n samples give: without center, 1 + (n - n_fft) / hop_length
 * if n >= n_fft, else 0 (the streaming extractor delivers exactly this many
 * frames for n samples pushed and flushed); with center, 1 + n / hop_length
 * for n >= 1 (n_fft even), else 0. */
size_t ser_feature_frames(const ser_feature_params *p, size_t n);

/* Whole clip, honouring every parameter (center, top_db, zcr_rms).
 * *out is malloc'd, n_frames x ser_feature_dim(), row-major; free() it.
 * Non-finite samples are replaced by 0. Without center the frames and values
 * are bit-identical to the streaming extractor's (same code). A clip that
 * gives no frame (see ser_feature_frames) gives 0 frames and *out == NULL. */
int ser_features_clip(const ser_feature_params *p, const float *x, size_t n,
                      float **out, size_t *n_frames, ser_error *err);
/* ser_features_clip for many clips with one extractor: ser_mfcc_clip_new
 * accepts what ser_features_clip accepts (center, top_db too) and sets up
 * the tables, the pitch tracker and the FFT plan once; ser_mfcc_clip gives
 * the same bits as ser_features_clip with m's parameters. Such an
 * extractor is for whole clips only (not ser_mfcc_push). One per thread. */
ser_mfcc *ser_mfcc_clip_new(const ser_feature_params *p, ser_error *err);
int ser_mfcc_clip(ser_mfcc *m, const float *x, size_t n, float **out,
                  size_t *n_frames, ser_error *err);

#ifdef __cplusplus
}
#endif
#endif
