/* The streaming analyzer: samples -> MFCC frames (once, into a ring) ->
 * windows -> scores -> result callback. See docs/analyzer.md.
 * Everything is allocated in ser_analyzer_new()/set_config(); push(),
 * push_silence(), finish() and reset() allocate nothing (temporal models;
 * the paper model's ser_features_clip() allocates per window). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analyzer_reuse.h"
#include "ser.h"

#define SER_SPEECH_TOP 0.15 /* fraction of loudest frames the level is the mean of */
#define ZEROS 1024
/* Frames fed past a window before it is emitted (see ser_analyzer_push). */
#define LOOKAHEAD_FRAMES 256

static const float zeros[ZEROS];

struct ser_analyzer {
  ser_model *m;
  const ser_model_spec *spec;
  ser_feature_params fp;
  int paper;
  uint32_t dim, hop, flen, n_labels, min_frames, delay;
  ser_analyzer_config cfg;
  uint64_t min_tail; /* effective */

  /* temporal: streaming MFCC, normalised frames in a ring */
  ser_mfcc *mfcc;
  float *ninv, *nmean; /* 1/std, mean (or NULL) */
  ser_spknorm *spk;    /* running speaker normaliser (or NULL) */
  float *fring;        /* fcap x dim, time-major */
  float *ering;        /* fcap frame energies, dB */
  float *hring;        /* fcap: speech (s) the speaker normaliser had heard
                          when the frame was normalised */
  uint32_t fcap;
  uint64_t nfr;        /* frames delivered since reset */

  /* paper: raw samples in a ring */
  float *sring;
  uint64_t scap;
  float *clip, *fen;
  uint32_t fen_cap;

  /* inference: one context (and convolution-sharing state) per network of
   * the model; an ensemble's scores are the mean of its networks' */
  uint32_t n_nets;
  ser_net *net[SER_MAX_NETS];
  ser_reuse *ru[SER_MAX_NETS];
  int ru_tried;        /* ensure_reuse ran for the current nets (a network may have no shareable prefix) */
  uint32_t net_frames; /* capacity of the nets and xwin */
  float *xwin;         /* net_frames x dim */
  float *probs, *sm, *out, *np, *lev; /* np: one network's scores */
  uint32_t lev_cap;
  int sm_valid;
  int reuse_on;

  /* stream position */
  uint64_t ns;   /* samples pushed since reset */
  uint64_t next; /* start of the next window */
  uint64_t last;
  int have_last;
  ser_analyzer_stats st;
};

/* ---- geometry --------------------------------------------------------- */

static uint64_t frames_to_samples(const ser_analyzer *a, uint32_t nf) {
  return nf ? (uint64_t)(nf - 1) * a->hop + a->flen : 0;
}

/* Frames fully inside [start, start + len): first *fa, count *nf. */
static uint32_t win_frames(const ser_analyzer *a, uint64_t start, uint64_t len,
                           uint64_t *fa) {
  *fa = 0;
  if (start + len < a->flen) return 0;
  uint64_t f0 = (start + a->hop - 1) / a->hop;
  uint64_t f1 = (start + len - a->flen) / a->hop;
  *fa = f0;
  return f1 < f0 ? 0 : (uint32_t)(f1 - f0 + 1);
}

/* ---- config ----------------------------------------------------------- */

void ser_analyzer_config_default(ser_analyzer_config *c, const ser_model *m) {
  memset(c, 0, sizeof *c);
  c->window = m ? ser_model_window_samples(m) : 0;
  c->interval = m ? ser_model_features(m)->sample_rate / 2 : 0;
  c->smoothing = 0;
  c->speech_threshold = SER_SPEECH_THRESHOLD_DEFAULT;
  c->min_tail = 0;
  c->speaker_norm = 1;
  c->speaker_memory = 0;
}

