/* Streaming MFCC (SPEC section 3): window, r2c FFT, power, sparse mel
 * filterbank, log, orthonormal DCT-II, deltas, ZCR/RMS.
 *
 * Data flow per frame: n_fft samples (pre-emphasised) -> window (centred,
 * zero padded to n_fft) -> FFTW r2c -> |X|^2 -> mel -> log -> DCT -> base row.
 * A base row holds [mfcc | zcr | rms | energy_db | log pitch | voicing] (pitch
 * from the frame's raw samples, pitch.c). Deltas are regressions over base
 * rows kept in a small ring; output rows are assembled as
 * [mfcc | delta | delta-delta | zcr | rms | log pitch | voicing].
 *
 * The tables are built the way torchaudio builds them (melscale_fbanks,
 * create_dct, hann/hamming_window periodic, torch.stft's centred window), so
 * the output matches torchaudio to float rounding. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fft_plan.h"
#include "pitch.h"
#include "ser/features.h"

#define MAX_FFT 65536u
#define MAX_DELTA_WIDTH 99u

struct ser_mfcc {
  ser_feature_params p;
  uint32_t dim;     /* output values per frame */
  uint32_t nbins;   /* n_fft / 2 + 1 */
  uint32_t left;    /* first windowed sample inside the n_fft frame */
  uint32_t bstride; /* base row: n_mfcc + 3 (+ 2 with pitch) */
  uint32_t half;    /* (delta_width - 1) / 2 */
  uint32_t ring;    /* base/delta ring rows: 2 * half + 1 (1 without deltas) */
  float denom;      /* regression denominator */

  fftwf_plan plan; /* shared (fft_plan.c) */
  float *in;       /* fftwf_malloc, n_fft: windowed frame */
  fftwf_complex *spec;
  float *win;    /* win_length */
  float *power;  /* nbins + 4 (zero tail for the padded mel sums) */
  float *mel;    /* n_mels */
  uint32_t *mlo; /* per filter: first nonzero bin */
  uint32_t *mlen;  /* nonzero bins, rounded up to a multiple of 4 */
  uint32_t *moff; /* offset of the filter's weights in mw (zero padded) */
  float *mw;
  uint32_t ncp;   /* n_mfcc rounded up to a multiple of 16 */
  float *dct_t;   /* n_mels x ncp (transposed: rows are mel bands; zero padded) */
  float *scratch; /* win_length, clip mode's padded windows */
  ser_pitch *pt;  /* with pitch */

  /* streaming state */
  float *buf; /* cap samples after pre-emphasis */
  float *raw; /* cap samples before pre-emphasis (== buf when off) */
  uint32_t cap;  /* n_fft + room for many hops: the tail moves rarely */
  uint32_t fill; /* samples in buf */
  uint32_t pos;  /* start of the next frame in buf */
  uint32_t skip; /* samples still to drop (hop > n_fft) */
  float prev; /* last raw sample, for pre-emphasis across blocks */
  uint64_t nonfinite;
  float *base;  /* ring x bstride */
  float *delta; /* ring x n_mfcc */
  float *row;   /* dim */
  uint64_t n_base, n_delta, n_out;
};

void ser_feature_params_default(ser_feature_params *p) {
  memset(p, 0, sizeof *p);
  p->sample_rate = 16000;
  p->win_length = 400;
  p->hop_length = 160;
  p->n_fft = 512;
  p->window = SER_WIN_HANN;
  p->n_mels = 40;
  p->fmin = 0.0f;
  p->fmax = 0.0f;
  p->mel_scale = SER_MEL_HTK;
  p->mel_norm = SER_MELNORM_NONE;
  p->log = SER_LOG_DB;
  p->n_mfcc = 40;
  p->preemph = 0.0f;
  p->deltas = 0;
  p->delta_width = 9;
  p->center = 0;
  p->top_db = 0.0f;
  p->zcr_rms = 0;
  p->pitch = 0;
}

void ser_feature_params_paper(ser_feature_params *p) {
  ser_feature_params_default(p);
  p->sample_rate = 22050;
  p->win_length = 2048;
  p->hop_length = 512;
  p->n_fft = 2048;
  p->n_mels = 128;
  p->mel_scale = SER_MEL_SLANEY;
  p->mel_norm = SER_MELNORM_SLANEY;
  p->n_mfcc = 20;
  p->center = 1;
  p->top_db = 80.0f;
  p->zcr_rms = 1;
}

