/* Minimal RIFF/WAVE PCM reader: the `ser features` fast path (internal to
 * ser-core; declared here, not in the public headers).
 * Handles integer PCM S16 and S32 and IEEE float F32 (also in
 * WAVE_FORMAT_EXTENSIBLE), any channel count (mixed to mono as the mean of
 * the channels), little-endian hosts only. Anything else is left to the
 * GStreamer decoder. */
#ifndef SER_WAV_H
#define SER_WAV_H

#include <stdint.h>
#include <stdio.h>

typedef struct ser_wav {
  FILE *f;
  uint32_t rate;
  uint32_t channels;
  uint32_t bytes;    /* bytes per sample of one channel: 2 or 4 */
  uint32_t is_float; /* 1: F32, 0: signed integer */
  uint64_t frames;   /* sample frames in the data chunk (clamped to the file) */
  uint64_t left;     /* frames not yet read */
} ser_wav;

/* 1: opened, w describes the stream; 0: not a WAV file this reader handles
 * (use another decoder); -1: the file cannot be read (err names it). */
int ser_wav_open(ser_wav *w, const char *path, char *err, size_t errlen);
/* Up to max mono samples into out; returns the count (0 at the end). */
size_t ser_wav_read(ser_wav *w, float *out, size_t max);
void ser_wav_close(ser_wav *w);

#endif
