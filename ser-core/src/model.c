/* Models: spec validation, copy, metadata, and compilation into an
 * immutable, reference-counted ser_model (batch norm folded, dropout
 * removed). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "conv_fast.h"
#include "model_internal.h"

static const char *const kind_names[] = {
    "?",       "conv1d",      "batchnorm",   "relu",        "maxpool",
    "avgpool", "channel_att", "spatial_att", "global_pool", "flatten",
    "dense",   "dropout",     "softmax"};

const char *ser_layer_kind_name(uint32_t kind) {
  return kind < sizeof kind_names / sizeof kind_names[0] ? kind_names[kind] : "unknown";
}

uint32_t ser_spec_feature_dim(const ser_feature_params *p) {
  uint64_t d = (uint64_t)p->n_mfcc * (1u + (p->deltas <= 2 ? p->deltas : 0)) +
               (p->zcr_rms ? 2u : 0u) + (p->pitch ? 2u : 0u);
  return d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
}

static uint32_t att_hidden(uint32_t c, uint32_t r) {
  uint32_t h = r ? c / r : c;
  return h ? h : 1;
}

static uint32_t clamp32(uint64_t v) { return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v; }

uint32_t ser_layer_param_count(const ser_layer *l) {
  uint64_t n = 0;
  switch (l->kind) {
  case SER_L_CONV1D:
    n = (uint64_t)l->out_ch * l->in_ch * l->kernel + l->out_ch;
    break;
  case SER_L_BATCHNORM:
    n = 4ull * l->in_ch;
    break;
  case SER_L_CHANNEL_ATT: {
    uint64_t h = att_hidden(l->in_ch, l->reduction);
    n = 2 * h * l->in_ch + h + l->in_ch;
    break;
  }
  case SER_L_SPATIAL_ATT:
    n = 2ull * l->kernel + 1;
    break;
  case SER_L_DENSE:
    n = (uint64_t)l->out_ch * l->in_ch + l->out_ch;
    break;
  default:
    n = 0;
  }
  return clamp32(n);
}

/* ---- shapes ---- */

#define LFAIL(...) ser_fail(err, __VA_ARGS__)

static int conv_len(int64_t t, int64_t k, int64_t s, int64_t p, int64_t d) {
  int64_t num = t + 2 * p - d * (k - 1) - 1;
  if (num < 0) return 0;
  return (int)(num / s + 1);
}

int ser_layer_out_shape(const ser_layer *l, uint32_t i, uint32_t c, uint32_t t,
                        uint32_t *oc, uint32_t *ot, ser_error *err) {
  const char *kn = ser_layer_kind_name(l->kind);
  *oc = c;
  *ot = t;
  switch (l->kind) {
  case SER_L_CONV1D: {
    if (l->in_ch != c)
      return LFAIL("layer %u (%s): in_ch %u but its input has %u channels", i, kn, l->in_ch, c);
    if (l->out_ch < 1 || l->out_ch > SER_MAX_CH)
      return LFAIL("layer %u (%s): out_ch %u outside 1..%u", i, kn, l->out_ch, SER_MAX_CH);
    if (l->kernel < 1 || l->kernel > SER_MAX_KERNEL)
      return LFAIL("layer %u (%s): kernel %u outside 1..%u", i, kn, l->kernel, SER_MAX_KERNEL);
    if (l->stride < 1 || l->stride > SER_MAX_STRIDE)
      return LFAIL("layer %u (%s): stride %u outside 1..%u", i, kn, l->stride, SER_MAX_STRIDE);
    if (l->dilation < 1 || l->dilation > SER_MAX_DILATION)
      return LFAIL("layer %u (%s): dilation %u outside 1..%u", i, kn, l->dilation, SER_MAX_DILATION);
    if (l->padding > SER_MAX_PADDING)
      return LFAIL("layer %u (%s): padding %u larger than %u", i, kn, l->padding, SER_MAX_PADDING);
    int n = conv_len(t, l->kernel, l->stride, l->padding, l->dilation);
    if (n < 1)
      return LFAIL("layer %u (%s): input of %u frames is shorter than the kernel's span", i, kn, t);
    *oc = l->out_ch;
    *ot = (uint32_t)n;
    break;
  }
  case SER_L_BATCHNORM:
    if (l->in_ch != c)
      return LFAIL("layer %u (%s): in_ch %u but its input has %u channels", i, kn, l->in_ch, c);
    if (!(l->eps > 0.0f) || !isfinite(l->eps))
      return LFAIL("layer %u (%s): eps must be a positive number", i, kn);
    break;
  case SER_L_RELU:
    break;
  case SER_L_DROPOUT:
    if (!(l->p >= 0.0f && l->p < 1.0f))
      return LFAIL("layer %u (%s): p must be in [0, 1)", i, kn);
    break;
  case SER_L_MAXPOOL:
  case SER_L_AVGPOOL: {
    if (l->kernel < 1 || l->kernel > SER_MAX_KERNEL)
      return LFAIL("layer %u (%s): kernel %u outside 1..%u", i, kn, l->kernel, SER_MAX_KERNEL);
    if (l->stride < 1 || l->stride > SER_MAX_STRIDE)
      return LFAIL("layer %u (%s): stride %u outside 1..%u", i, kn, l->stride, SER_MAX_STRIDE);
    if (l->padding > l->kernel / 2)
      return LFAIL("layer %u (%s): padding %u is more than half the kernel %u", i, kn, l->padding, l->kernel);
    int n = conv_len(t, l->kernel, l->stride, l->padding, 1);
    if (n < 1)
      return LFAIL("layer %u (%s): input of %u frames is shorter than the kernel", i, kn, t);
    *ot = (uint32_t)n;
    break;
  }
  case SER_L_CHANNEL_ATT:
    if (l->in_ch != c)
      return LFAIL("layer %u (%s): in_ch %u but its input has %u channels", i, kn, l->in_ch, c);
    if (l->reduction < 1 || l->reduction > SER_MAX_CH)
      return LFAIL("layer %u (%s): reduction %u outside 1..%u", i, kn, l->reduction, SER_MAX_CH);
    break;
  case SER_L_SPATIAL_ATT:
    if (l->kernel < 1 || l->kernel > SER_MAX_KERNEL || !(l->kernel & 1))
      return LFAIL("layer %u (%s): kernel %u must be odd, 1..%u", i, kn, l->kernel, SER_MAX_KERNEL);
    break;
  case SER_L_GLOBAL_POOL:
    if (l->mode > 2) return LFAIL("layer %u (%s): mode %u is not 0 (avg), 1 (max) or 2 (avg+max)", i, kn, l->mode);
    *oc = l->mode == 2 ? 2 * c : c;
    *ot = 1;
    break;
  case SER_L_FLATTEN: {
    uint64_t n = (uint64_t)c * t;
    if (n > SER_MAX_TENSOR) return LFAIL("layer %u (%s): %llu values is too many", i, kn, (unsigned long long)n);
    *oc = (uint32_t)n;
    *ot = 1;
    break;
  }
  case SER_L_DENSE:
    if (t != 1)
      return LFAIL("layer %u (%s): input has %u frames; flatten or global pooling must come first", i, kn, t);
    if (l->in_ch != c)
      return LFAIL("layer %u (%s): in_ch %u but its input has %u values", i, kn, l->in_ch, c);
    if (l->out_ch < 1 || l->out_ch > SER_MAX_CH)
      return LFAIL("layer %u (%s): out_ch %u outside 1..%u", i, kn, l->out_ch, SER_MAX_CH);
    *oc = l->out_ch;
    break;
  case SER_L_SOFTMAX:
    if (t != 1)
      return LFAIL("layer %u (%s): input has %u frames; softmax needs a vector", i, kn, t);
    break;
  default:
    return LFAIL("layer %u: unknown kind %u", i, l->kind);
  }
  if ((uint64_t)*oc * *ot > SER_MAX_TENSOR)
    return LFAIL("layer %u (%s): output of %u x %u values is too large", i, kn, *oc, *ot);
  return 0;
}