/* Fills in defaults and checks; *c is the resolved config. */
static int resolve(const ser_analyzer *a, ser_analyzer_config *c, ser_error *err) {
  uint32_t rate = a->fp.sample_rate;
  if (a->paper) {
    c->window = a->spec->clip_samples; /* the paper network has a fixed input */
  } else if (!c->window) {
    c->window = ser_model_window_samples(a->m);
  }
  if (!c->interval) c->interval = rate / 2;
  if (!(c->smoothing >= 0 && c->smoothing < 1))
    return ser_fail(err, "smoothing: %g is not in [0, 1)", c->smoothing);
  if (!isfinite(c->speech_threshold))
    return ser_fail(err, "speech-threshold: not a finite number");
  if (!(c->speaker_memory >= 0 && c->speaker_memory <= 1e6))
    return ser_fail(err, "speaker-memory: %g s is not in [0, 1e6]", c->speaker_memory);
  c->speaker_norm = c->speaker_norm ? 1 : 0;
  if (c->window > (uint64_t)rate * 3600 * 4)
    return ser_fail(err, "window: %.1f s is longer than 4 hours", (double)c->window / rate);
  if (!a->paper) {
    uint64_t fa;
    uint32_t nf = win_frames(a, 0, c->window, &fa);
    if (nf < a->min_frames)
      return ser_fail(err, "window: %.3f s gives %u frames, the model needs at least %u (%.3f s)",
                      (double)c->window / rate, nf, a->min_frames,
                      (double)frames_to_samples(a, a->min_frames) / rate);
  }
  return 0;
}

static uint64_t eff_min_tail(const ser_analyzer *a, const ser_analyzer_config *c) {
  uint64_t mt = c->min_tail ? c->min_tail : a->fp.sample_rate;
  if (!a->paper) {
    uint64_t need = frames_to_samples(a, a->min_frames);
    if (mt < need) mt = need;
  } else if (mt < a->fp.win_length) {
    mt = a->fp.win_length;
  }
  return mt;
}

/* Grow buffers to hold windows of `window` samples (set-up only). */
static int ensure_capacity(ser_analyzer *a, uint64_t window, ser_error *err) {
  if (a->paper) {
    uint64_t need = window + ZEROS;
    if (need > a->scap) {
      float *r = calloc(need, sizeof *r);
      if (!r) return ser_fail(err, "window: out of memory");
      for (uint64_t i = 0; i < a->scap && i < a->ns; i++) {
        uint64_t s = a->ns - 1 - i; /* keep the newest samples */
        r[s % need] = a->sring[s % a->scap];
      }
      free(a->sring);
      a->sring = r;
      a->scap = need;
    }
    uint32_t nf = (uint32_t)(window / a->fp.hop_length + 2);
    if (nf > a->fen_cap) {
      float *f = realloc(a->fen, (size_t)nf * 2 * sizeof *f);
      if (!f) return ser_fail(err, "window: out of memory");
      a->fen = f;
      a->fen_cap = nf;
      a->lev = a->fen + nf;
    }
    return 0;
  }
  uint64_t fa;
  uint32_t nf = win_frames(a, 0, window, &fa);
  uint32_t cap = nf + a->delay + 8 + LOOKAHEAD_FRAMES;
  if (cap > a->fcap) {
    float *fr = malloc((size_t)cap * a->dim * sizeof *fr);
    float *er = malloc((size_t)cap * sizeof *er);
    float *hr = malloc((size_t)cap * sizeof *hr);
    if (!fr || !er || !hr) {
      free(fr);
      free(er);
      free(hr);
      return ser_fail(err, "window: out of memory");
    }
    /* keep the frames the ring holds (set_config mid-stream) */
    uint64_t keep = a->nfr < a->fcap ? a->nfr : a->fcap;
    for (uint64_t f = a->nfr - keep; f < a->nfr; f++) {
      memcpy(fr + (f % cap) * a->dim, a->fring + (f % a->fcap) * a->dim, a->dim * sizeof *fr);
      er[f % cap] = a->ering[f % a->fcap];
      hr[f % cap] = a->hring[f % a->fcap];
    }
    free(a->fring);
    free(a->ering);
    free(a->hring);
    a->fring = fr;
    a->ering = er;
    a->hring = hr;
    a->fcap = cap;
  }
  if (nf > a->net_frames) {
    ser_net *n[SER_MAX_NETS] = {0};
    float *x = malloc((size_t)nf * a->dim * sizeof *x);
    float *l = malloc((size_t)nf * sizeof *l);
    int ok = x && l;
    for (uint32_t i = 0; ok && i < a->n_nets; i++) ok = (n[i] = ser_net_new(ser_model_net(a->m, i), nf, err)) != NULL;
    if (!ok) {
      free(x);
      free(l);
      for (uint32_t i = 0; i < a->n_nets; i++) ser_net_free(n[i]);
      return x && l ? -1 : ser_fail(err, "window: out of memory");
    }
    for (uint32_t i = 0; i < a->n_nets; i++) {
      ser_reuse_free(a->ru[i]);
      ser_net_free(a->net[i]);
      a->ru[i] = NULL;
      a->net[i] = n[i];
    }
    a->ru_tried = 0;
    free(a->xwin);
    free(a->lev);
    a->xwin = x;
    a->lev = l;
    a->net_frames = nf;
    a->lev_cap = nf;
  }
  return 0;
}