static int check(const ser_feature_params *p, int clip, ser_error *err) {
  if (!p) return ser_fail(err, "params: NULL");
  if (p->sample_rate < 1000 || p->sample_rate > 192000)
    return ser_fail(err, "sample_rate: %u Hz is outside 1000..192000", p->sample_rate);
  if (p->n_fft < 16 || p->n_fft > MAX_FFT)
    return ser_fail(err, "n_fft: %u is outside 16..%u", p->n_fft, MAX_FFT);
  if (p->win_length == 0) return ser_fail(err, "win_length: must be at least 1");
  if (p->win_length > p->n_fft)
    return ser_fail(err, "win_length: %u is larger than n_fft %u", p->win_length, p->n_fft);
  if (p->hop_length == 0) return ser_fail(err, "hop_length: must be at least 1");
  if (p->hop_length > MAX_FFT)
    return ser_fail(err, "hop_length: %u is larger than %u", p->hop_length, MAX_FFT);
  if (p->window != SER_WIN_HANN && p->window != SER_WIN_HAMMING)
    return ser_fail(err, "window: unknown value %u (0 hann, 1 hamming)", p->window);
  uint32_t nbins = p->n_fft / 2 + 1;
  if (p->n_mels == 0) return ser_fail(err, "n_mels: must be at least 1");
  if (p->n_mels > nbins)
    return ser_fail(err, "n_mels: %u is larger than the %u FFT bins of n_fft %u", p->n_mels, nbins,
                    p->n_fft);
  float nyq = (float)p->sample_rate / 2.0f;
  if (!isfinite(p->fmin) || p->fmin < 0.0f)
    return ser_fail(err, "fmin: %g Hz must be finite and >= 0", (double)p->fmin);
  if (!isfinite(p->fmax) || p->fmax < 0.0f)
    return ser_fail(err, "fmax: %g Hz must be finite and >= 0 (0 = Nyquist)", (double)p->fmax);
  if (p->fmax > nyq)
    return ser_fail(err, "fmax: %g Hz is above the Nyquist frequency %g Hz", (double)p->fmax,
                    (double)nyq);
  float fmax = p->fmax > 0.0f ? p->fmax : nyq;
  if (p->fmin >= fmax)
    return ser_fail(err, "fmin: %g Hz is not below fmax %g Hz", (double)p->fmin, (double)fmax);
  if (p->mel_scale != SER_MEL_HTK && p->mel_scale != SER_MEL_SLANEY)
    return ser_fail(err, "mel_scale: unknown value %u (0 htk, 1 slaney)", p->mel_scale);
  if (p->mel_norm != SER_MELNORM_NONE && p->mel_norm != SER_MELNORM_SLANEY)
    return ser_fail(err, "mel_norm: unknown value %u (0 none, 1 slaney)", p->mel_norm);
  if (p->log != SER_LOG_DB && p->log != SER_LOG_LN)
    return ser_fail(err, "log: unknown value %u (0 db, 1 ln)", p->log);
  if (p->n_mfcc == 0) return ser_fail(err, "n_mfcc: must be at least 1");
  if (p->n_mfcc > p->n_mels)
    return ser_fail(err, "n_mfcc: %u is larger than n_mels %u", p->n_mfcc, p->n_mels);
  if (!isfinite(p->preemph) || p->preemph < 0.0f || p->preemph >= 1.0f)
    return ser_fail(err, "preemph: %g is outside [0, 1)", (double)p->preemph);
  if (p->deltas > 2)
    return ser_fail(err, "deltas: unknown value %u (0 none, 1 deltas, 2 deltas and delta-deltas)",
                    p->deltas);
  if (p->deltas > 0) {
    if (p->delta_width < 3 || p->delta_width % 2 == 0 || p->delta_width > MAX_DELTA_WIDTH)
      return ser_fail(err, "delta_width: %u must be odd and in 3..%u", p->delta_width,
                      MAX_DELTA_WIDTH);
  }
  if (p->center > 1) return ser_fail(err, "center: unknown value %u (0 or 1)", p->center);
  if (!isfinite(p->top_db) || p->top_db < 0.0f)
    return ser_fail(err, "top_db: %g must be finite and >= 0 (0 = off)", (double)p->top_db);
  if (p->top_db > 0.0f && p->log != SER_LOG_DB)
    return ser_fail(err, "top_db: needs log = db");
  if (p->zcr_rms > 1) return ser_fail(err, "zcr_rms: unknown value %u (0 or 1)", p->zcr_rms);
  if (p->pitch > 1) return ser_fail(err, "pitch: unknown value %u (0 or 1)", p->pitch);
  if (p->pitch && p->center) return ser_fail(err, "pitch: not available with center");
  if (p->pitch && ser_pitch_check(p->sample_rate, p->n_fft, err) < 0) return -1;
  if (!clip) {
    if (p->center)
      return ser_fail(err, "center: needs the whole clip (ser_features_clip), not streaming");
    if (p->top_db > 0.0f)
      return ser_fail(err, "top_db: needs the whole clip (ser_features_clip), not streaming");
  }
  return 0;
}

int ser_feature_params_check(const ser_feature_params *p, ser_error *err) {
  return check(p, 1, err);
}