/* Smallest input length (frames) for which every layer has >= 1 frame out. */
static uint32_t spec_min_frames(const ser_model_spec *s) {
  /* In double: the layer fields may still be unvalidated (any uint32), and
   * products of them overflow 64-bit integers; every value that matters is
   * far below 2^53, where double is exact. */
  double need = 1;
  for (uint32_t j = s->n_layers; j-- > 0;) {
    const ser_layer *l = &s->layers[j];
    double n = need;
    switch (l->kind) {
    case SER_L_CONV1D:
      n = (n - 1) * l->stride + (double)l->dilation * ((double)l->kernel - 1) + 1 - 2 * (double)l->padding;
      break;
    case SER_L_MAXPOOL:
    case SER_L_AVGPOOL:
      n = (n - 1) * l->stride + (double)l->kernel - 2 * (double)l->padding;
      break;
    case SER_L_GLOBAL_POOL:
      n = 1;
      break;
    default:
      break;
    }
    if (!(n >= 1)) n = 1;
    if (n > (double)UINT32_MAX) n = UINT32_MAX;
    need = n;
  }
  return (uint32_t)need;
}

static int check_str(const char *s, uint32_t maxlen, const char *what, uint32_t i,
                     ser_error *err) {
  if (!s) return ser_fail(err, "%s %u: missing", what, i);
  size_t n = strlen(s);
  if (n == 0) return ser_fail(err, "%s %u: empty", what, i);
  if (n > maxlen) return ser_fail(err, "%s %u: %zu bytes is longer than %u", what, i, n, maxlen);
  return 0;
}

/* GStreamer structure field name rules (scores=(structure)[scores, label=...]). */
static int label_ok(const char *l) {
  if (!((*l >= 'a' && *l <= 'z') || (*l >= 'A' && *l <= 'Z'))) return 0;
  for (; *l; l++)
    if (!((*l >= 'a' && *l <= 'z') || (*l >= 'A' && *l <= 'Z') || (*l >= '0' && *l <= '9') || *l == '-' ||
          *l == '_' || *l == '.' || *l == ':' || *l == '/'))
      return 0;
  return 1;
}

static int check_features(const ser_feature_params *p, ser_error *err) {
  if (p->sample_rate < 1000 || p->sample_rate > 384000)
    return ser_fail(err, "features: sample_rate %u outside 1000..384000", p->sample_rate);
  if (p->win_length < 1 || p->hop_length < 1 || p->n_fft < p->win_length || p->n_fft > 65536)
    return ser_fail(err, "features: win_length %u, hop_length %u, n_fft %u are inconsistent",
                    p->win_length, p->hop_length, p->n_fft);
  if (p->window > 1 || p->mel_scale > 1 || p->mel_norm > 1 || p->log > 1 || p->deltas > 2 ||
      p->center > 1 || p->zcr_rms > 1 || p->pitch > 1)
    return ser_fail(err, "features: an enumerated parameter is out of range");
  if (p->n_mels < 1 || p->n_mels > 1024 || p->n_mfcc < 1 || p->n_mfcc > p->n_mels)
    return ser_fail(err, "features: n_mfcc %u / n_mels %u are invalid", p->n_mfcc, p->n_mels);
  if (!isfinite(p->fmin) || !isfinite(p->fmax) || !isfinite(p->preemph) || !isfinite(p->top_db))
    return ser_fail(err, "features: non-finite fmin, fmax, preemph or top_db");
  if (p->deltas && p->delta_width > 1001)
    return ser_fail(err, "features: delta_width %u too large", p->delta_width);
  /* and every rule the feature extractor itself has (fmin >= 0, hop, top_db,
   * pitch with centring, ...): a model it cannot run fails when it is read */
  ser_error e;
  if (ser_feature_params_check(p, &e) < 0) return ser_fail(err, "features: %s", e.msg);
  return 0;
}

