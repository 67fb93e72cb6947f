/* Architectures (temporal, paper) as model specs with fresh weights, network
 * inputs of clips, whole-utterance classification with a training net. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ser/features.h"
#include "train_internal.h"

void ser_arch_config_default(ser_arch_config *c, uint32_t arch) {
  memset(c, 0, sizeof *c);
  c->arch = arch;
  if (arch == SER_ARCH_PAPER) {
    c->n_channels = 2;
    c->channels[0] = c->channels[1] = 256;
    c->kernel = 7;
    c->cbam_from = 0;
    c->reduction = 16;
    c->sa_kernel = 7;
    c->dropout = 0.2f;
    c->window_s = 2.5f;
    return;
  }
  c->n_channels = 4;
  c->channels[0] = 32;
  c->channels[1] = 64;
  c->channels[2] = 128;
  c->channels[3] = 128;
  c->kernel = 5;
  c->cbam_from = 2;
  c->reduction = 8;
  c->sa_kernel = 7;
  c->dropout = 0.3f;
  c->window_s = 2.0f;
}

typedef struct lbuild {
  ser_layer *v;
  uint32_t n, cap;
} lbuild;

static ser_layer *push(lbuild *b, uint32_t kind) {
  if (b->n == b->cap) {
    uint32_t nc = b->cap ? 2 * b->cap : 16;
    ser_layer *nv = realloc(b->v, nc * sizeof *nv);
    if (!nv) return NULL;
    b->v = nv;
    b->cap = nc;
  }
  ser_layer *l = &b->v[b->n++];
  memset(l, 0, sizeof *l);
  l->kind = kind;
  return l;
}

/* A "same"-padded, stride-1 conv1d; its weights are initialised later. */
static ser_layer *push_conv(lbuild *b, uint32_t in_ch, uint32_t out_ch, uint32_t kernel) {
  ser_layer *l = push(b, SER_L_CONV1D);
  if (l) {
    l->in_ch = in_ch;
    l->out_ch = out_ch;
    l->kernel = kernel;
    l->stride = 1;
    l->padding = kernel / 2;
    l->dilation = 1;
  }
  return l;
}

static ser_layer *push_bn(lbuild *b, uint32_t ch, float eps) {
  ser_layer *l = push(b, SER_L_BATCHNORM);
  if (l) {
    l->in_ch = ch;
    l->eps = eps;
  }
  return l;
}

static void init_uniform(ser_rng *r, float *p, size_t n, float bound) {
  for (size_t i = 0; i < n; i++) p[i] = (2.f * ser_rng_uniform(r) - 1.f) * bound;
}

/* Allocate and initialise a layer's parameters as PyTorch does by default. */
static int init_params(ser_layer *l, ser_rng *r) {
  l->n_params = ser_layer_param_count(l);
  if (!l->n_params) return 0;
  l->params = calloc(l->n_params, sizeof(float));
  if (!l->params) return -1;
  switch (l->kind) {
  case SER_L_CONV1D: {
    size_t fan = (size_t)l->in_ch * l->kernel, nw = fan * l->out_ch;
    init_uniform(r, l->params, nw, 1.f / sqrtf((float)fan));
    init_uniform(r, l->params + nw, l->out_ch, 1.f / sqrtf((float)fan));
    break;
  }
  case SER_L_DENSE: {
    size_t fan = l->in_ch, nw = fan * l->out_ch;
    init_uniform(r, l->params, nw, 1.f / sqrtf((float)fan));
    init_uniform(r, l->params + nw, l->out_ch, 1.f / sqrtf((float)fan));
    break;
  }
  case SER_L_BATCHNORM:
    for (uint32_t c = 0; c < l->in_ch; c++) {
      l->params[c] = 1.f;
      l->params[3 * l->in_ch + c] = 1.f;
    }
    break;
  case SER_L_CHANNEL_ATT: {
    uint32_t c = l->in_ch, h = c / (l->reduction ? l->reduction : 1);
    if (h < 1) h = 1;
    float *w1 = l->params, *b1 = w1 + (size_t)h * c, *w2 = b1 + h, *b2 = w2 + (size_t)c * h;
    init_uniform(r, w1, (size_t)h * c, 1.f / sqrtf((float)c));
    init_uniform(r, b1, h, 1.f / sqrtf((float)c));
    init_uniform(r, w2, (size_t)c * h, 1.f / sqrtf((float)h));
    init_uniform(r, b2, c, 1.f / sqrtf((float)h));
    break;
  }
  case SER_L_SPATIAL_ATT:
    init_uniform(r, l->params, 2 * (size_t)l->kernel + 1, 1.f / sqrtf(2.f * l->kernel));
    break;
  default:
    break;
  }
  return 0;
}