uint32_t ser_feature_dim(const ser_feature_params *p) {
  return p->n_mfcc * (1 + p->deltas) + (p->zcr_rms ? 2 : 0) + (p->pitch ? 2 : 0);
}

/* ---- tables, as torchaudio builds them ---- */

static double hz_to_mel(double f, uint32_t scale) {
  if (scale == SER_MEL_HTK) return 2595.0 * log10(1.0 + f / 700.0);
  const double f_sp = 200.0 / 3.0, min_log_hz = 1000.0, min_log_mel = min_log_hz / f_sp;
  const double logstep = log(6.4) / 27.0;
  if (f >= min_log_hz) return min_log_mel + log(f / min_log_hz) / logstep;
  return f / f_sp;
}

static double mel_to_hz(double m, uint32_t scale) {
  if (scale == SER_MEL_HTK) return 700.0 * (pow(10.0, m / 2595.0) - 1.0);
  const double f_sp = 200.0 / 3.0, min_log_hz = 1000.0, min_log_mel = min_log_hz / f_sp;
  const double logstep = log(6.4) / 27.0;
  if (m >= min_log_mel) return min_log_hz * exp(logstep * (m - min_log_mel));
  return f_sp * m;
}

/* torch.linspace(start, end, steps)[i] */
static double linspace(double a, double b, uint32_t steps, uint32_t i) {
  if (steps == 1) return a;
  double step = (b - a) / (double)(steps - 1);
  return i < steps / 2 ? a + step * i : b - step * (double)(steps - 1 - i);
}

/* melscale_fbanks(nbins, fmin, fmax, n_mels, sr, norm, scale), stored sparse:
 * each filter's nonzero bin range only. */
static int build_mel(ser_mfcc *m) {
  const ser_feature_params *p = &m->p;
  uint32_t nb = m->nbins, nm = p->n_mels;
  double fmax = p->fmax > 0.0f ? p->fmax : (double)p->sample_rate / 2.0;
  float *freqs = malloc(sizeof(float) * nb);
  float *fpts = malloc(sizeof(float) * (nm + 2));
  float *full = malloc(sizeof(float) * (size_t)nb * nm);
  int ret = -1;
  if (!freqs || !fpts || !full) goto out;
  for (uint32_t k = 0; k < nb; k++) freqs[k] = (float)linspace(0.0, (double)(p->sample_rate / 2), nb, k);
  double mmin = hz_to_mel(p->fmin, p->mel_scale), mmax = hz_to_mel(fmax, p->mel_scale);
  for (uint32_t i = 0; i < nm + 2; i++)
    fpts[i] = (float)mel_to_hz((double)(float)linspace(mmin, mmax, nm + 2, i), p->mel_scale);
  size_t total = 0;
  for (uint32_t j = 0; j < nm; j++) {
    float d0 = fpts[j + 1] - fpts[j], d1 = fpts[j + 2] - fpts[j + 1];
    float enorm = 2.0f / (fpts[j + 2] - fpts[j]);
    uint32_t lo = nb, hi = 0;
    for (uint32_t k = 0; k < nb; k++) {
      float down = (-(fpts[j] - freqs[k])) / d0;
      float up = (fpts[j + 2] - freqs[k]) / d1;
      float w = fmaxf(0.0f, fminf(down, up));
      if (!(w > 0.0f)) w = 0.0f; /* also a 0/0 NaN from coinciding points */
      if (p->mel_norm == SER_MELNORM_SLANEY) w *= enorm;
      full[(size_t)j * nb + k] = w;
      if (w != 0.0f) {
        if (lo == nb) lo = k;
        hi = k;
      }
    }
    m->mlo[j] = lo == nb ? 0 : lo;
    m->mlen[j] = lo == nb ? 0 : (hi - lo + 1 + 3) / 4 * 4;
    total += m->mlen[j];
  }
  m->mw = calloc(total ? total : 1, sizeof(float));
  if (!m->mw) goto out;
  size_t off = 0;
  for (uint32_t j = 0; j < nm; j++) {
    m->moff[j] = (uint32_t)off;
    for (uint32_t k = 0; k < m->mlen[j] && m->mlo[j] + k < nb; k++)
      m->mw[off + k] = full[(size_t)j * nb + m->mlo[j] + k]; /* past hi: zeros */
    off += m->mlen[j];
  }
  ret = 0;
out:
  free(freqs);
  free(fpts);
  free(full);
  return ret;
}