/* The network part of ser_model_spec_check, for one network (a view, see
 * ser_model_spec_net_view); *total counts parameters over all networks. */
static int check_net(const ser_model_spec *s, uint64_t *total, ser_error *err) {
  if (s->n_layers < 1 || s->n_layers > SER_MAX_LAYERS)
    return ser_fail(err, "layers: %u layers, expected 1..%u", s->n_layers, SER_MAX_LAYERS);
  if (!s->layers) return ser_fail(err, "layers: missing");
  for (uint32_t i = 0; i < s->n_layers; i++) {
    const ser_layer *l = &s->layers[i];
    uint32_t want = ser_layer_param_count(l);
    if (l->kind >= SER_L_CONV1D && l->kind <= SER_L_SOFTMAX && want > SER_MAX_PARAMS)
      return ser_fail(err, "layer %u (%s): %u parameters is more than the limit %u", i,
                      ser_layer_kind_name(l->kind), want, SER_MAX_PARAMS);
    if (l->n_params != want)
      return ser_fail(err, "layer %u (%s): has %u parameters, its shape needs %u", i,
                      ser_layer_kind_name(l->kind), l->n_params, want);
    if (l->n_params && !l->params)
      return ser_fail(err, "layer %u (%s): parameters missing", i, ser_layer_kind_name(l->kind));
    *total += l->n_params;
    if (*total > SER_MAX_PARAMS)
      return ser_fail(err, "layers: more than %u parameters in total", SER_MAX_PARAMS);
    for (uint32_t k = 0; k < l->n_params; k++)
      if (!isfinite(l->params[k]))
        return ser_fail(err, "layer %u (%s): parameter %u is not finite", i,
                        ser_layer_kind_name(l->kind), k);
    if (l->kind == SER_L_BATCHNORM)
      for (uint32_t k = 0; k < l->in_ch; k++)
        if (l->params[3 * l->in_ch + k] < 0.0f)
          return ser_fail(err, "layer %u (batchnorm): running_var[%u] is negative", i, k);
  }
  /* shapes chain: at the default length, and (temporal) at the minimum */
  if (s->arch == SER_ARCH_TEMPORAL && spec_min_frames(s) > s->in_len)
    return ser_fail(err, "in_len: default window of %u frames is shorter than the minimum %u", s->in_len,
                    spec_min_frames(s));
  uint32_t c = s->in_ch, t = s->in_len;
  for (uint32_t i = 0; i < s->n_layers; i++) {
    if (s->arch == SER_ARCH_TEMPORAL && s->layers[i].kind == SER_L_FLATTEN && t != 1)
      return ser_fail(err, "layer %u (flatten): temporal models need global pooling before flatten "
                           "(the window length varies)", i);
    if (ser_layer_out_shape(&s->layers[i], i, c, t, &c, &t, err)) return -1;
  }
  if (s->layers[s->n_layers - 1].kind != SER_L_SOFTMAX)
    return ser_fail(err, "layers: the last layer must be softmax, not %s",
                    ser_layer_kind_name(s->layers[s->n_layers - 1].kind));
  if (c != s->n_labels || t != 1)
    return ser_fail(err, "layers: the network gives %u x %u outputs for %u labels", c, t, s->n_labels);
  if (s->arch == SER_ARCH_TEMPORAL) {
    uint32_t m = spec_min_frames(s);
    c = s->in_ch;
    t = m;
    for (uint32_t i = 0; i < s->n_layers; i++)
      if (ser_layer_out_shape(&s->layers[i], i, c, t, &c, &t, err)) return -1;
  }
  return 0;
}