int ser_arch_build(const ser_arch_config *c, const ser_feature_params *feat,
                   const char *const *labels, uint32_t n_labels, uint64_t seed,
                   ser_model_spec *out, ser_error *err) {
  memset(out, 0, sizeof *out);
  if (ser_feature_params_check(feat, err) < 0) return -1;
  if (n_labels < 2) return ser_fail(err, "labels: need at least 2, got %u", n_labels);
  if (c->arch == SER_ARCH_TEMPORAL && (c->n_channels < 1 || c->n_channels > 8))
    return ser_fail(err, "channels: need 1 to 8 conv blocks, got %u", c->n_channels);
  if (c->arch == SER_ARCH_TEMPORAL && !(c->kernel & 1))
    return ser_fail(err, "kernel: %u must be odd", c->kernel);
  if (!(c->sa_kernel & 1)) return ser_fail(err, "spatial attention kernel: %u must be odd", c->sa_kernel);
  if (c->dropout < 0 || c->dropout >= 1) return ser_fail(err, "dropout: %g not in [0, 1)", c->dropout);
  for (uint32_t i = 0; i < c->n_channels; i++)
    if (c->channels[i] < 1 || c->channels[i] > 4096)
      return ser_fail(err, "channels: block %u has %u channels (1..4096)", i + 1, c->channels[i]);
  if (c->window_s <= 0 || c->window_s > 60) return ser_fail(err, "window: %g s out of range (0, 60]", c->window_s);

  out->arch = c->arch;
  out->feat = *feat;
  out->n_labels = n_labels;
  out->labels = calloc(n_labels, sizeof(char *));
  if (!out->labels) goto oom;
  for (uint32_t i = 0; i < n_labels; i++)
    if (!(out->labels[i] = strdup(labels[i]))) goto oom;
  uint32_t dim = ser_feature_dim(feat);
  uint64_t wsamp = (uint64_t)llround((double)c->window_s * feat->sample_rate);
  uint32_t frames;
  if (feat->center) frames = (uint32_t)(1 + wsamp / feat->hop_length);
  else frames = wsamp >= feat->n_fft ? (uint32_t)(1 + (wsamp - feat->n_fft) / feat->hop_length) : 1;
  lbuild b = {0};
  ser_layer *l;
  uint32_t ch;
  if (c->arch == SER_ARCH_PAPER) {
    out->in_ch = 1;
    out->in_len = frames * dim;
    out->clip_samples = (uint32_t)wsamp;
    ch = 1;
    for (uint32_t i = 0; i < c->n_channels; i++) {
      if (!push_conv(&b, ch, c->channels[i], c->kernel)) goto oom_b;
      ch = c->channels[i];
      /* Keras order: Conv1D(activation='relu') then BatchNormalization
       * (docs/model-format.md, "paper"); eps is Keras' default */
      if (!push(&b, SER_L_RELU) || !push_bn(&b, ch, 1e-3f)) goto oom_b;
    }
    if (!(l = push(&b, SER_L_DROPOUT))) goto oom_b;
    l->p = c->dropout;
    if (!(l = push(&b, SER_L_CHANNEL_ATT))) goto oom_b;
    l->in_ch = ch;
    l->reduction = c->reduction;
    if (!(l = push(&b, SER_L_SPATIAL_ATT))) goto oom_b;
    l->kernel = c->sa_kernel;
    if (!(l = push(&b, SER_L_FLATTEN))) goto oom_b;
    if (!(l = push(&b, SER_L_DENSE))) goto oom_b;
    l->in_ch = ch * out->in_len;
    l->out_ch = 64;
    if (!push(&b, SER_L_RELU) || !push_bn(&b, 64, 1e-3f)) goto oom_b;
    ch = 64;
  } else {
    out->in_ch = dim;
    out->in_len = frames;
    out->clip_samples = 0;
    ch = dim;
    for (uint32_t i = 0; i < c->n_channels; i++) {
      if (!push_conv(&b, ch, c->channels[i], c->kernel)) goto oom_b;
      ch = c->channels[i];
      if (!push_bn(&b, ch, 1e-5f) || !push(&b, SER_L_RELU)) goto oom_b;
      if (i >= c->cbam_from) {
        if (!(l = push(&b, SER_L_CHANNEL_ATT))) goto oom_b;
        l->in_ch = ch;
        l->reduction = c->reduction;
        if (!(l = push(&b, SER_L_SPATIAL_ATT))) goto oom_b;
        l->kernel = c->sa_kernel;
      }
      if (i + 1 < c->n_channels) {
        if (!(l = push(&b, SER_L_MAXPOOL))) goto oom_b;
        l->kernel = 2;
        l->stride = 2;
      }
    }
    if (!(l = push(&b, SER_L_GLOBAL_POOL))) goto oom_b;
    l->mode = 2;
    ch *= 2;
    if (!(l = push(&b, SER_L_DROPOUT))) goto oom_b;
    l->p = c->dropout;
  }
  if (!(l = push(&b, SER_L_DENSE))) goto oom_b;
  l->in_ch = ch;
  l->out_ch = n_labels;
  if (!(l = push(&b, SER_L_SOFTMAX))) goto oom_b;
  out->layers = b.v;
  out->n_layers = b.n;
  ser_rng r;
  ser_rng_seed(&r, ser_mix64(seed, 0xa5c4));
  for (uint32_t i = 0; i < out->n_layers; i++)
    if (init_params(&out->layers[i], &r) < 0) goto oom;
  return 0;
oom_b:
  out->layers = b.v;
  out->n_layers = b.n;
oom:
  ser_model_spec_clear(out);
  return ser_fail(err, "model: out of memory");
}