static void build_tables(ser_mfcc *m) {
  const ser_feature_params *p = &m->p;
  const double pi = 3.14159265358979323846;
  double a = p->window == SER_WIN_HAMMING ? 0.54 : 0.5, b = 1.0 - a;
  for (uint32_t i = 0; i < p->win_length; i++)
    m->win[i] = (float)(a - b * cos(2.0 * pi * i / p->win_length));
  /* create_dct(n_mfcc, n_mels, 'ortho'), stored transposed */
  for (uint32_t k = 0; k < p->n_mfcc; k++)
    for (uint32_t n = 0; n < p->n_mels; n++) {
      double v = cos(pi / p->n_mels * (n + 0.5) * k);
      if (k == 0) v *= 1.0 / sqrt(2.0);
      v *= sqrt(2.0 / p->n_mels);
      m->dct_t[(size_t)n * m->ncp + k] = (float)v;
    }
}

static ser_mfcc *engine_new(const ser_feature_params *p, int clip, ser_error *err) {
  if (check(p, clip, err) < 0) return NULL;
  ser_mfcc *m = calloc(1, sizeof *m);
  if (!m) {
    ser_fail(err, "features: out of memory");
    return NULL;
  }
  m->p = *p;
  m->dim = ser_feature_dim(p);
  m->nbins = p->n_fft / 2 + 1;
  m->left = (p->n_fft - p->win_length) / 2;
  m->bstride = p->n_mfcc + 3 + (p->pitch ? 2 : 0);
  m->half = p->deltas ? (p->delta_width - 1) / 2 : 0;
  m->ring = 2 * m->half + 1;
  uint32_t h = m->half;
  m->denom = (float)(h * (h + 1) * (2 * h + 1)) / 3.0f;
  m->in = fftwf_malloc(sizeof(float) * p->n_fft);
  m->spec = fftwf_malloc(sizeof(fftwf_complex) * m->nbins);
  m->win = malloc(sizeof(float) * p->win_length);
  m->power = calloc(m->nbins + 4, sizeof(float));
  m->mel = malloc(sizeof(float) * p->n_mels);
  m->mlo = malloc(sizeof(uint32_t) * p->n_mels);
  m->mlen = malloc(sizeof(uint32_t) * p->n_mels);
  m->moff = malloc(sizeof(uint32_t) * p->n_mels);
  m->ncp = (p->n_mfcc + 15) / 16 * 16;
  m->dct_t = calloc((size_t)p->n_mels * m->ncp, sizeof(float));
  m->scratch = malloc(sizeof(float) * p->win_length);
  uint32_t room = 32 * p->hop_length;
  m->cap = p->n_fft + (room < 1024 ? 1024 : room > 65536 ? 65536 : room);
  m->buf = malloc(sizeof(float) * m->cap);
  m->raw = p->preemph != 0.0f ? malloc(sizeof(float) * m->cap) : m->buf;
  m->base = malloc(sizeof(float) * m->ring * m->bstride);
  m->delta = malloc(sizeof(float) * m->ring * p->n_mfcc);
  m->row = malloc(sizeof(float) * m->dim);
  if (!m->in || !m->spec || !m->win || !m->power || !m->mel || !m->mlo || !m->mlen || !m->moff ||
      !m->dct_t || !m->scratch || !m->buf || !m->raw || !m->base || !m->delta || !m->row ||
      build_mel(m) < 0) {
    ser_fail(err, "features: out of memory");
    ser_mfcc_free(m);
    return NULL;
  }
  if (p->pitch && !(m->pt = ser_pitch_new(p->sample_rate, p->n_fft, err))) {
    ser_mfcc_free(m);
    return NULL;
  }
  build_tables(m);
  memset(m->in, 0, sizeof(float) * p->n_fft); /* the zero padding stays zero */
  m->plan = ser_fft_plan_r2c_get((int)p->n_fft);
  if (!m->plan) {
    ser_fail(err, "n_fft: FFTW cannot plan a %u-point transform", p->n_fft);
    ser_mfcc_free(m);
    return NULL;
  }
  return m;
}

ser_mfcc *ser_mfcc_new(const ser_feature_params *p, ser_error *err) {
  return engine_new(p, 0, err);
}

void ser_mfcc_free(ser_mfcc *m) {
  if (!m) return;
  ser_fft_plan_release(m->plan);
  ser_pitch_free(m->pt);
  fftwf_free(m->in);
  fftwf_free(m->spec);
  free(m->win);
  free(m->power);
  free(m->mel);
  free(m->mlo);
  free(m->mlen);
  free(m->moff);
  free(m->mw);
  free(m->dct_t);
  free(m->scratch);
  if (m->raw != m->buf) free(m->raw);
  free(m->buf);
  free(m->base);
  free(m->delta);
  free(m->row);
  free(m);
}

void ser_mfcc_reset(ser_mfcc *m) {
  m->fill = 0;
  m->pos = 0;
  m->skip = 0;
  m->prev = 0.0f;
  m->n_base = m->n_delta = m->n_out = 0;
  if (m->pt) ser_pitch_reset(m->pt);
}

uint32_t ser_mfcc_dim(const ser_mfcc *m) { return m->dim; }
uint64_t ser_mfcc_nonfinite(const ser_mfcc *m) { return m->nonfinite; }