int ser_model_spec_check(const ser_model_spec *s, ser_error *err) {
  if (!s) return ser_fail(err, "model: no spec");
  if (s->arch > SER_ARCH_PAPER)
    return ser_fail(err, "architecture: %u is neither 0 (temporal) nor 1 (paper)", s->arch);
  if (check_features(&s->feat, err)) return -1;
  uint32_t fdim = ser_spec_feature_dim(&s->feat);
  if (fdim > SER_MAX_FEAT_DIM) return ser_fail(err, "features: %u values per frame is too many", fdim);
  if (s->n_labels < 1 || s->n_labels > SER_MAX_LABELS)
    return ser_fail(err, "labels: %u labels, expected 1..%u", s->n_labels, SER_MAX_LABELS);
  if (!s->labels) return ser_fail(err, "labels: missing");
  for (uint32_t i = 0; i < s->n_labels; i++) {
    if (check_str(s->labels[i], SER_MAX_LABEL_LEN, "label", i, err)) return -1;
    if (!label_ok(s->labels[i]))
      return ser_fail(err, "label %u: '%s' is not a usable name (a letter, then letters, digits, - _ . : /; "
                           "labels become GStreamer field names)", i, s->labels[i]);
    for (uint32_t j = 0; j < i; j++)
      if (!strcmp(s->labels[i], s->labels[j]))
        return ser_fail(err, "label %u: '%s' appears twice", i, s->labels[i]);
  }
  if (s->arch == SER_ARCH_TEMPORAL && s->in_ch != fdim)
    return ser_fail(err, "in_ch: %u but the feature parameters give %u values per frame", s->in_ch, fdim);
  if (s->arch == SER_ARCH_PAPER && s->in_ch != 1)
    return ser_fail(err, "in_ch: the paper architecture takes 1 input channel, not %u", s->in_ch);
  if (s->in_len < 1 || s->in_len > SER_MAX_IN_LEN)
    return ser_fail(err, "in_len: %u outside 1..%u", s->in_len, SER_MAX_IN_LEN);
  if (s->clip_samples > (1u << 28))
    return ser_fail(err, "clip_samples: %u is too large", s->clip_samples);
  if (!s->norm_mean != !s->norm_std)
    return ser_fail(err, "normalisation: mean and std must both be present or both absent");
  if (s->norm_mean) {
    for (uint32_t i = 0; i < fdim; i++) {
      if (!isfinite(s->norm_mean[i])) return ser_fail(err, "normalisation: mean[%u] is not finite", i);
      if (!isfinite(s->norm_std[i]) || !(s->norm_std[i] > 0.0f))
        return ser_fail(err, "normalisation: std[%u] must be positive and finite", i);
    }
  }
  if (!s->spk_mean != !s->spk_std)
    return ser_fail(err, "speaker normalisation: prior mean and std must both be present or both absent");
  if (s->spk_mean) {
    if (s->arch != SER_ARCH_TEMPORAL)
      return ser_fail(err, "speaker normalisation: only temporal models stream frame by frame");
    for (uint32_t i = 0; i < fdim; i++) {
      if (!isfinite(s->spk_mean[i])) return ser_fail(err, "speaker normalisation: prior mean[%u] is not finite", i);
      if (!isfinite(s->spk_std[i]) || !(s->spk_std[i] > 0.0f))
        return ser_fail(err, "speaker normalisation: prior std[%u] must be positive and finite", i);
    }
    if (ser_spknorm_params_check(&s->spk, err) < 0) return -1;
  }
  uint64_t total = 0;
  if (check_net(s, &total, err)) return -1;
  if (s->n_extra > SER_MAX_NETS - 1)
    return ser_fail(err, "ensemble: %u networks, at most %u", s->n_extra + 1, SER_MAX_NETS);
  if (s->n_extra && !s->extra) return ser_fail(err, "ensemble: networks missing");
  for (uint32_t k = 0; k < s->n_extra; k++) {
    ser_model_spec v;
    ser_error e;
    ser_model_spec_net_view(s, k + 1, &v);
    if (check_net(&v, &total, &e)) return ser_fail(err, "network %u of %u: %s", k + 2, s->n_extra + 1, e.msg);
  }
  if (s->n_meta > SER_MAX_META) return ser_fail(err, "metadata: %u entries, at most %u", s->n_meta, SER_MAX_META);
  if (s->n_meta && (!s->meta_keys || !s->meta_values)) return ser_fail(err, "metadata: missing");
  uint64_t mbytes = 0;
  for (uint32_t i = 0; i < s->n_meta; i++) {
    if (check_str(s->meta_keys[i], SER_MAX_META_KEY, "metadata key", i, err)) return -1;
    if (!s->meta_values[i]) return ser_fail(err, "metadata value %u: missing", i);
    mbytes += strlen(s->meta_keys[i]) + strlen(s->meta_values[i]);
  }
  if (mbytes > SER_MAX_META_BYTES)
    return ser_fail(err, "metadata: %llu bytes, at most %u", (unsigned long long)mbytes, SER_MAX_META_BYTES);
  return 0;
}

/* ---- copy / clear / meta ---- */

/* A layer list and the parameters of its layers. */
static void free_layers(ser_layer *L, uint32_t n) {
  if (L)
    for (uint32_t i = 0; i < n; i++) free(L[i].params);
  free(L);
}

void ser_model_spec_clear(ser_model_spec *s) {
  if (!s) return;
  if (s->labels)
    for (uint32_t i = 0; i < s->n_labels; i++) free(s->labels[i]);
  free(s->labels);
  free(s->norm_mean);
  free(s->norm_std);
  free(s->spk_mean);
  free(s->spk_std);
  free_layers(s->layers, s->n_layers);
  if (s->extra)
    for (uint32_t k = 0; k < s->n_extra; k++) free_layers(s->extra[k].layers, s->extra[k].n_layers);
  free(s->extra);
  for (uint32_t i = 0; i < s->n_meta; i++) {
    if (s->meta_keys) free(s->meta_keys[i]);
    if (s->meta_values) free(s->meta_values[i]);
  }
  free(s->meta_keys);
  free(s->meta_values);
  memset(s, 0, sizeof *s);
}