/* The convolution-sharing state, when windows overlap (set-up only). */
static int ensure_reuse(ser_analyzer *a, const ser_analyzer_config *c, ser_error *err) {
  if (a->paper || c->interval >= c->window || a->ru_tried) return 0;
  for (uint32_t i = 0; i < a->n_nets; i++)
    if (!a->ru[i] && ser_reuse_new(a->net[i], ser_model_net(a->m, i), a->net_frames, &a->ru[i], err) < 0) return -1;
  a->ru_tried = 1; /* a network without a shareable prefix is not asked again */
  return 0;
}

/* The speaker normaliser's memory from the config (set-up only). */
static int spk_params(ser_analyzer *a, const ser_analyzer_config *c, ser_error *err) {
  if (!a->spk) return 0;
  ser_spknorm_params p = a->spec->spk;
  if (c->speaker_memory > 0) p.memory_s = (float)c->speaker_memory;
  return ser_spknorm_set_params(a->spk, &p, err);
}

/* ---- set-up ----------------------------------------------------------- */

ser_analyzer *ser_analyzer_new(ser_model *m, const ser_analyzer_config *c,
                               ser_error *err) {
  if (!m) {
    ser_fail(err, "model: none given");
    return NULL;
  }
  ser_analyzer *a = calloc(1, sizeof *a);
  if (!a) {
    ser_fail(err, "analyzer: out of memory");
    return NULL;
  }
  a->m = ser_model_ref(m);
  a->spec = ser_model_get_spec(m);
  a->fp = *ser_model_features(m);
  a->paper = ser_model_arch(m) == SER_ARCH_PAPER;
  a->dim = ser_feature_dim(&a->fp);
  a->hop = a->fp.hop_length;
  /* a frame reads n_fft samples (the window is centred in them) */
  a->flen = a->fp.n_fft > a->fp.win_length ? a->fp.n_fft : a->fp.win_length;
  a->n_labels = ser_model_n_labels(m);
  a->min_frames = ser_model_min_frames(m);
  a->delay = a->fp.deltas * ((a->fp.delta_width ? a->fp.delta_width : 9) / 2) + 1;
  a->reuse_on = 1;
  a->n_nets = ser_model_n_nets(m);
  a->probs = calloc(a->n_labels * 4, sizeof(float));
  if (!a->probs) {
    ser_fail(err, "analyzer: out of memory");
    goto fail;
  }
  a->sm = a->probs + a->n_labels;
  a->out = a->sm + a->n_labels;
  a->np = a->out + a->n_labels;
  if (a->paper) {
    for (uint32_t i = 0; i < a->n_nets; i++)
      if (!(a->net[i] = ser_net_new(ser_model_net(m, i), a->spec->in_len, err))) goto fail;
    a->clip = malloc((size_t)a->spec->clip_samples * sizeof(float));
    if (!a->clip) {
      ser_fail(err, "analyzer: out of memory");
      goto fail;
    }
  } else {
    a->mfcc = ser_mfcc_new(&a->fp, err);
    if (!a->mfcc) goto fail;
    if (a->spec->norm_mean && a->spec->norm_std) {
      a->nmean = malloc(a->dim * sizeof(float));
      a->ninv = malloc(a->dim * sizeof(float));
      if (!a->nmean || !a->ninv) {
        ser_fail(err, "analyzer: out of memory");
        goto fail;
      }
      for (uint32_t i = 0; i < a->dim; i++) {
        float s = a->spec->norm_std[i];
        a->nmean[i] = a->spec->norm_mean[i];
        a->ninv[i] = s > 0 ? 1.0f / s : 1.0f;
      }
    }
    if (a->spec->spk_mean) {
      a->spk = ser_spknorm_new(a->dim, (double)a->fp.sample_rate / a->hop, a->spec->spk_mean,
                               a->spec->spk_std, &a->spec->spk, err);
      if (!a->spk) goto fail;
    }
  }
  ser_analyzer_config cfg;
  if (c)
    cfg = *c;
  else
    ser_analyzer_config_default(&cfg, m);
  if (resolve(a, &cfg, err) < 0 || ensure_capacity(a, cfg.window, err) < 0 ||
      ensure_reuse(a, &cfg, err) < 0)
    goto fail;
  if (spk_params(a, &cfg, err) < 0) goto fail;
  a->cfg = cfg;
  a->min_tail = eff_min_tail(a, &cfg);
  return a;
fail:
  ser_analyzer_free(a);
  return NULL;
}