/* ---- per frame ---- */

/* The per-frame loops get an AVX-512 build too, picked at load time (GCC /
 * clang target_clones). C11 mode does not contract a*b+c into FMAs and
 * float sums are never reordered, so both builds give the same bits. */
#if defined(__x86_64__) && defined(__GNUC__) && defined(__has_attribute)
#if __has_attribute(target_clones)
#define SER_MFCC_CLONES __attribute__((target_clones("avx512f", "default")))
#endif
#endif
#ifndef SER_MFCC_CLONES
#define SER_MFCC_CLONES
#endif

/* 4 floats (GCC/Clang vector extension; plain SSE on x86-64, scalar code
 * elsewhere) for the reductions the compiler would not vectorise itself */
typedef float v4sf __attribute__((vector_size(16)));
typedef float v16sf __attribute__((vector_size(64)));
static inline v4sf load4(const float *p) {
  v4sf v;
  memcpy(&v, p, sizeof v);
  return v;
}

/* Natural log of a positive, finite, normal float, branch-free so that the
 * loops calling it vectorise: x = 2^k * z with z in [sqrt(1/2), sqrt(2)),
 * log(z) = f - f^2/2 + f^3 P(f) with f = z - 1 (Cephes logf polynomial,
 * about 1 ulp). The inputs here are >= 1e-10 (dB floor) or >= 1e-6 (ln). */
static inline float ln_pos(float x) {
  uint32_t ix;
  memcpy(&ix, &x, sizeof ix);
  uint32_t tmp = ix - 0x3f3504f3u; /* sqrt(1/2) */
  int32_t k = (int32_t)tmp >> 23;
  uint32_t iz = ix - (tmp & 0xff800000u);
  float z;
  memcpy(&z, &iz, sizeof z);
  float f = z - 1.0f, f2 = f * f;
  float y = 7.0376836292e-2f;
  y = y * f - 1.1514610310e-1f;
  y = y * f + 1.1676998740e-1f;
  y = y * f - 1.2420140846e-1f;
  y = y * f + 1.4249322787e-1f;
  y = y * f - 1.6668057665e-1f;
  y = y * f + 2.0000714765e-1f;
  y = y * f - 2.4999993993e-1f;
  y = y * f + 3.3333331174e-1f;
  y = y * f * f2;
  float kf = (float)k;
  y += -2.12194440e-4f * kf;
  y += -0.5f * f2;
  return f + y + 0.693359375f * kf;
}

/* frame: n_fft samples (after pre-emphasis) -> log mel energies */
SER_MFCC_CLONES static void frame_logmel(ser_mfcc *m, const float *frame, float *logmel) {
  const uint32_t wl = m->p.win_length, nb = m->nbins, nm = m->p.n_mels;
  float *restrict in = m->in + m->left;
  const float *restrict x = frame + m->left;
  const float *restrict w = m->win;
  for (uint32_t i = 0; i < wl; i++) in[i] = x[i] * w[i];
  fftwf_execute_dft_r2c(m->plan, m->in, m->spec);
  const float *restrict s = (const float *)m->spec;
  float *restrict pw = m->power;
  for (size_t k = 0; k < nb; k++) {
    const float re = s[2 * k], im = s[2 * k + 1];
    pw[k] = re * re + im * im;
  }
  for (uint32_t j = 0; j < nm; j++) {
    const float *restrict mw = m->mw + m->moff[j];
    const float *restrict pk = pw + m->mlo[j];
    uint32_t len = m->mlen[j];
    v4sf acc = {0.0f, 0.0f, 0.0f, 0.0f};
    for (uint32_t k = 0; k < len; k += 4) acc += load4(mw + k) * load4(pk + k);
    logmel[j] = (acc[0] + acc[2]) + (acc[1] + acc[3]);
  }
  if (m->p.log == SER_LOG_DB) {
    /* 10*log10(max(P, 1e-10)); P >= 0, so the max can compare the bits as
     * integers (which vectorises; a float compare does not here) */
    for (uint32_t j = 0; j < nm; j++) {
      int32_t b;
      memcpy(&b, &logmel[j], sizeof b);
      b = b > 0x2edbe6ff ? b : 0x2edbe6ff; /* 1e-10f */
      float v;
      memcpy(&v, &b, sizeof v);
      logmel[j] = 4.342944819032518f * ln_pos(v);
    }
  } else {
    for (uint32_t j = 0; j < nm; j++) logmel[j] = ln_pos(logmel[j] + 1e-6f);
  }
}

/* out[c] = sum_j logmel[j] * dct[c][j], summed in j order for every c (so
 * the vector width does not change the result): 16 coefficients at a time */
