/* Minimal RIFF/WAVE PCM reader for the `ser features` fast path. */
#include "wav.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

static uint32_t le32(const unsigned char *b) {
  return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}
static uint16_t le16(const unsigned char *b) { return (uint16_t)(b[0] | b[1] << 8); }

int ser_wav_open(ser_wav *w, const char *path, char *err, size_t errlen) {
  memset(w, 0, sizeof *w);
#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
  (void)path, (void)err, (void)errlen;
  return 0;
#else
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(err, errlen, "%s: %s", path, strerror(errno));
    return -1;
  }
  struct stat st;
  unsigned char h[12], c[8], fmt[40];
  int have_fmt = 0;
  if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) || fread(h, 1, 12, f) != 12 ||
      memcmp(h, "RIFF", 4) || memcmp(h + 8, "WAVE", 4))
    goto no;
  uint64_t pos = 12;
  for (;;) {
    if (fread(c, 1, 8, f) != 8) goto no;
    pos += 8;
    uint32_t len = le32(c + 4);
    if (!memcmp(c, "fmt ", 4)) {
      if (len < 16 || len > sizeof fmt) goto no;
      if (fread(fmt, 1, len, f) != len) goto no;
      have_fmt = 1;
      if (len & 1) fgetc(f);
      pos += len + (len & 1);
      continue;
    }
    if (!memcmp(c, "data", 4)) {
      if (!have_fmt) goto no;
      uint16_t tag = le16(fmt), ch = le16(fmt + 2), bits = le16(fmt + 14);
      uint32_t rate = le32(fmt + 4);
      uint16_t align = le16(fmt + 12);
      /* A header no decoder can use: say which field is wrong (GStreamer
       * would only report "internal data stream error"). */
      /* Below 1 kHz (no speech survives; and a 1 Hz header would make the
       * resampler blow a small file up by 16000x) or beyond any caps. */
      if (ch == 0 || rate < 1000 || rate > 0x7FFFFFFFu) {
        snprintf(err, errlen, "%s: WAV fmt chunk: %s %u is not valid%s", path,
                 ch == 0 ? "channels" : "sample rate", ch == 0 ? (unsigned)ch : (unsigned)rate,
                 ch == 0 ? "" : rate < 1000 ? " (below 1000 Hz)" : "");
        fclose(f);
        return -1;
      }
      if (tag == 0xFFFE) { /* WAVE_FORMAT_EXTENSIBLE: the subformat's first two bytes */
        if (le16(fmt + 16) < 22) goto no;
        tag = le16(fmt + 24);
      }
      int is_float;
      if (tag == 1 && (bits == 16 || bits == 32))
        is_float = 0;
      else if (tag == 3 && bits == 32)
        is_float = 1;
      else
        goto no;
      /* frames wider than ser_wav_read's buffer: left to GStreamer */
      if (align != ch * (bits / 8) || align > 4096) goto no;
      uint64_t avail = (uint64_t)st.st_size > pos ? (uint64_t)st.st_size - pos : 0;
      uint64_t bytes = len == 0xFFFFFFFFu || len > avail ? avail : len;
      w->f = f;
      w->rate = rate;
      w->channels = ch;
      w->bytes = bits / 8;
      w->is_float = (uint32_t)is_float;
      w->frames = w->left = bytes / align;
      setvbuf(f, NULL, _IOFBF, 1 << 16);
      return 1;
    }
    /* skip any other chunk */
    uint64_t skip = (uint64_t)len + (len & 1);
    if (pos + skip > (uint64_t)st.st_size || fseek(f, (long)skip, SEEK_CUR) != 0) goto no;
    pos += skip;
  }
no:
  fclose(f);
  return 0;
#endif
}

size_t ser_wav_read(ser_wav *w, float *out, size_t max) {
  _Alignas(16) unsigned char tmp[1 << 15];
  const size_t fb = (size_t)w->channels * w->bytes;
  size_t done = 0;
  while (done < max && w->left > 0) {
    size_t want = max - done;
    if (want > w->left) want = (size_t)w->left;
    if (want > sizeof tmp / fb) want = sizeof tmp / fb;
    if (want == 0) return done; /* a frame wider than the buffer: not supported */
    size_t got = fread(tmp, fb, want, w->f);
    if (got == 0) {
      w->left = 0;
      break;
    }
    const uint32_t ch = w->channels;
    float *o = out + done;
    if (w->bytes == 2) {
      const int16_t *s = (const int16_t *)(void *)tmp;
      if (ch == 1)
        for (size_t i = 0; i < got; i++) o[i] = (float)s[i] * (1.0f / 32768.0f);
      else
        for (size_t i = 0; i < got; i++) {
          float acc = 0.0f;
          for (uint32_t c = 0; c < ch; c++) acc += (float)s[i * ch + c] * (1.0f / 32768.0f);
          o[i] = acc / (float)ch;
        }
    } else if (!w->is_float) {
      const int32_t *s = (const int32_t *)(void *)tmp;
      for (size_t i = 0; i < got; i++) {
        float acc = 0.0f;
        for (uint32_t c = 0; c < ch; c++) acc += (float)s[i * ch + c] * (1.0f / 2147483648.0f);
        o[i] = ch == 1 ? acc : acc / (float)ch;
      }
    } else {
      const float *s = (const float *)(void *)tmp;
      for (size_t i = 0; i < got; i++) {
        float acc = 0.0f;
        for (uint32_t c = 0; c < ch; c++) acc += s[i * ch + c];
        o[i] = ch == 1 ? acc : acc / (float)ch;
      }
    }
    done += got;
    w->left -= got;
    if (got < want) {
      w->left = 0;
      break;
    }
  }
  return done;
}

void ser_wav_close(ser_wav *w) {
  if (w->f) fclose(w->f);
  w->f = NULL;
}