void ser_analyzer_free(ser_analyzer *a) {
  if (!a) return;
  for (uint32_t i = 0; i < a->n_nets; i++) {
    ser_reuse_free(a->ru[i]);
    ser_net_free(a->net[i]);
  }
  ser_mfcc_free(a->mfcc);
  ser_spknorm_free(a->spk);
  free(a->nmean);
  free(a->ninv);
  free(a->fring);
  free(a->ering);
  free(a->hring);
  free(a->sring);
  free(a->clip);
  free(a->xwin);
  if (a->paper)
    free(a->fen);
  else
    free(a->lev);
  free(a->probs);
  ser_model_unref(a->m);
  free(a);
}

int ser_analyzer_set_config(ser_analyzer *a, const ser_analyzer_config *c,
                            ser_error *err) {
  ser_analyzer_config cfg = *c;
  if (resolve(a, &cfg, err) < 0 || ensure_capacity(a, cfg.window, err) < 0 ||
      ensure_reuse(a, &cfg, err) < 0 || spk_params(a, &cfg, err) < 0)
    return -1;
  if (a->spk && cfg.speaker_norm != a->cfg.speaker_norm) ser_spknorm_reset(a->spk);
  if (cfg.smoothing != a->cfg.smoothing) a->sm_valid = 0;
  a->cfg = cfg;
  a->min_tail = eff_min_tail(a, &cfg);
  if (a->have_last) a->next = a->last + cfg.interval;
  return 0;
}

void ser_analyzer_get_config(const ser_analyzer *a, ser_analyzer_config *c) {
  *c = a->cfg;
}

const ser_model *ser_analyzer_model(const ser_analyzer *a) { return a->m; }

void ser_analyzer_set_reuse(ser_analyzer *a, int on) { a->reuse_on = on; }

void ser_analyzer_get_stats(const ser_analyzer *a, ser_analyzer_stats *s) {
  *s = a->st;
}

void ser_analyzer_reset(ser_analyzer *a) {
  if (a->mfcc) ser_mfcc_reset(a->mfcc);
  a->nfr = 0;
  a->ns = 0;
  a->next = 0;
  a->last = 0;
  a->have_last = 0;
  a->sm_valid = 0;
  for (uint32_t i = 0; i < a->n_nets; i++)
    if (a->ru[i]) ser_reuse_reset(a->ru[i]);
}