/* ---- inputs -------------------------------------------------------------- */

/* fx: an extractor of ser_mfcc_clip_new(&spec->feat) to reuse, or NULL */
static int features_of(const ser_model_spec *spec, ser_mfcc *fx, const float *audio, size_t n,
                       float **f, size_t *nf, ser_error *err) {
  *f = NULL;
  *nf = 0;
  int rc = fx ? ser_mfcc_clip(fx, audio, n, f, nf, err) : ser_features_clip(&spec->feat, audio, n, f, nf, err);
  return rc < 0 ? -1 : 0;
}

static void normalise(const ser_model_spec *spec, float *f, size_t frames, uint32_t dim) {
  if (!spec->norm_mean || !spec->norm_std) return;
  for (size_t k = 0; k < frames; k++)
    for (uint32_t d = 0; d < dim; d++) {
      float s = spec->norm_std[d];
      f[k * dim + d] = (f[k * dim + d] - spec->norm_mean[d]) / (s > 1e-8f ? s : 1e-8f);
    }
}

int ser_train_clip_input(const ser_model_spec *spec, const float *audio, size_t n,
                         uint32_t min_frames, float **out, uint32_t *frames, ser_error *err) {
  return ser_train_clip_input_fx(spec, NULL, audio, n, min_frames, out, frames, err);
}

int ser_train_clip_input_fx(const ser_model_spec *spec, ser_mfcc *fx, const float *audio, size_t n,
                            uint32_t min_frames, float **out, uint32_t *frames, ser_error *err) {
  *out = NULL;
  *frames = 0;
  if (n == 0) return ser_fail(err, "clip: no samples");
  const ser_feature_params *fp = &spec->feat;
  uint32_t dim = ser_feature_dim(fp);
  float *tmp = NULL;
  float *f = NULL;
  size_t nf = 0;
  if (spec->arch == SER_ARCH_PAPER) {
    size_t L = spec->clip_samples;
    tmp = calloc(L ? L : 1, sizeof(float));
    if (!tmp) return ser_fail(err, "clip: out of memory");
    memcpy(tmp, audio, (n < L ? n : L) * sizeof(float));
    int rc = features_of(spec, fx, tmp, L, &f, &nf, err);
    free(tmp);
    if (rc < 0) return -1;
    uint32_t want = spec->in_len / dim;
    float *o = calloc(spec->in_len, sizeof(float));
    if (!o) {
      free(f);
      return ser_fail(err, "clip: out of memory");
    }
    normalise(spec, f, nf, dim);
    memcpy(o, f, (nf < want ? nf : want) * dim * sizeof(float));
    free(f);
    *out = o;
    *frames = spec->in_len;
    return 0;
  }
  /* temporal: tile short clips (in audio) to min_frames */
  size_t need = (size_t)(min_frames ? min_frames - 1 : 0) * fp->hop_length + fp->n_fft; /* a frame spans n_fft samples */
  const float *src = audio;
  size_t ns = n;
  if (n < need) {
    tmp = malloc(need * sizeof(float));
    if (!tmp) return ser_fail(err, "clip: out of memory");
    for (size_t k = 0; k < need; k++) tmp[k] = audio[k % n];
    src = tmp;
    ns = need;
  }
  int rc = features_of(spec, fx, src, ns, &f, &nf, err);
  free(tmp);
  if (rc < 0) return -1;
  if (nf == 0) {
    free(f);
    return ser_fail(err, "clip: too short for one feature frame");
  }
  normalise(spec, f, nf, dim);
  *out = f;
  *frames = (uint32_t)nf;
  return 0;
}