static char *dupstr(const char *s) {
  if (!s) return NULL;
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

static float *dupf(const float *x, size_t n) {
  if (!x || !n) return NULL;
  float *d = malloc(n * sizeof *d);
  if (d) memcpy(d, x, n * sizeof *d);
  return d;
}

/* Deep copy of a layer list into *dst / *n (nothing when src is empty); -1
 * when out of memory, with what was copied left in *dst for the caller's
 * clear. */
static int copy_layers(ser_layer **dst, uint32_t *n, const ser_layer *src, uint32_t ns) {
  if (!ns || !src) return 0;
  if (!(*dst = calloc(ns, sizeof **dst))) return -1;
  *n = ns;
  for (uint32_t i = 0; i < ns; i++) {
    (*dst)[i] = src[i];
    (*dst)[i].params = NULL;
    if (src[i].n_params && src[i].params && !((*dst)[i].params = dupf(src[i].params, src[i].n_params)))
      return -1;
  }
  return 0;
}

int ser_model_spec_copy(ser_model_spec *dst, const ser_model_spec *src, ser_error *err) {
  ser_model_spec d;
  memset(&d, 0, sizeof d);
  d.arch = src->arch;
  d.feat = src->feat;
  d.in_ch = src->in_ch;
  d.in_len = src->in_len;
  d.clip_samples = src->clip_samples;
  uint32_t fdim = ser_spec_feature_dim(&src->feat);
  if (src->n_labels && src->labels) {
    d.labels = calloc(src->n_labels, sizeof *d.labels);
    if (!d.labels) goto oom;
    d.n_labels = src->n_labels;
    for (uint32_t i = 0; i < src->n_labels; i++)
      if (src->labels[i] && !(d.labels[i] = dupstr(src->labels[i]))) goto oom;
  }
  if (src->norm_mean && fdim) {
    if (!(d.norm_mean = dupf(src->norm_mean, fdim))) goto oom;
  }
  if (src->norm_std && fdim) {
    if (!(d.norm_std = dupf(src->norm_std, fdim))) goto oom;
  }
  d.spk = src->spk;
  if (src->spk_mean && fdim && !(d.spk_mean = dupf(src->spk_mean, fdim))) goto oom;
  if (src->spk_std && fdim && !(d.spk_std = dupf(src->spk_std, fdim))) goto oom;
  if (copy_layers(&d.layers, &d.n_layers, src->layers, src->n_layers)) goto oom;
  if (src->n_extra && src->extra) {
    if (!(d.extra = calloc(src->n_extra, sizeof *d.extra))) goto oom;
    d.n_extra = src->n_extra;
    for (uint32_t k = 0; k < src->n_extra; k++)
      if (copy_layers(&d.extra[k].layers, &d.extra[k].n_layers, src->extra[k].layers, src->extra[k].n_layers))
        goto oom;
  }
  if (src->n_meta && src->meta_keys && src->meta_values) {
    d.meta_keys = calloc(src->n_meta, sizeof(char *));
    d.meta_values = calloc(src->n_meta, sizeof(char *));
    if (!d.meta_keys || !d.meta_values) goto oom;
    d.n_meta = src->n_meta;
    for (uint32_t i = 0; i < src->n_meta; i++) {
      if (src->meta_keys[i] && !(d.meta_keys[i] = dupstr(src->meta_keys[i]))) goto oom;
      if (src->meta_values[i] && !(d.meta_values[i] = dupstr(src->meta_values[i]))) goto oom;
    }
  }
  *dst = d;
  return 0;
oom:
  ser_model_spec_clear(&d);
  return ser_fail(err, "model: out of memory copying the spec");
}

int ser_model_spec_set_meta(ser_model_spec *s, const char *key, const char *value) {
  if (!s || !key || !*key || !value) return -1;
  for (uint32_t i = 0; i < s->n_meta; i++)
    if (s->meta_keys[i] && !strcmp(s->meta_keys[i], key)) {
      char *v = dupstr(value);
      if (!v) return -1;
      free(s->meta_values[i]);
      s->meta_values[i] = v;
      return 0;
    }
  if (s->n_meta >= SER_MAX_META) return -1;
  char **k = realloc(s->meta_keys, (s->n_meta + 1) * sizeof *k);
  if (!k) return -1;
  s->meta_keys = k;
  char **v = realloc(s->meta_values, (s->n_meta + 1) * sizeof *v);
  if (!v) return -1;
  s->meta_values = v;
  char *kk = dupstr(key), *vv = dupstr(value);
  if (!kk || !vv) {
    free(kk);
    free(vv);
    return -1;
  }
  s->meta_keys[s->n_meta] = kk;
  s->meta_values[s->n_meta] = vv;
  s->n_meta++;
  return 0;
}

/* ---- ensembles ---- */

uint32_t ser_model_spec_n_nets(const ser_model_spec *s) { return 1 + (s->extra ? s->n_extra : 0); }

void ser_model_spec_net_view(const ser_model_spec *s, uint32_t i, ser_model_spec *view) {
  *view = *s;
  view->n_extra = 0;
  view->extra = NULL;
  if (i >= 1 && s->extra && i <= s->n_extra) {
    view->layers = s->extra[i - 1].layers;
    view->n_layers = s->extra[i - 1].n_layers;
  }
}

static int same_floats(const float *a, const float *b, uint32_t n) {
  if (!a || !b) return a == b;
  return !memcmp(a, b, (size_t)n * sizeof *a);
}

int ser_model_spec_same_input(const ser_model_spec *dst, const ser_model_spec *src, ser_error *err) {
  if (!dst || !src) return ser_fail(err, "ensemble: missing spec");
  uint32_t fdim = ser_spec_feature_dim(&dst->feat);
  if (src->arch != dst->arch || src->in_ch != dst->in_ch || src->in_len != dst->in_len ||
      src->clip_samples != dst->clip_samples)
    return ser_fail(err, "ensemble: the networks have different architectures or input shapes");
  if (memcmp(&src->feat, &dst->feat, sizeof src->feat))
    return ser_fail(err, "ensemble: the networks have different feature parameters");
  if (src->n_labels != dst->n_labels) return ser_fail(err, "ensemble: the networks have different labels");
  for (uint32_t i = 0; i < src->n_labels; i++)
    if (!src->labels || !dst->labels || strcmp(src->labels[i], dst->labels[i]))
      return ser_fail(err, "ensemble: the networks have different labels (label %u)", i);
  if (!same_floats(src->norm_mean, dst->norm_mean, fdim) || !same_floats(src->norm_std, dst->norm_std, fdim))
    return ser_fail(err, "ensemble: the networks have different normalisation statistics (NORM)");
  if (!same_floats(src->spk_mean, dst->spk_mean, fdim) || !same_floats(src->spk_std, dst->spk_std, fdim) ||
      (src->spk_mean && memcmp(&src->spk, &dst->spk, sizeof src->spk)))
    return ser_fail(err, "ensemble: the networks have different speaker normalisers (SPKN)");
  return 0;
}

int ser_model_spec_add_nets(ser_model_spec *dst, ser_model_spec *src, ser_error *err) {
  if (ser_model_spec_same_input(dst, src, err) < 0) return -1;
  uint32_t add = ser_model_spec_n_nets(src), have = ser_model_spec_n_nets(dst);
  if (!src->layers || !dst->layers) return ser_fail(err, "ensemble: a network has no layers");
  if (have + add > SER_MAX_NETS)
    return ser_fail(err, "ensemble: %u + %u networks, at most %u", have, add, SER_MAX_NETS);
  ser_layer_list *x = realloc(dst->extra, (size_t)(have - 1 + add) * sizeof *x);
  if (!x) return ser_fail(err, "ensemble: out of memory");
  dst->extra = x;
  x[have - 1].layers = src->layers;
  x[have - 1].n_layers = src->n_layers;
  for (uint32_t k = 0; k + 1 < add; k++) x[have + k] = src->extra[k];
  dst->n_extra = have - 1 + add;
  free(src->extra);
  src->layers = NULL;
  src->n_layers = 0;
  src->extra = NULL;
  src->n_extra = 0;
  return 0;
}

/* ---- compile ---- */

void ser_op_out_shape(const ser_op *o, uint32_t c, uint32_t t, uint32_t *oc, uint32_t *ot) {
  *oc = c;
  *ot = t;
  switch (o->kind) {
  case SER_OP_CONV: {
    int n = conv_len(t, o->kernel, o->stride, o->padding, o->dilation);
    *oc = o->out_ch;
    *ot = n > 0 ? (uint32_t)n : 0;
    break;
  }
  case SER_OP_MAXPOOL:
  case SER_OP_AVGPOOL: {
    int n = conv_len(t, o->kernel, o->stride, o->padding, 1);
    *ot = n > 0 ? (uint32_t)n : 0;
    break;
  }
  case SER_OP_GLOBAL_POOL:
    *oc = o->mode == 2 ? 2 * c : c;
    *ot = 1;
    break;
  case SER_OP_FLATTEN:
    *oc = c * t;
    *ot = 1;
    break;
  case SER_OP_DENSE:
    *oc = o->out_ch;
    break;
  default:
    break;
  }
}

/* Weight arrays of a megabyte or more sit on transparent huge pages where
 * the kernel offers them: a fresh process then takes a few faults for them
 * instead of one per 4 KiB page (about 2 ms of a 2 MB model's load). */
void *ser_alloc_weights(size_t bytes) {
  void *p = NULL;
#ifdef MADV_HUGEPAGE
  const size_t huge = (size_t)2 << 20;
  if (bytes >= huge / 2) {
    size_t n = (bytes + huge - 1) / huge * huge;
    if (posix_memalign(&p, huge, n)) return NULL;
    madvise(p, n, MADV_HUGEPAGE); /* advice only: failure is harmless */
    return p;
  }
#endif
  if (posix_memalign(&p, 64, bytes ? bytes : 1)) return NULL;
  return p;
}

/* Stride-1 convolutions get a packed copy of their (folded) weights when the
 * fast kernel runs on this CPU. */
static int pack_convs(ser_model *m) {
  if (!ser_conv_fast_ok()) return 0;
  size_t total = 0;
  for (uint32_t i = 0; i < m->n_ops; i++) {
    const ser_op *o = &m->ops[i];
    if (o->kind == SER_OP_CONV && o->stride == 1) total += ser_conv_packed_floats(o->out_ch, o->in_ch, o->kernel);
  }
  if (!total) return 0;
  m->packed = ser_alloc_weights(total * sizeof(float));
  if (!m->packed) return -1;
  float *w = m->packed;
  for (uint32_t i = 0; i < m->n_ops; i++) {
    ser_op *o = &m->ops[i];
    if (o->kind != SER_OP_CONV || o->stride != 1) continue;
    ser_conv_pack(o->w, o->out_ch, o->in_ch, o->kernel, w);
    o->wp = w;
    w += ser_conv_packed_floats(o->out_ch, o->in_ch, o->kernel);
  }
  return 0;
}

static ser_model *compile(ser_model_spec *owned, ser_error *err);

/* An ensemble: every network compiled on its own, as a one-network model
 * with the shared features, labels and normalisation (no metadata); m
 * itself runs no operations. Frees m on failure. */
static ser_model *compile_ensemble(ser_model *m, ser_error *err) {
  const ser_model_spec *s = &m->spec;
  m->n_nets = 1 + s->n_extra;
  m->nets = calloc(m->n_nets, sizeof *m->nets);
  atomic_init(&m->refs, 1);
  if (!m->nets) {
    ser_fail(err, "model: out of memory");
    ser_model_unref(m);
    return NULL;
  }
  for (uint32_t i = 0; i < m->n_nets; i++) {
    ser_model_spec v, c;
    ser_model_spec_net_view(s, i, &v);
    v.n_meta = 0;
    v.meta_keys = v.meta_values = NULL;
    if (ser_model_spec_copy(&c, &v, err) || !(m->nets[i] = compile(&c, err))) {
      ser_model_unref(m);
      return NULL;
    }
    m->n_params += m->nets[i]->n_params;
    if (m->nets[i]->min_frames > m->min_frames) m->min_frames = m->nets[i]->min_frames;
  }
  return m;
}

static ser_model *compile(ser_model_spec *owned, ser_error *err) {
  ser_model *m = calloc(1, sizeof *m);
  if (!m) {
    ser_model_spec_clear(owned);
    ser_fail(err, "model: out of memory");
    return NULL;
  }
  m->spec = *owned;
  memset(owned, 0, sizeof *owned);
  const ser_model_spec *s = &m->spec;
  m->n_nets = 1;
  if (s->n_extra) return compile_ensemble(m, err);
  uint64_t nw = 0;
  for (uint32_t i = 0; i < s->n_layers; i++) nw += s->layers[i].n_params;
  m->n_params = nw;
  m->ops = calloc(s->n_layers, sizeof *m->ops);
  m->weights = ser_alloc_weights(nw * sizeof(float));
  if (!m->ops || !m->weights) {
    ser_fail(err, "model: out of memory for %llu weights", (unsigned long long)nw);
    goto fail;
  }
  float *w = m->weights;
  uint32_t n = 0;
  for (uint32_t i = 0; i < s->n_layers; i++) {
    const ser_layer *l = &s->layers[i];
    const float *p = l->params;
    ser_op *o = &m->ops[n];
    memset(o, 0, sizeof *o);
    switch (l->kind) {
    case SER_L_DROPOUT:
      continue;
    case SER_L_BATCHNORM: {
      uint32_t c = l->in_ch;
      const float *g = p, *be = p + c, *mu = p + 2 * c, *var = p + 3 * c;
      ser_op *prev = n ? &m->ops[n - 1] : NULL;
      if (prev && (prev->kind == SER_OP_CONV || prev->kind == SER_OP_DENSE)) {
        /* fold: W' = W * a, b' = (b - mu) * a + beta, a = g / sqrt(var + eps) */
        uint32_t per = prev->kind == SER_OP_CONV ? prev->in_ch * prev->kernel : prev->in_ch;
        float *pw = (float *)prev->w, *pb = (float *)prev->b;
        for (uint32_t k = 0; k < c; k++) {
          double a = (double)g[k] / sqrt((double)var[k] + (double)l->eps);
          for (uint32_t j = 0; j < per; j++) pw[(size_t)k * per + j] = (float)(pw[(size_t)k * per + j] * a);
          pb[k] = (float)(((double)pb[k] - mu[k]) * a + be[k]);
        }
        continue;
      }
      o->kind = SER_OP_AFFINE;
      o->in_ch = o->out_ch = c;
      float *sc = w, *sh = w + c;
      for (uint32_t k = 0; k < c; k++) {
        double a = (double)g[k] / sqrt((double)var[k] + (double)l->eps);
        sc[k] = (float)a;
        sh[k] = (float)(be[k] - mu[k] * a);
      }
      o->w = sc;
      o->b = sh;
      w += 2 * c;
      break;
    }
    case SER_L_CONV1D: {
      size_t nk = (size_t)l->out_ch * l->in_ch * l->kernel;
      memcpy(w, p, (nk + l->out_ch) * sizeof *w);
      o->kind = SER_OP_CONV;
      o->in_ch = l->in_ch;
      o->out_ch = l->out_ch;
      o->kernel = l->kernel;
      o->stride = l->stride;
      o->padding = l->padding;
      o->dilation = l->dilation;
      o->w = w;
      o->b = w + nk;
      w += nk + l->out_ch;
      break;
    }
    case SER_L_DENSE: {
      size_t nk = (size_t)l->out_ch * l->in_ch;
      memcpy(w, p, (nk + l->out_ch) * sizeof *w);
      o->kind = SER_OP_DENSE;
      o->in_ch = l->in_ch;
      o->out_ch = l->out_ch;
      o->w = w;
      o->b = w + nk;
      w += nk + l->out_ch;
      break;
    }
    case SER_L_CHANNEL_ATT: {
      uint32_t c = l->in_ch, h = att_hidden(c, l->reduction);
      memcpy(w, p, (size_t)l->n_params * sizeof *w);
      o->kind = SER_OP_CHANNEL_ATT;
      o->in_ch = o->out_ch = c;
      o->hidden = h;
      o->w = w;
      o->b = w + (size_t)h * c;
      o->w2 = o->b + h;
      o->b2 = o->w2 + (size_t)c * h;
      w += l->n_params;
      break;
    }
    case SER_L_SPATIAL_ATT:
      memcpy(w, p, (size_t)l->n_params * sizeof *w);
      o->kind = SER_OP_SPATIAL_ATT;
      o->kernel = l->kernel;
      o->padding = l->kernel / 2;
      o->w = w;
      o->b = w + 2 * l->kernel;
      w += l->n_params;
      break;
    case SER_L_RELU:
      o->kind = SER_OP_RELU;
      break;
    case SER_L_MAXPOOL:
    case SER_L_AVGPOOL:
      o->kind = l->kind == SER_L_MAXPOOL ? SER_OP_MAXPOOL : SER_OP_AVGPOOL;
      o->kernel = l->kernel;
      o->stride = l->stride;
      o->padding = l->padding;
      break;
    case SER_L_GLOBAL_POOL:
      o->kind = SER_OP_GLOBAL_POOL;
      o->mode = l->mode;
      break;
    case SER_L_FLATTEN:
      o->kind = SER_OP_FLATTEN;
      break;
    case SER_L_SOFTMAX:
      o->kind = SER_OP_SOFTMAX;
      break;
    default:
      ser_fail(err, "layer %u: unknown kind %u", i, l->kind);
      goto fail;
    }
    n++;
  }
  m->n_ops = n;
  if (pack_convs(m)) {
    ser_fail(err, "model: out of memory for packed weights");
    goto fail;
  }
  m->min_frames = s->arch == SER_ARCH_PAPER ? s->in_len : spec_min_frames(s);
  atomic_init(&m->refs, 1);
  return m;
fail:
  ser_model_spec_clear(&m->spec);
  free(m->ops);
  free(m->weights);
  free(m->packed);
  free(m);
  return NULL;
}

ser_model *ser_model_from_spec(const ser_model_spec *s, ser_error *err) {
  if (ser_model_spec_check(s, err)) return NULL;
  ser_model_spec c;
  if (ser_model_spec_copy(&c, s, err)) return NULL;
  return compile(&c, err);
}

static ser_model *load_named(const void *data, size_t size, const char *name, ser_error *err) {
  ser_model_spec s;
  if (ser_model_spec_read_named(data, size, name, &s, err)) return NULL;
  return compile(&s, err);
}

ser_model *ser_model_load_mem(const void *data, size_t size, ser_error *err) {
  return load_named(data, size, "model data", err);
}

ser_model *ser_model_load(const char *path, ser_error *err) {
  ser_model_spec s;
  if (ser_model_spec_read(path, &s, err)) return NULL;
  return compile(&s, err);
}

ser_model *ser_model_ref(ser_model *m) {
  if (m) atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
  return m;
}

void ser_model_unref(ser_model *m) {
  if (!m) return;
  if (atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) != 1) return;
  if (m->nets)
    for (uint32_t i = 0; i < m->n_nets; i++) ser_model_unref(m->nets[i]);
  free(m->nets);
  ser_model_spec_clear(&m->spec);
  free(m->ops);
  free(m->weights);
  free(m->packed);
  free(m);
}