void ser_analyzer_reset_speaker(ser_analyzer *a) {
  if (a->spk) ser_spknorm_reset(a->spk);
}

double ser_analyzer_speaker_s(const ser_analyzer *a) {
  return a->spk ? ser_spknorm_speech_s(a->spk) : -1.0;
}

/* ---- frames in -------------------------------------------------------- */

static void on_frame(void *user, const float *f, float energy_db) {
  ser_analyzer *a = user;
  uint32_t slot = (uint32_t)(a->nfr % a->fcap);
  float *dst = a->fring + (size_t)slot * a->dim;
  if (a->spk) {
    /* the voice's statistics first (with the normaliser off: the prior's,
     * never updated), then the model's */
    a->hring[slot] = (float)ser_spknorm_speech_s(a->spk);
    ser_spknorm_frame(a->spk, f, a->cfg.speaker_norm ? energy_db : -INFINITY, dst);
    if (a->ninv)
      for (uint32_t i = 0; i < a->dim; i++) dst[i] = (dst[i] - a->nmean[i]) * a->ninv[i];
  } else if (a->ninv) {
    for (uint32_t i = 0; i < a->dim; i++) dst[i] = (f[i] - a->nmean[i]) * a->ninv[i];
  } else {
    memcpy(dst, f, a->dim * sizeof *dst);
  }
  a->ering[slot] = energy_db;
  a->nfr++;
}

static void feed(ser_analyzer *a, const float *x, size_t n) {
  if (!a->paper) {
    if (x) {
      ser_mfcc_push(a->mfcc, x, n, on_frame, a);
    } else {
      for (size_t i = 0; i < n; i += ZEROS)
        ser_mfcc_push(a->mfcc, zeros, n - i < ZEROS ? n - i : ZEROS, on_frame, a);
    }
  } else {
    for (size_t i = 0; i < n; i++) {
      float v = x ? x[i] : 0.0f;
      a->sring[(a->ns + i) % a->scap] = isfinite(v) ? v : 0.0f;
    }
  }
  a->ns += n;
}

/* ---- windows out ------------------------------------------------------ */

/* Mean of the loudest SER_SPEECH_TOP of the frame levels. Reorders lev
 * (quickselect: no allocation, unlike glibc's qsort). */
static float speech_level(float *lev, uint32_t n) {
  if (!n) return -100.0f;
  int64_t k = (int64_t)ceil(SER_SPEECH_TOP * n);
  if (k < 1) k = 1;
  int64_t lo = 0, hi = (int64_t)n - 1; /* afterwards lev[0, k) hold the k largest */
  while (lo < hi) {
    float piv = lev[lo + (hi - lo) / 2];
    int64_t i = lo, j = hi;
    while (i <= j) {
      while (lev[i] > piv) i++;
      while (lev[j] < piv) j--;
      if (i <= j) {
        float t = lev[i];
        lev[i++] = lev[j];
        lev[j--] = t;
      }
    }
    if (k - 1 <= j)
      hi = j;
    else if (k - 1 >= i)
      lo = i;
    else
      break;
  }
  double s = 0;
  for (int64_t i = 0; i < k; i++) s += lev[i];
  return (float)(s / k);
}

/* speaker_s: what the speaker normaliser had heard at the window's last
 * frame (-1: none) */