SER_MFCC_CLONES static void dct(const ser_mfcc *m, const float *logmel, float *out) {
  const uint32_t nc = m->p.n_mfcc, nm = m->p.n_mels, ncp = m->ncp;
  for (uint32_t c0 = 0; c0 < ncp; c0 += 16) {
    v16sf a = {0.0f};
    const float *d = m->dct_t + c0;
    for (uint32_t j = 0; j < nm; j++, d += ncp) {
      v16sf dv;
      memcpy(&dv, d, sizeof dv);
      a += logmel[j] * dv;
    }
    float tmp[16];
    memcpy(tmp, &a, sizeof a);
    for (uint32_t q = 0; q < 16 && c0 + q < nc; q++) out[c0 + q] = tmp[q];
  }
}

/* mean of x^2 over n samples (8 partial sums, the same order every time) */
SER_MFCC_CLONES static float mean_square(const float *x, uint32_t n) {
  v4sf a0 = {0.0f, 0.0f, 0.0f, 0.0f}, a1 = a0;
  uint32_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const v4sf u = load4(x + i), w = load4(x + i + 4);
    a0 += u * u;
    a1 += w * w;
  }
  double s = 0.0;
  for (int j = 0; j < 4; j++) s += (double)a0[j] + (double)a1[j];
  for (; i < n; i++) s += (double)x[i] * x[i];
  return (float)(s / n);
}

/* librosa zero_crossings: |x| <= 1e-10 counts as 0 (positive); a crossing
 * is a change of sign between neighbours; rate = crossings / n. */
static float zcr(const float *x, uint32_t n) {
  uint32_t c = 0;
  for (uint32_t i = 1; i < n; i++) c += (x[i] < -1e-10f) != (x[i - 1] < -1e-10f);
  return (float)c / (float)n;
}

/* extras from the raw samples under the window (rawwin, zwin) and, for
 * pitch, of the whole n_fft frame (rawframe) */
static void frame_extras(const ser_mfcc *m, const float *rawwin, const float *zwin,
                         const float *rawframe, float *row) {
  const uint32_t nc = m->p.n_mfcc, wl = m->p.win_length;
  float ms = mean_square(rawwin, wl);
  if (!(ms <= FLT_MAX)) ms = FLT_MAX; /* finite but huge samples: stay finite */
  row[nc] = m->p.zcr_rms ? zcr(zwin, wl) : 0.0f;
  row[nc + 1] = sqrtf(ms);
  row[nc + 2] = 4.342944819032518f * ln_pos(ms + 1e-10f);
  if (m->pt) ser_pitch_frame(m->pt, rawframe, row + nc + 3);
}

/* regression over rows src[clamp(s +- k, 0, last)] of a ring of `ring` rows */
static void regress(const ser_mfcc *m, const float *src, uint32_t stride, uint64_t ring, uint64_t s,
                    uint64_t last, float *dst) {
  const uint32_t nc = m->p.n_mfcc;
  for (uint32_t c = 0; c < nc; c++) dst[c] = 0.0f;
  for (uint32_t k = 1; k <= m->half; k++) {
    uint64_t hi = s + k > last ? last : s + k;
    uint64_t lo = s < k ? 0 : s - k;
    const float *restrict a = src + (hi % ring) * stride;
    const float *restrict b = src + (lo % ring) * stride;
    const float kf = (float)k;
    for (uint32_t c = 0; c < nc; c++) dst[c] += kf * (a[c] - b[c]);
  }
  for (uint32_t c = 0; c < nc; c++) dst[c] /= m->denom;
}

/* assemble and deliver output row u (its base row and delta row exist;
 * delta-deltas are computed here from the delta rows up to `dlast`) */
static void emit(ser_mfcc *m, const float *base, uint64_t bring, const float *delta,
                 uint64_t dring, uint64_t u, uint64_t dlast, float *row) {
  const uint32_t nc = m->p.n_mfcc;
  const float *b = base + (u % bring) * m->bstride;
  memcpy(row, b, sizeof(float) * nc);
  uint32_t o = nc;
  if (m->p.deltas) {
    memcpy(row + o, delta + (u % dring) * nc, sizeof(float) * nc);
    o += nc;
  }
  if (m->p.deltas == 2) {
    regress(m, delta, nc, dring, u, dlast, row + o);
    o += nc;
  }
  if (m->p.zcr_rms) {
    row[o++] = b[nc];
    row[o++] = b[nc + 1];
  }
  if (m->p.pitch) {
    row[o] = b[nc + 3];
    row[o + 1] = b[nc + 4];
  }
}

static void deliver(ser_mfcc *m, uint64_t u, uint64_t dlast, ser_frame_fn fn, void *user) {
  emit(m, m->base, m->ring, m->delta, m->ring, u, dlast, m->row);
  if (fn) fn(user, m->row, m->base[(u % m->ring) * m->bstride + m->p.n_mfcc + 2]);
}

