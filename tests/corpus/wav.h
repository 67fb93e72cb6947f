/* Minimal reader for 16-bit PCM WAV (the EMO-DB originals), for tests only:
 * the product decodes through GStreamer. Returns malloc'd mono floats. */
#ifndef SER_TEST_WAV_H
#define SER_TEST_WAV_H
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline uint32_t wav_le32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline float *wav_read(const char *path, size_t *n, uint32_t *sr) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  unsigned char h[12], ch[8];
  float *out = NULL;
  uint16_t channels = 0, bits = 0, fmt = 0;
  if (fread(h, 1, 12, f) != 12 || memcmp(h, "RIFF", 4) || memcmp(h + 8, "WAVE", 4)) goto done;
  while (fread(ch, 1, 8, f) == 8) {
    uint32_t len = wav_le32(ch + 4);
    if (!memcmp(ch, "fmt ", 4)) {
      unsigned char b[16];
      if (len < 16 || fread(b, 1, 16, f) != 16) goto done;
      fmt = (uint16_t)(b[0] | b[1] << 8);
      channels = (uint16_t)(b[2] | b[3] << 8);
      *sr = wav_le32(b + 4);
      bits = (uint16_t)(b[14] | b[15] << 8);
      if (fseek(f, (long)(len - 16 + (len & 1)), SEEK_CUR)) goto done;
    } else if (!memcmp(ch, "data", 4)) {
      if (fmt != 1 || bits != 16 || channels < 1) goto done;
      size_t frames = len / (2u * channels);
      int16_t *raw = malloc(len ? len : 1);
      out = malloc((frames ? frames : 1) * sizeof *out);
      if (!raw || !out || fread(raw, 2 * channels, frames, f) != frames) {
        free(raw);
        free(out);
        out = NULL;
        goto done;
      }
      for (size_t i = 0; i < frames; i++) {
        float s = 0;
        for (uint16_t c = 0; c < channels; c++) s += raw[i * channels + c] / 32768.0f;
        out[i] = s / channels;
      }
      free(raw);
      *n = frames;
      goto done;
    } else if (fseek(f, (long)(len + (len & 1)), SEEK_CUR)) {
      goto done;
    }
  }
done:
  fclose(f);
  return out;
}
#endif