static void deliver(ser_analyzer *a, uint64_t start, uint64_t len, float level, float speaker_s,
                    int tail, ser_result_fn fn, void *user) {
  ser_result r;
  int speech = level >= a->cfg.speech_threshold;
  const float *scores = a->probs;
  if (a->cfg.smoothing > 0) {
    if (speech) {
      float al = (float)a->cfg.smoothing;
      if (!a->sm_valid) {
        memcpy(a->sm, a->probs, a->n_labels * sizeof(float));
        a->sm_valid = 1;
      } else {
        for (uint32_t i = 0; i < a->n_labels; i++)
          a->sm[i] = al * a->sm[i] + (1 - al) * a->probs[i];
      }
      scores = a->sm;
    } else {
      a->sm_valid = 0; /* smoothing runs over consecutive speech windows */
    }
  }
  memcpy(a->out, scores, a->n_labels * sizeof(float));
  r.start = start;
  r.length = len;
  r.speech = speech;
  r.top = -1;
  r.confidence = 0;
  if (speech) {
    r.top = 0;
    for (uint32_t i = 1; i < a->n_labels; i++)
      if (a->out[i] > a->out[r.top]) r.top = (int32_t)i;
    r.confidence = a->out[r.top];
  }
  r.scores = a->out;
  r.level_db = level;
  r.is_tail = tail;
  r.speaker_s = speaker_s;
  a->st.windows++;
  if (fn) fn(user, &r);
}

/* Temporal window: frames [fa, fa + nf) are in the ring. */
static void run_temporal(ser_analyzer *a, uint64_t start, uint64_t len, uint64_t fa,
                         uint32_t nf, int tail, ser_result_fn fn, void *user) {
  ser_error err;
  for (uint32_t i = 0; i < nf; i++) a->lev[i] = a->ering[(fa + i) % a->fcap];
  float level = speech_level(a->lev, nf);
  int copied = 0, all_reused = 1, failed = 0;
  for (uint32_t k = 0; k < a->n_nets && !failed; k++) {
    float *p = k ? a->np : a->probs;
    int done = a->ru[k] && a->reuse_on && !tail &&
               ser_reuse_window(a->ru[k], a->fring, a->fcap, a->nfr, a->dim, fa, nf, p) > 0;
    if (!done) {
      all_reused = 0;
      if (!copied)
        for (uint32_t i = 0; i < nf; i++)
          memcpy(a->xwin + (size_t)i * a->dim, a->fring + ((fa + i) % a->fcap) * a->dim,
                 a->dim * sizeof(float));
      copied = 1;
      failed = ser_net_forward(a->net[k], a->xwin, nf, p, &err) < 0;
    }
    if (k)
      for (uint32_t i = 0; i < a->n_labels; i++) a->probs[i] += a->np[i];
  }
  if (failed) {
    for (uint32_t i = 0; i < a->n_labels; i++) a->probs[i] = 1.0f / a->n_labels;
    a->st.errors++;
  } else {
    if (all_reused) a->st.reused++;
    for (uint32_t i = 0; a->n_nets > 1 && i < a->n_labels; i++) a->probs[i] /= (float)a->n_nets;
  }
  const float spk = a->spk && nf ? a->hring[(fa + nf - 1) % a->fcap] : -1.0f;
  deliver(a, start, len, level, spk, tail, fn, user);
}

/* Paper window: samples [start, start + len) are in the sample ring; the
 * clip is zero padded to clip_samples. */