/* delta-delta rows that can be computed now (final: the delta rows are all
 * there, replicate the last) */
static void advance_dd(ser_mfcc *m, int final, ser_frame_fn fn, void *user) {
  const uint64_t D = m->n_delta;
  while (m->n_out < D && (final || m->n_out + m->half < D)) {
    deliver(m, m->n_out, D - 1, fn, user);
    m->n_out++;
  }
}

static void advance(ser_mfcc *m, int final, ser_frame_fn fn, void *user) {
  const uint64_t T = m->n_base;
  if (m->p.deltas == 0) return;
  while (m->n_delta < T && (final || m->n_delta + m->half < T)) {
    uint64_t s = m->n_delta;
    regress(m, m->base, m->bstride, m->ring, s, T - 1, m->delta + (s % m->ring) * m->p.n_mfcc);
    m->n_delta++;
    if (m->p.deltas == 1) {
      deliver(m, s, s, fn, user);
      m->n_out++;
    } else {
      advance_dd(m, 0, fn, user);
    }
  }
  if (m->p.deltas == 2 && final) advance_dd(m, 1, fn, user);
}

static void stream_frame(ser_mfcc *m, const float *frame, const float *raw, ser_frame_fn fn,
                         void *user) {
  float *row = m->base + (m->n_base % m->ring) * m->bstride;
  frame_logmel(m, frame, m->mel);
  dct(m, m->mel, row);
  const float *rw = raw + m->left;
  frame_extras(m, rw, rw, raw, row);
  m->n_base++;
  if (m->p.deltas == 0) {
    const float *out = row;
    if (m->p.pitch) { /* the base row's layout differs from the output's */
      emit(m, m->base, m->ring, m->delta, m->ring, m->n_base - 1, m->n_base - 1, m->row);
      out = m->row;
    }
    if (fn) fn(user, out, row[m->p.n_mfcc + 2]);
    m->n_out++;
  } else {
    advance(m, 0, fn, user);
  }
}

/* NaN/Inf -> 0 (counted); returns the count */
static uint32_t sanitize(const float *restrict x, float *restrict dst, size_t n) {
  uint32_t bad = 0;
  for (size_t i = 0; i < n; i++) {
    uint32_t u;
    memcpy(&u, &x[i], sizeof u);
    uint32_t nf = (u & 0x7f800000u) == 0x7f800000u;
    bad += nf;
    dst[i] = nf ? 0.0f : x[i];
  }
  return bad;
}

static void preemphasis(const float *restrict raw, float *restrict dst, size_t n, float a,
                        float prev) {
  if (n == 0) return;
  dst[0] = raw[0] - a * prev;
  for (size_t i = 1; i < n; i++) dst[i] = raw[i] - a * raw[i - 1];
}

void ser_mfcc_push(ser_mfcc *m, const float *x, size_t n, ser_frame_fn fn, void *user) {
  const uint32_t nfft = m->p.n_fft, hop = m->p.hop_length;
  const float a = m->p.preemph;
  size_t i = 0;
  while (i < n) {
    if (m->skip) { /* hop > n_fft: samples no frame uses */
      size_t k = n - i < m->skip ? n - i : m->skip;
      for (size_t j = 0; j < k; j++) {
        float v = x[i + j];
        if (!isfinite(v)) {
          v = 0.0f;
          m->nonfinite++;
        }
        m->prev = v;
      }
      m->skip -= (uint32_t)k;
      i += k;
      continue;
    }
    if (m->fill == m->cap) { /* move the unfinished frame (< n_fft samples) to the front */
      uint32_t keep = m->fill - m->pos;
      memmove(m->buf, m->buf + m->pos, sizeof(float) * keep);
      if (m->raw != m->buf) memmove(m->raw, m->raw + m->pos, sizeof(float) * keep);
      m->fill = keep;
      m->pos = 0;
    }
    size_t k = n - i < m->cap - m->fill ? n - i : m->cap - m->fill;
    float *r = m->raw + m->fill;
    m->nonfinite += sanitize(x + i, r, k);
    if (m->raw != m->buf) preemphasis(r, m->buf + m->fill, k, a, m->prev);
    m->prev = r[k - 1];
    m->fill += (uint32_t)k;
    i += k;
    while (m->fill - m->pos >= nfft) {
      stream_frame(m, m->buf + m->pos, m->raw + m->pos, fn, user);
      if (hop >= m->fill - m->pos) { /* the next frame starts after what we hold */
        m->skip = hop - (m->fill - m->pos);
        m->fill = m->pos = 0;
        break;
      }
      m->pos += hop;
    }
  }
}

void ser_mfcc_flush(ser_mfcc *m, ser_frame_fn fn, void *user) {
  advance(m, 1, fn, user);
  ser_mfcc_reset(m);
}

/* ---- whole clip ---- */