/* ---- accessors ---- */

const ser_model_spec *ser_model_get_spec(const ser_model *m) { return &m->spec; }
const ser_feature_params *ser_model_features(const ser_model *m) { return &m->spec.feat; }
uint32_t ser_model_arch(const ser_model *m) { return m->spec.arch; }
uint32_t ser_model_n_labels(const ser_model *m) { return m->spec.n_labels; }

const char *ser_model_label(const ser_model *m, uint32_t i) {
  return i < m->spec.n_labels ? m->spec.labels[i] : NULL;
}

const char *ser_model_meta(const ser_model *m, const char *key) {
  if (!key) return NULL;
  for (uint32_t i = 0; i < m->spec.n_meta; i++)
    if (!strcmp(m->spec.meta_keys[i], key)) return m->spec.meta_values[i];
  return NULL;
}

uint32_t ser_model_min_frames(const ser_model *m) { return m->min_frames; }

uint64_t ser_model_window_samples(const ser_model *m) {
  const ser_feature_params *f = &m->spec.feat;
  if (m->spec.arch == SER_ARCH_PAPER && m->spec.clip_samples) return m->spec.clip_samples;
  /* a frame spans n_fft samples (the window is centred in the FFT frame, as
   * torch.stft does), so frames = 1 + (samples - span) / hop; training crops
   * windows of this size too */
  uint32_t span = f->n_fft > f->win_length ? f->n_fft : f->win_length;
  return (uint64_t)(m->spec.in_len - 1) * f->hop_length + span;
}