int ser_train_norm_stats(ser_model_spec *spec, const ser_clip *clips, size_t n, ser_error *err) {
  /* the statistics of the raw features: the clips' own group statistics
   * (norm_mean / norm_std) are ignored here, so they are cleared in a copy */
  uint32_t dim = ser_feature_dim(&spec->feat);
  ser_clip *raw = malloc((n ? n : 1) * sizeof *raw);
  float *mean = malloc(dim * sizeof(float)), *sd = malloc(dim * sizeof(float));
  if (!raw || !mean || !sd) {
    free(raw), free(mean), free(sd);
    return ser_fail(err, "normalisation: out of memory");
  }
  for (size_t i = 0; i < n; i++) {
    raw[i] = clips[i];
    raw[i].norm_mean = raw[i].norm_std = NULL;
  }
  int rc = ser_train_feature_stats(spec, raw, n, mean, sd, err);
  free(raw);
  if (rc < 0) {
    free(mean), free(sd);
    return -1;
  }
  free(spec->norm_mean);
  free(spec->norm_std);
  spec->norm_mean = mean;
  spec->norm_std = sd;
  return 0;
}

int ser_train_classify_clip(ser_tnet *t, const float *audio, size_t n, float *probs,
                            ser_error *err) {
  ser_model_spec *spec = ser_tnet_spec(t);
  uint32_t K = spec->n_labels, T = spec->in_len, dim = spec->in_ch;
  float *x = NULL;
  uint32_t nf = 0;
  if (ser_train_clip_input(spec, audio, n, T, &x, &nf, err) < 0) return -1;
  if (spec->arch == SER_ARCH_PAPER) {
    int rc = ser_tnet_forward(t, x, 1, spec->in_len, 0, NULL, probs, err);
    free(x);
    return rc;
  }
  if (nf < T) T = nf; /* cannot happen after tiling; stay safe */
  uint32_t hop = T / 4 ? T / 4 : 1;
  uint32_t nw = nf <= T ? 1 : (nf - T + hop - 1) / hop + 1;
  uint32_t B = 8;
  float *buf = malloc((size_t)B * T * dim * sizeof(float));
  float *pb = malloc((size_t)B * K * sizeof(float));
  double *acc = calloc(K, sizeof(double));
  if (!buf || !pb || !acc) {
    free(x), free(buf), free(pb), free(acc);
    return ser_fail(err, "classify: out of memory");
  }
  int rc = 0;
  for (uint32_t w0 = 0; w0 < nw && rc == 0; w0 += B) {
    uint32_t b = nw - w0 < B ? nw - w0 : B;
    for (uint32_t j = 0; j < b; j++) {
      uint32_t st = (w0 + j) * hop;
      if (st + T > nf) st = nf - T;
      memcpy(buf + (size_t)j * T * dim, x + (size_t)st * dim, (size_t)T * dim * sizeof(float));
    }
    /* eval mode: samples are independent, run them one by one */
    for (uint32_t j = 0; j < b && rc == 0; j++)
      rc = ser_tnet_forward(t, buf + (size_t)j * T * dim, 1, T, 0, NULL, pb + (size_t)j * K, err);
    for (uint32_t j = 0; j < b; j++)
      for (uint32_t k = 0; k < K; k++) acc[k] += pb[(size_t)j * K + k];
  }
  for (uint32_t k = 0; k < K; k++) probs[k] = (float)(acc[k] / nw);
  free(x), free(buf), free(pb), free(acc);
  return rc;
}

int ser_train_classify_whole(ser_model_spec *spec, const float *audio, size_t n, float *probs,
                             ser_error *err) {
  float *x = NULL;
  uint32_t nf = 0;
  if (ser_train_clip_input(spec, audio, n, spec->in_len, &x, &nf, err) < 0) return -1;
  ser_tnet *t = ser_tnet_new(spec, 1, nf, err);
  if (!t) {
    free(x);
    return -1;
  }
  int rc = ser_tnet_forward(t, x, 1, nf, 0, NULL, probs, err);
  ser_tnet_free(t);
  free(x);
  return rc;
}

void ser_train_trim(const float *x, size_t n, uint32_t sr, float top_db, size_t *start, size_t *len) {
  *start = 0;
  *len = n;
  size_t fl = sr / 40, hop = sr / 100;
  if (top_db <= 0 || !fl || !hop || n < fl) return;
  size_t nf = 1 + (n - fl) / hop;
  float *db = malloc(nf * sizeof(float));
  if (!db) return;
  float mx = -1e30f;
  for (size_t f = 0; f < nf; f++) {
    double e = 0;
    const float *p = x + f * hop;
    for (size_t k = 0; k < fl; k++) e += (double)p[k] * p[k];
    db[f] = (float)(10 * log10(e / fl + 1e-12));
    if (db[f] > mx) mx = db[f];
  }
  size_t a = nf, b = 0;
  for (size_t f = 0; f < nf; f++)
    if (db[f] >= mx - top_db) {
      if (a == nf) a = f;
      b = f;
    }
  free(db);
  if (a == nf) return;
  size_t margin = sr / 10;
  size_t s0 = a * hop > margin ? a * hop - margin : 0;
  size_t s1 = b * hop + fl + margin;
  if (s1 > n) s1 = n;
  *start = s0;
  *len = s1 - s0;
}