ser_mfcc *ser_mfcc_clip_new(const ser_feature_params *p, ser_error *err) { return engine_new(p, 1, err); }

int ser_features_clip(const ser_feature_params *p, const float *x, size_t n, float **out,
                      size_t *n_frames, ser_error *err) {
  *out = NULL;
  *n_frames = 0;
  ser_mfcc *m = engine_new(p, 1, err);
  if (!m) return -1;
  int rc = ser_mfcc_clip(m, x, n, out, n_frames, err);
  ser_mfcc_free(m);
  return rc;
}

/* Each clip starts as a new extractor would: the pitch tracker's held value
 * is the only state a clip leaves behind (the FFT inputs' zero padding and
 * the power spectrum's zero tail are never written). */
int ser_mfcc_clip(ser_mfcc *m, const float *x, size_t n, float **out, size_t *n_frames, ser_error *err) {
  *out = NULL;
  *n_frames = 0;
  const ser_feature_params *p = &m->p;
  if (n > (size_t)1 << 40) return ser_fail(err, "samples: %zu is too many for one clip", n);
  if (m->pt) ser_pitch_reset(m->pt);
  const uint32_t nfft = p->n_fft, hop = p->hop_length, wl = p->win_length;
  const uint32_t nc = p->n_mfcc, nm = p->n_mels;
  const size_t pad = p->center ? nfft / 2 : 0;
  const size_t np = n + 2 * pad;
  size_t T = ser_feature_frames(p, n);
  if (T == 0) return 0;
  float *raw = malloc(sizeof(float) * (n ? n : 1));
  float *y = calloc(np, sizeof(float)); /* pre-emphasised, zero padded */
  float *logmel = malloc(sizeof(float) * T * nm);
  float *base = malloc(sizeof(float) * T * m->bstride);
  float *delta = malloc(sizeof(float) * T * nc);
  float *res = malloc(sizeof(float) * T * m->dim);
  float *zs = malloc(sizeof(float) * wl);
  if (!raw || !y || !logmel || !base || !delta || !res || !zs) {
    free(raw), free(y), free(logmel), free(base), free(delta), free(res), free(zs);
    return ser_fail(err, "features: out of memory for %zu frames", T);
  }
  m->nonfinite += sanitize(x, raw, n);
  if (p->preemph != 0.0f)
    preemphasis(raw, y + pad, n, p->preemph, 0.0f);
  else
    memcpy(y + pad, raw, sizeof(float) * n);
  for (size_t t = 0; t < T; t++) frame_logmel(m, y + t * hop, logmel + t * nm);
  if (p->top_db > 0.0f) {
    float mx = -INFINITY;
    for (size_t i = 0; i < T * nm; i++) mx = fmaxf(mx, logmel[i]);
    float floor_db = mx - p->top_db;
    for (size_t i = 0; i < T * nm; i++) logmel[i] = fmaxf(logmel[i], floor_db);
  }
  for (size_t t = 0; t < T; t++) {
    float *row = base + t * m->bstride;
    dct(m, logmel + t * nm, row);
    /* the window's raw samples: start may be before 0 or end after n when
     * centred; RMS pads with zeros, ZCR repeats the edge sample (librosa) */
    long long j0 = (long long)(t * hop) - (long long)pad + m->left;
    if (j0 >= 0 && (size_t)j0 + wl <= n) {
      frame_extras(m, raw + j0, raw + j0, raw + t * hop, row); /* pitch: never centred */
    } else {
      for (uint32_t i = 0; i < wl; i++) {
        long long j = j0 + i;
        m->scratch[i] = (j >= 0 && (size_t)j < n) ? raw[j] : 0.0f;
        zs[i] = raw[j < 0 ? 0 : (size_t)j >= n ? n - 1 : (size_t)j];
      }
      frame_extras(m, m->scratch, zs, NULL, row); /* centred: no pitch */
    }
  }
  if (p->deltas)
    for (size_t s = 0; s < T; s++) regress(m, base, m->bstride, T, s, T - 1, delta + s * nc);
  for (size_t t = 0; t < T; t++) {
    float *o = res + t * m->dim;
    if (p->deltas || p->pitch) {
      emit(m, base, T, delta, T, t, T - 1, o);
    } else {
      memcpy(o, base + t * m->bstride, sizeof(float) * m->dim);
    }
  }
  free(raw), free(y), free(logmel), free(base), free(delta), free(zs);
  *out = res;
  *n_frames = T;
  return 0;
}

size_t ser_feature_frames(const ser_feature_params *p, size_t n) {
  if (!p->hop_length || !p->n_fft) return 0;
  const size_t pad = p->center ? p->n_fft / 2 : 0, np = n + 2 * pad;
  return (n > 0 && np >= p->n_fft) ? 1 + (np - p->n_fft) / p->hop_length : 0;
}