uint64_t ser_model_n_params(const ser_model *m) { return m->n_params; }

uint32_t ser_model_n_nets(const ser_model *m) { return m->n_nets; }

ser_model *ser_model_net(const ser_model *m, uint32_t i) {
  if (!m->nets) return i == 0 ? (ser_model *)m : NULL;
  return i < m->n_nets ? m->nets[i] : NULL;
}

double ser_model_flops(const ser_model *m, uint32_t frames) {
  const ser_model_spec *s = &m->spec;
  if (s->arch == SER_ARCH_PAPER) frames = s->in_len;
  if (frames < m->min_frames) frames = m->min_frames;
  double macs = 0;
  if (m->nets) {
    for (uint32_t i = 0; i < m->n_nets; i++) macs += ser_model_flops(m->nets[i], frames);
    return macs;
  }
  uint32_t c = s->in_ch, t = frames;
  for (uint32_t i = 0; i < m->n_ops; i++) {
    const ser_op *o = &m->ops[i];
    uint32_t oc, ot;
    ser_op_out_shape(o, c, t, &oc, &ot);
    switch (o->kind) {
    case SER_OP_CONV:
      macs += (double)oc * ot * o->in_ch * o->kernel;
      break;
    case SER_OP_DENSE:
      macs += (double)o->in_ch * o->out_ch;
      break;
    case SER_OP_CHANNEL_ATT:
      macs += 4.0 * c * o->hidden + 3.0 * c * t;
      break;
    case SER_OP_SPATIAL_ATT:
      macs += 3.0 * c * t + 2.0 * o->kernel * t;
      break;
    case SER_OP_AFFINE:
    case SER_OP_MAXPOOL:
    case SER_OP_AVGPOOL:
      macs += (double)oc * ot * (o->kind == SER_OP_AFFINE ? 1 : o->kernel);
      break;
    default:
      break;
    }
    c = oc;
    t = ot;
  }
  return macs;
}