static void run_paper(ser_analyzer *a, uint64_t start, uint64_t len, int tail,
                      ser_result_fn fn, void *user) {
  ser_error err;
  uint64_t clip = a->spec->clip_samples;
  for (uint64_t i = 0; i < clip; i++)
    a->clip[i] = i < len ? a->sring[(start + i) % a->scap] : 0.0f;
  /* speech level: frames of win_length every hop_length over the real samples */
  uint32_t nfl = 0, W = a->fp.win_length, H = a->fp.hop_length;
  for (uint64_t s = 0; s + W <= len && nfl < a->fen_cap; s += H) {
    double e = 0;
    for (uint32_t i = 0; i < W; i++) e += (double)a->clip[s + i] * a->clip[s + i];
    a->lev[nfl++] = (float)(10.0 * log10(e / W + 1e-10));
  }
  float level = speech_level(a->lev, nfl);
  /* the network input exactly as training builds it (ser_train_clip_input:
   * features of the zero-padded clip, normalised, frame by frame) */
  float *in = NULL;
  uint32_t nin = 0;
  int ok = ser_train_clip_input(a->spec, a->clip, clip, 0, &in, &nin, &err) == 0 && nin == a->spec->in_len;
  for (uint32_t k = 0; ok && k < a->n_nets; k++) {
    ok = ser_net_forward(a->net[k], in, a->spec->in_len, k ? a->np : a->probs, &err) == 0;
    for (uint32_t i = 0; ok && k && i < a->n_labels; i++) a->probs[i] += a->np[i];
  }
  for (uint32_t i = 0; ok && a->n_nets > 1 && i < a->n_labels; i++) a->probs[i] /= (float)a->n_nets;
  free(in);
  if (!ok) {
    for (uint32_t i = 0; i < a->n_labels; i++) a->probs[i] = 1.0f / a->n_labels;
    a->st.errors++;
  }
  deliver(a, start, len, level, -1.0f, tail, fn, user); /* paper models have no normaliser */
}

/* Emit every window whose samples (and frames) are all in. */
static void emit_ready(ser_analyzer *a, ser_result_fn fn, void *user) {
  for (;;) {
    uint64_t s = a->next, L = a->cfg.window;
    if (a->ns < s + L) return;
    if (a->paper) {
      if (a->ns - s > a->scap) { /* overwritten (only after a config change) */
        a->next += a->cfg.interval;
        a->st.skipped++;
        continue;
      }
      run_paper(a, s, L, 0, fn, user);
    } else {
      uint64_t fa;
      uint32_t nf = win_frames(a, s, L, &fa);
      if (a->nfr < fa + nf) return; /* frames held back for deltas */
      if (a->nfr - fa > a->fcap) {
        a->next += a->cfg.interval;
        a->st.skipped++;
        continue;
      }
      run_temporal(a, s, L, fa, nf, 0, fn, user);
    }
    a->last = s;
    a->have_last = 1;
    a->next = s + a->cfg.interval;
  }
}

void ser_analyzer_push(ser_analyzer *a, const float *x, size_t n, ser_result_fn fn,
                       void *user) {
  while (n > 0) {
    /* feed up to LOOKAHEAD_FRAMES past the next window's end before
     * emitting it: the shared convolutions then run ahead in larger blocks
     * (same results, in the same call) */
    uint64_t end = a->next + a->cfg.window + (a->paper ? 0 : (uint64_t)LOOKAHEAD_FRAMES * a->hop);
    size_t chunk = n;
    if (a->ns < end) {
      if (end - a->ns < chunk) chunk = (size_t)(end - a->ns);
    } else if (chunk > a->hop) {
      chunk = a->hop; /* waiting for frames held back for deltas */
    }
    feed(a, x, chunk);
    if (x) x += chunk;
    n -= chunk;
    emit_ready(a, fn, user);
  }
}

void ser_analyzer_push_silence(ser_analyzer *a, size_t n, ser_result_fn fn, void *user) {
  ser_analyzer_push(a, NULL, n, fn, user); /* NULL samples: zeros */
}

void ser_analyzer_finish(ser_analyzer *a, ser_result_fn fn, void *user) {
  if (a->mfcc) {
    uint64_t ns = a->ns;
    ser_mfcc_flush(a->mfcc, on_frame, a);
    a->ns = ns;
  }
  emit_ready(a, fn, user);
  uint64_t s = a->next;
  if (a->ns > s && a->ns - s >= a->min_tail) {
    uint64_t len = a->ns - s;
    if (a->paper) {
      if (len <= a->scap) run_paper(a, s, len, 1, fn, user);
    } else {
      uint64_t fa;
      uint32_t nf = win_frames(a, s, len, &fa);
      if (nf >= a->min_frames && a->nfr >= fa + nf && a->nfr - fa <= a->fcap)
        run_temporal(a, s, len, fa, nf, 1, fn, user);
    }
  }
  ser_analyzer_reset(a);
}
