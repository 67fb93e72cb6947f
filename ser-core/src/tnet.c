/* Training network: forward with cached activations and backward passes for
 * every layer kind of model.h, on batches. Tensors are (batch, channels,
 * time), channel-major per sample, like PyTorch. Convolutions use
 * im2col + sgemm (OpenBLAS). */
#include <cblas.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train_internal.h"

typedef struct tlayer {
  ser_layer *l;
  uint32_t c_in, t_in, c_out, t_out; /* at the creation frames (maximum) */
  uint32_t hidden;                   /* channel attention */
  size_t goff;                       /* offset in the flat parameter vector */
  float *aux;                        /* per-sample caches, batch * aux_n */
  size_t aux_n;
  int32_t *idx;                      /* per-sample argmax, batch * idx_n */
  size_t idx_n;
  double *mean, *invstd;             /* batch norm: per channel */
  size_t slot_off;                   /* batch norm: offset in sync slots */
} tlayer;

struct ser_tnet {
  ser_model_spec *spec;
  uint32_t batch, frames;
  uint32_t n_layers;
  tlayer *ly;
  float **act;     /* n_layers + 1 activations, batch * c * t each */
  size_t *act_n;   /* per sample at maximum shape */
  float *g0, *g1;  /* gradient ping-pong, batch * max act */
  float *col, *dcol; /* im2col scratch (one sample) */
  double *bn_part, *bn_tot; /* batch-norm partial and total sums, 2 * max channels + 1 */
  size_t n_params;
  size_t sync_doubles;
  ser_tsync *sync;
  uint32_t tid;
  /* shapes of the last forward */
  uint32_t cur_b, *cur_c, *cur_t;
  int cur_training;
  double bn_momentum; /* weight of a batch in the running statistics; 0.1 */
};

uint64_t ser_mix64(uint64_t a, uint64_t b) {
  uint64_t z = a * 0x9e3779b97f4a7c15ULL + b + 0x632be59bd9b4e019ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint32_t ser_train_out_len(uint32_t t, uint32_t kernel, uint32_t stride,
                           uint32_t padding, uint32_t dilation) {
  uint64_t span = (uint64_t)dilation * (kernel - 1) + 1;
  uint64_t tot = (uint64_t)t + 2ull * padding;
  if (!kernel || !stride || tot < span) return 0;
  return (uint32_t)((tot - span) / stride + 1);
}

static const char *kind_name(uint32_t k) {
  static const char *n[] = {"?", "conv1d", "batchnorm", "relu", "maxpool", "avgpool",
                            "channel-att", "spatial-att", "global-pool", "flatten",
                            "dense", "dropout", "softmax"};
  return k < 13 ? n[k] : "?";
}

int ser_tlayer_shape(const ser_layer *l, uint32_t i, uint32_t c, uint32_t t,
                     uint32_t *oc, uint32_t *ot, ser_error *err) {
  *oc = c;
  *ot = t;
  switch (l->kind) {
  case SER_L_CONV1D:
    if (l->in_ch != c)
      return ser_fail(err, "layer %u (conv1d): in_ch %u but input has %u channels", i, l->in_ch, c);
    *oc = l->out_ch;
    *ot = ser_train_out_len(t, l->kernel, l->stride, l->padding, l->dilation ? l->dilation : 1);
    break;
  case SER_L_BATCHNORM:
  case SER_L_CHANNEL_ATT:
    if (l->in_ch != c)
      return ser_fail(err, "layer %u (%s): in_ch %u but input has %u channels", i,
                      kind_name(l->kind), l->in_ch, c);
    break;
  case SER_L_SPATIAL_ATT:
    if (!(l->kernel & 1)) return ser_fail(err, "layer %u (spatial-att): kernel %u must be odd", i, l->kernel);
    break;
  case SER_L_MAXPOOL:
  case SER_L_AVGPOOL:
    if (l->padding * 2 > l->kernel)
      return ser_fail(err, "layer %u (%s): padding %u above half the kernel", i, kind_name(l->kind), l->padding);
    *ot = ser_train_out_len(t, l->kernel, l->stride, l->padding, 1);
    break;
  case SER_L_GLOBAL_POOL:
    if (l->mode > 2) return ser_fail(err, "layer %u (global-pool): mode %u unknown", i, l->mode);
    *oc = l->mode == 2 ? 2 * c : c;
    *ot = 1;
    break;
  case SER_L_FLATTEN:
    *oc = c * t;
    *ot = 1;
    break;
  case SER_L_DENSE:
    if (t != 1 || l->in_ch != c)
      return ser_fail(err, "layer %u (dense): needs (%u, 1) input, got (%u, %u)", i, l->in_ch, c, t);
    *oc = l->out_ch;
    break;
  case SER_L_SOFTMAX:
    if (t != 1) return ser_fail(err, "layer %u (softmax): needs (C, 1) input, got time %u", i, t);
    break;
  case SER_L_RELU:
  case SER_L_DROPOUT:
    break;
  default:
    return ser_fail(err, "layer %u: kind %u not supported by training", i, l->kind);
  }
  if (*ot == 0) return ser_fail(err, "layer %u (%s): input of %u frames is too short", i, kind_name(l->kind), t);
  return 0;
}

size_t ser_tnet_n_params(const ser_tnet *t) { return t->n_params; }
void ser_tnet_set_bn_momentum(ser_tnet *t, double momentum) { t->bn_momentum = momentum; }
ser_model_spec *ser_tnet_spec(const ser_tnet *t) { return t->spec; }
size_t ser_tnet_sync_doubles(const ser_tnet *t) { return t->sync_doubles; }
void ser_tnet_set_sync(ser_tnet *t, ser_tsync *s, uint32_t tid) {
  t->sync = s;
  t->tid = tid;
}
size_t ser_tnet_param_offset(const ser_tnet *t, uint32_t layer) { return t->ly[layer].goff; }

void ser_tnet_param_masks(const ser_tnet *t, unsigned char *trainable, unsigned char *decay) {
  for (uint32_t i = 0; i < t->n_layers; i++) {
    const ser_layer *l = t->ly[i].l;
    size_t o = t->ly[i].goff, n = l->n_params;
    memset(trainable + o, 1, n);
    memset(decay + o, 0, n);
    switch (l->kind) {
    case SER_L_CONV1D:
    case SER_L_DENSE:
      memset(decay + o, 1, (size_t)l->out_ch * l->in_ch * (l->kind == SER_L_CONV1D ? l->kernel : 1));
      break;
    case SER_L_BATCHNORM:
      memset(trainable + o + 2 * (size_t)l->in_ch, 0, 2 * (size_t)l->in_ch);
      break;
    case SER_L_CHANNEL_ATT: {
      size_t c = l->in_ch, h = t->ly[i].hidden;
      memset(decay + o, 1, h * c);
      memset(decay + o + h * c + h, 1, c * h);
      break;
    }
    case SER_L_SPATIAL_ATT:
      memset(decay + o, 1, 2 * (size_t)l->kernel);
      break;
    default:
      break;
    }
  }
}

void ser_tnet_get_params(const ser_tnet *t, float *flat) {
  for (uint32_t i = 0; i < t->n_layers; i++)
    if (t->ly[i].l->n_params)
      memcpy(flat + t->ly[i].goff, t->ly[i].l->params, t->ly[i].l->n_params * sizeof(float));
}

void ser_tnet_set_params(ser_tnet *t, const float *flat) {
  for (uint32_t i = 0; i < t->n_layers; i++)
    if (t->ly[i].l->n_params)
      memcpy(t->ly[i].l->params, flat + t->ly[i].goff, t->ly[i].l->n_params * sizeof(float));
}

void ser_tnet_free(ser_tnet *t) {
  if (!t) return;
  for (uint32_t i = 0; i < t->n_layers; i++) {
    free(t->ly[i].aux);
    free(t->ly[i].idx);
    free(t->ly[i].mean);
    free(t->ly[i].invstd);
  }
  if (t->act)
    for (uint32_t i = 0; i <= t->n_layers; i++) free(t->act[i]);
  free(t->act);
  free(t->act_n);
  free(t->ly);
  free(t->g0);
  free(t->g1);
  free(t->col);
  free(t->dcol);
  free(t->bn_part);
  free(t->bn_tot);
  free(t->cur_c);
  free(t->cur_t);
  free(t);
}

ser_tnet *ser_tnet_new(ser_model_spec *spec, uint32_t batch, uint32_t frames, ser_error *err) {
  if (!spec || !spec->n_layers) {
    ser_fail(err, "training: the model has no layers");
    return NULL;
  }
  if (batch == 0 || frames == 0) {
    ser_fail(err, "training: batch and frames must be positive");
    return NULL;
  }
  if (spec->layers[spec->n_layers - 1].kind != SER_L_SOFTMAX) {
    ser_fail(err, "training: the last layer must be softmax");
    return NULL;
  }
  ser_tnet *t = calloc(1, sizeof *t);
  if (!t) goto oom;
  t->spec = spec;
  t->batch = batch;
  t->frames = frames;
  t->bn_momentum = 0.1;
  t->n_layers = spec->n_layers;
  t->ly = calloc(t->n_layers, sizeof *t->ly);
  t->act = calloc(t->n_layers + 1, sizeof *t->act);
  t->act_n = calloc(t->n_layers + 1, sizeof *t->act_n);
  t->cur_c = calloc(t->n_layers + 1, sizeof *t->cur_c);
  t->cur_t = calloc(t->n_layers + 1, sizeof *t->cur_t);
  if (!t->ly || !t->act || !t->act_n || !t->cur_c || !t->cur_t) goto oom;
  uint32_t c = spec->in_ch, tt = frames;
  size_t maxact = (size_t)c * tt, maxcol = 1, maxbn = 1;
  t->act_n[0] = (size_t)c * tt;
  for (uint32_t i = 0; i < t->n_layers; i++) {
    tlayer *L = &t->ly[i];
    ser_layer *l = &spec->layers[i];
    L->l = l;
    uint32_t oc, ot;
    if (ser_tlayer_shape(l, i, c, tt, &oc, &ot, err) < 0) goto fail;
    L->c_in = c;
    L->t_in = tt;
    L->c_out = oc;
    L->t_out = ot;
    L->goff = t->n_params;
    t->n_params += l->n_params;
    switch (l->kind) {
    case SER_L_CONV1D: {
      size_t cs = (size_t)c * l->kernel * ot;
      if (cs > maxcol) maxcol = cs;
      break;
    }
    case SER_L_BATCHNORM:
      L->aux_n = (size_t)c * tt; /* xhat */
      L->mean = calloc(c, sizeof(double));
      L->invstd = calloc(c, sizeof(double));
      if (!L->mean || !L->invstd) goto oom;
      if (2 * (size_t)c + 1 > maxbn) maxbn = 2 * (size_t)c + 1;
      L->slot_off = t->sync_doubles;
      t->sync_doubles += 4 * (size_t)c + 2; /* forward and backward: 2c sums + count */
      break;
    case SER_L_MAXPOOL:
      L->idx_n = (size_t)oc * ot;
      break;
    case SER_L_CHANNEL_ATT:
      if (4 * (size_t)c > maxcol) maxcol = 4 * (size_t)c;
      L->hidden = c / (l->reduction ? l->reduction : 1);
      if (L->hidden < 1) L->hidden = 1;
      L->aux_n = 3 * (size_t)c + 2 * L->hidden; /* avg, max, s, ha, hm */
      L->idx_n = c;
      break;
    case SER_L_SPATIAL_ATT:
      if (4 * (size_t)tt > maxcol) maxcol = 4 * (size_t)tt;
      L->aux_n = 3 * (size_t)tt; /* mean, max, s */
      L->idx_n = tt;
      break;
    case SER_L_GLOBAL_POOL:
      L->idx_n = c;
      break;
    case SER_L_DROPOUT:
      L->aux_n = (size_t)c * tt;
      break;
    default:
      break;
    }
    if (L->aux_n && !(L->aux = malloc(batch * L->aux_n * sizeof(float)))) goto oom;
    if (L->idx_n && !(L->idx = malloc(batch * L->idx_n * sizeof(int32_t)))) goto oom;
    c = oc;
    tt = ot;
    t->act_n[i + 1] = (size_t)c * tt;
    if (t->act_n[i + 1] > maxact) maxact = t->act_n[i + 1];
  }
  if (c != spec->n_labels) {
    ser_fail(err, "training: the network gives %u outputs for %u labels", c, spec->n_labels);
    goto fail;
  }
  for (uint32_t i = 0; i <= t->n_layers; i++)
    if (!(t->act[i] = malloc(batch * t->act_n[i] * sizeof(float)))) goto oom;
  t->g0 = malloc(batch * maxact * sizeof(float));
  t->g1 = malloc(batch * maxact * sizeof(float));
  t->col = malloc(maxcol * sizeof(float));
  t->dcol = malloc(maxcol * sizeof(float));
  t->bn_part = malloc(maxbn * sizeof(double));
  t->bn_tot = malloc(maxbn * sizeof(double));
  if (!t->g0 || !t->g1 || !t->col || !t->dcol || !t->bn_part || !t->bn_tot) goto oom;
  return t;
oom:
  ser_fail(err, "training: out of memory");
fail:
  ser_tnet_free(t);
  return NULL;
}

/* ---- sync helpers --------------------------------------------------- */

/* Sum n doubles of partials across threads: writes mine to region, waits,
 * sums all threads' regions in thread order into out. */
static void sync_sum(ser_tnet *t, size_t off, const double *mine, double *out, size_t n) {
  if (!t->sync || t->sync->n <= 1) {
    memcpy(out, mine, n * sizeof(double));
    return;
  }
  ser_tsync *s = t->sync;
  double *base = s->slots + off * s->n;
  memcpy(base + (size_t)t->tid * n, mine, n * sizeof(double));
  pthread_barrier_wait(&s->bar);
  for (size_t j = 0; j < n; j++) out[j] = 0;
  for (uint32_t k = 0; k < s->n; k++)
    for (size_t j = 0; j < n; j++) out[j] += base[(size_t)k * n + j];
}

/* ---- conv1d ----------------------------------------------------------- */

static void im2col(const float *x, uint32_t ci, uint32_t ti, const ser_layer *l, uint32_t to,
                   float *col) {
  uint32_t K = l->kernel, s = l->stride, d = l->dilation ? l->dilation : 1;
  for (uint32_t c = 0; c < ci; c++)
    for (uint32_t k = 0; k < K; k++) {
      float *row = col + ((size_t)c * K + k) * to;
      const float *xr = x + (size_t)c * ti;
      long off = (long)k * d - (long)l->padding;
      for (uint32_t o = 0; o < to; o++) {
        long p = (long)o * s + off;
        row[o] = (p >= 0 && p < (long)ti) ? xr[p] : 0.f;
      }
    }
}

static void col2im_add(const float *col, uint32_t ci, uint32_t ti, const ser_layer *l,
                       uint32_t to, float *dx) {
  uint32_t K = l->kernel, s = l->stride, d = l->dilation ? l->dilation : 1;
  for (uint32_t c = 0; c < ci; c++)
    for (uint32_t k = 0; k < K; k++) {
      const float *row = col + ((size_t)c * K + k) * to;
      float *xr = dx + (size_t)c * ti;
      long off = (long)k * d - (long)l->padding;
      for (uint32_t o = 0; o < to; o++) {
        long p = (long)o * s + off;
        if (p >= 0 && p < (long)ti) xr[p] += row[o];
      }
    }
}

static void conv_fwd(ser_tnet *t, tlayer *L, uint32_t b, uint32_t ci, uint32_t ti, uint32_t co,
                     uint32_t to, const float *x, float *y) {
  const ser_layer *l = L->l;
  const float *W = l->params, *bias = l->params + (size_t)co * ci * l->kernel;
  int ck = (int)(ci * l->kernel);
  for (uint32_t s = 0; s < b; s++) {
    const float *xs = x + (size_t)s * ci * ti;
    float *ys = y + (size_t)s * co * to;
    im2col(xs, ci, ti, l, to, t->col);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)co, (int)to, ck, 1.f, W, ck,
                t->col, (int)to, 0.f, ys, (int)to);
    for (uint32_t c = 0; c < co; c++)
      for (uint32_t o = 0; o < to; o++) ys[(size_t)c * to + o] += bias[c];
  }
}

static void conv_bwd(ser_tnet *t, tlayer *L, uint32_t b, uint32_t ci, uint32_t ti, uint32_t co,
                     uint32_t to, const float *x, const float *dy, float *dx, float *g) {
  const ser_layer *l = L->l;
  const float *W = l->params;
  int ck = (int)(ci * l->kernel);
  float *gW = g, *gb = g + (size_t)co * ci * l->kernel;
  if (dx) memset(dx, 0, (size_t)b * ci * ti * sizeof(float));
  for (uint32_t s = 0; s < b; s++) {
    const float *xs = x + (size_t)s * ci * ti;
    const float *dys = dy + (size_t)s * co * to;
    for (uint32_t c = 0; c < co; c++) {
      double acc = 0;
      for (uint32_t o = 0; o < to; o++) acc += dys[(size_t)c * to + o];
      gb[c] += (float)acc;
    }
    im2col(xs, ci, ti, l, to, t->col);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)co, ck, (int)to, 1.f, dys, (int)to,
                t->col, (int)to, 1.f, gW, ck);
    if (dx) {
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, ck, (int)to, (int)co, 1.f, W, ck, dys,
                  (int)to, 0.f, t->dcol, (int)to);
      col2im_add(t->dcol, ci, ti, l, to, dx + (size_t)s * ci * ti);
    }
  }
}

/* ---- batch norm --------------------------------------------------------- */

static void bn_fwd(ser_tnet *t, tlayer *L, uint32_t b, uint32_t c, uint32_t tt, const float *x,
                   float *y, int training) {
  ser_layer *l = L->l;
  float *gamma = l->params, *beta = gamma + c, *rm = beta + c, *rv = rm + c;
  size_t per = (size_t)c * tt;
  if (training) {
    double *part = t->bn_part, *tot = t->bn_tot;
    for (uint32_t ch = 0; ch < c; ch++) {
      double s1 = 0, s2 = 0;
      for (uint32_t s = 0; s < b; s++) {
        const float *r = x + s * per + (size_t)ch * tt;
        for (uint32_t k = 0; k < tt; k++) {
          s1 += r[k];
          s2 += (double)r[k] * r[k];
        }
      }
      part[2 * ch] = s1;
      part[2 * ch + 1] = s2;
    }
    part[2 * (size_t)c] = (double)b * tt;
    sync_sum(t, L->slot_off, part, tot, 2 * (size_t)c + 1);
    double ctot = tot[2 * (size_t)c];
    for (uint32_t ch = 0; ch < c; ch++) {
      double mean = tot[2 * ch] / ctot;
      double var = tot[2 * ch + 1] / ctot - mean * mean;
      if (var < 0) var = 0;
      L->mean[ch] = mean;
      L->invstd[ch] = 1.0 / sqrt(var + l->eps);
      if (t->tid == 0) {
        double unb = ctot > 1 ? var * ctot / (ctot - 1) : var;
        double mo = t->bn_momentum;
        rm[ch] = (float)((1 - mo) * rm[ch] + mo * mean);
        rv[ch] = (float)((1 - mo) * rv[ch] + mo * unb);
      }
    }
  } else {
    for (uint32_t ch = 0; ch < c; ch++) {
      L->mean[ch] = rm[ch];
      L->invstd[ch] = 1.0 / sqrt((double)rv[ch] + l->eps);
    }
  }
  for (uint32_t s = 0; s < b; s++)
    for (uint32_t ch = 0; ch < c; ch++) {
      const float *r = x + s * per + (size_t)ch * tt;
      float *xh = L->aux + s * per + (size_t)ch * tt, *yr = y + s * per + (size_t)ch * tt;
      float m = (float)L->mean[ch], is = (float)L->invstd[ch];
      for (uint32_t k = 0; k < tt; k++) {
        xh[k] = (r[k] - m) * is;
        yr[k] = gamma[ch] * xh[k] + beta[ch];
      }
    }
}

static void bn_bwd(ser_tnet *t, tlayer *L, uint32_t b, uint32_t c, uint32_t tt, const float *dy,
                   float *dx, float *g, int training) {
  ser_layer *l = L->l;
  const float *gamma = l->params;
  size_t per = (size_t)c * tt;
  double *part = t->bn_part, *tot = t->bn_tot;
  for (uint32_t ch = 0; ch < c; ch++) {
    double sd = 0, sdx = 0;
    for (uint32_t s = 0; s < b; s++) {
      const float *d = dy + s * per + (size_t)ch * tt, *xh = L->aux + s * per + (size_t)ch * tt;
      for (uint32_t k = 0; k < tt; k++) {
        sd += d[k];
        sdx += (double)d[k] * xh[k];
      }
    }
    part[2 * ch] = sd;
    part[2 * ch + 1] = sdx;
    g[ch] += (float)sdx;     /* dgamma */
    g[c + ch] += (float)sd;  /* dbeta */
  }
  part[2 * (size_t)c] = (double)b * tt;
  if (training) {
    sync_sum(t, L->slot_off + 2 * (size_t)c + 1, part, tot, 2 * (size_t)c + 1);
    double n = tot[2 * (size_t)c];
    for (uint32_t ch = 0; ch < c; ch++) {
      double k1 = gamma[ch] * L->invstd[ch];
      double md = tot[2 * ch] / n, mdx = tot[2 * ch + 1] / n;
      for (uint32_t s = 0; s < b; s++) {
        const float *d = dy + s * per + (size_t)ch * tt, *xh = L->aux + s * per + (size_t)ch * tt;
        float *o = dx + s * per + (size_t)ch * tt;
        for (uint32_t k = 0; k < tt; k++) o[k] = (float)(k1 * (d[k] - md - xh[k] * mdx));
      }
    }
  } else {
    for (uint32_t ch = 0; ch < c; ch++) {
      float k1 = (float)(gamma[ch] * L->invstd[ch]);
      for (uint32_t s = 0; s < b; s++) {
        const float *d = dy + s * per + (size_t)ch * tt;
        float *o = dx + s * per + (size_t)ch * tt;
        for (uint32_t k = 0; k < tt; k++) o[k] = k1 * d[k];
      }
    }
  }
}

/* ---- pools -------------------------------------------------------------- */

static void pool_fwd(tlayer *L, uint32_t b, uint32_t c, uint32_t ti, uint32_t to, const float *x,
                     float *y) {
  const ser_layer *l = L->l;
  int maxp = l->kind == SER_L_MAXPOOL;
  for (uint32_t s = 0; s < b; s++)
    for (uint32_t ch = 0; ch < c; ch++) {
      const float *xr = x + ((size_t)s * c + ch) * ti;
      float *yr = y + ((size_t)s * c + ch) * to;
      int32_t *ir = maxp ? L->idx + ((size_t)s * c + ch) * to : NULL;
      for (uint32_t o = 0; o < to; o++) {
        long st = (long)o * l->stride - (long)l->padding;
        float m = -FLT_MAX, sum = 0;
        int32_t am = -1;
        for (uint32_t k = 0; k < l->kernel; k++) {
          long p = st + k;
          if (p < 0 || p >= (long)ti) continue;
          if (xr[p] > m || am < 0) {
            m = xr[p];
            am = (int32_t)p;
          }
          sum += xr[p];
        }
        if (maxp) {
          yr[o] = m;
          ir[o] = am;
        } else {
          yr[o] = sum / (float)l->kernel;
        }
      }
    }
}

static void pool_bwd(tlayer *L, uint32_t b, uint32_t c, uint32_t ti, uint32_t to, const float *dy,
                     float *dx) {
  const ser_layer *l = L->l;
  memset(dx, 0, (size_t)b * c * ti * sizeof(float));
  for (uint32_t s = 0; s < b; s++)
    for (uint32_t ch = 0; ch < c; ch++) {
      const float *d = dy + ((size_t)s * c + ch) * to;
      float *o = dx + ((size_t)s * c + ch) * ti;
      if (l->kind == SER_L_MAXPOOL) {
        const int32_t *ir = L->idx + ((size_t)s * c + ch) * to;
        for (uint32_t k = 0; k < to; k++)
          if (ir[k] >= 0) o[ir[k]] += d[k];
      } else {
        for (uint32_t k = 0; k < to; k++) {
          long st = (long)k * l->stride - (long)l->padding;
          float v = d[k] / (float)l->kernel;
          for (uint32_t j = 0; j < l->kernel; j++) {
            long p = st + j;
            if (p >= 0 && p < (long)ti) o[p] += v;
          }
        }
      }
    }
}

static float sigm(float z) { return 1.f / (1.f + expf(-z)); }

/* ---- channel attention -------------------------------------------------- */

static void ca_fwd(tlayer *L, uint32_t b, uint32_t c, uint32_t tt, const float *x, float *y) {
  const ser_layer *l = L->l;
  uint32_t h = L->hidden;
  const float *w1 = l->params, *b1 = w1 + (size_t)h * c, *w2 = b1 + h, *b2 = w2 + (size_t)c * h;
  for (uint32_t s = 0; s < b; s++) {
    const float *xs = x + (size_t)s * c * tt;
    float *ys = y + (size_t)s * c * tt;
    float *avg = L->aux + s * L->aux_n, *mx = avg + c, *sg = mx + c, *ha = sg + c, *hm = ha + h;
    int32_t *am = L->idx + s * L->idx_n;
    for (uint32_t ch = 0; ch < c; ch++) {
      const float *r = xs + (size_t)ch * tt;
      double sum = 0;
      float m = r[0];
      int32_t a = 0;
      for (uint32_t k = 0; k < tt; k++) {
        sum += r[k];
        if (r[k] > m) {
          m = r[k];
          a = (int32_t)k;
        }
      }
      avg[ch] = (float)(sum / tt);
      mx[ch] = m;
      am[ch] = a;
    }
    for (uint32_t j = 0; j < h; j++) {
      float za = b1[j], zm = b1[j];
      for (uint32_t ch = 0; ch < c; ch++) {
        za += w1[(size_t)j * c + ch] * avg[ch];
        zm += w1[(size_t)j * c + ch] * mx[ch];
      }
      ha[j] = za > 0 ? za : 0;
      hm[j] = zm > 0 ? zm : 0;
    }
    for (uint32_t ch = 0; ch < c; ch++) {
      float z = 2 * b2[ch];
      for (uint32_t j = 0; j < h; j++) z += w2[(size_t)ch * h + j] * (ha[j] + hm[j]);
      sg[ch] = sigm(z);
      const float *r = xs + (size_t)ch * tt;
      float *o = ys + (size_t)ch * tt;
      for (uint32_t k = 0; k < tt; k++) o[k] = r[k] * sg[ch];
    }
  }
}

static void ca_bwd(tlayer *L, uint32_t b, uint32_t c, uint32_t tt, const float *x, const float *dy,
                   float *dx, float *g, float *tmp) {
  const ser_layer *l = L->l;
  uint32_t h = L->hidden;
  const float *w1 = l->params, *w2 = w1 + (size_t)h * c + h;
  float *gw1 = g, *gb1 = g + (size_t)h * c, *gw2 = gb1 + h, *gb2 = gw2 + (size_t)c * h;
  float *dz = tmp, *dha = tmp + c, *dhm = dha + h;
  for (uint32_t s = 0; s < b; s++) {
    const float *xs = x + (size_t)s * c * tt, *ds = dy + (size_t)s * c * tt;
    float *dxs = dx + (size_t)s * c * tt;
    const float *avg = L->aux + s * L->aux_n, *mx = avg + c, *sg = mx + c, *ha = sg + c, *hm = ha + h;
    const int32_t *am = L->idx + s * L->idx_n;
    for (uint32_t ch = 0; ch < c; ch++) {
      const float *r = xs + (size_t)ch * tt, *d = ds + (size_t)ch * tt;
      float *o = dxs + (size_t)ch * tt;
      double acc = 0;
      for (uint32_t k = 0; k < tt; k++) {
        acc += (double)d[k] * r[k];
        o[k] = d[k] * sg[ch];
      }
      dz[ch] = (float)acc * sg[ch] * (1 - sg[ch]);
      gb2[ch] += 2 * dz[ch];
      for (uint32_t j = 0; j < h; j++) gw2[(size_t)ch * h + j] += dz[ch] * (ha[j] + hm[j]);
    }
    for (uint32_t j = 0; j < h; j++) {
      float a = 0;
      for (uint32_t ch = 0; ch < c; ch++) a += w2[(size_t)ch * h + j] * dz[ch];
      dha[j] = ha[j] > 0 ? a : 0;
      dhm[j] = hm[j] > 0 ? a : 0;
      gb1[j] += dha[j] + dhm[j];
      for (uint32_t ch = 0; ch < c; ch++) gw1[(size_t)j * c + ch] += dha[j] * avg[ch] + dhm[j] * mx[ch];
    }
    for (uint32_t ch = 0; ch < c; ch++) {
      float da = 0, dm = 0;
      for (uint32_t j = 0; j < h; j++) {
        da += w1[(size_t)j * c + ch] * dha[j];
        dm += w1[(size_t)j * c + ch] * dhm[j];
      }
      float *o = dxs + (size_t)ch * tt;
      da /= (float)tt;
      for (uint32_t k = 0; k < tt; k++) o[k] += da;
      o[am[ch]] += dm;
    }
  }
}

/* ---- spatial attention -------------------------------------------------- */

static void sa_fwd(tlayer *L, uint32_t b, uint32_t c, uint32_t tt, const float *x, float *y) {
  const ser_layer *l = L->l;
  uint32_t K = l->kernel;
  long p = K / 2;
  const float *w = l->params, *bias = w + 2 * K;
  for (uint32_t s = 0; s < b; s++) {
    const float *xs = x + (size_t)s * c * tt;
    float *ys = y + (size_t)s * c * tt;
    float *mn = L->aux + s * L->aux_n, *mx = mn + tt, *sg = mx + tt;
    int32_t *am = L->idx + s * L->idx_n;
    for (uint32_t k = 0; k < tt; k++) {
      mn[k] = 0;
      mx[k] = xs[k];
      am[k] = 0;
    }
    for (uint32_t ch = 0; ch < c; ch++) {
      const float *r = xs + (size_t)ch * tt;
      for (uint32_t k = 0; k < tt; k++) {
        mn[k] += r[k];
        if (r[k] > mx[k]) {
          mx[k] = r[k];
          am[k] = (int32_t)ch;
        }
      }
    }
    for (uint32_t k = 0; k < tt; k++) mn[k] /= (float)c;
    for (uint32_t k = 0; k < tt; k++) {
      float z = bias[0];
      for (uint32_t j = 0; j < K; j++) {
        long q = (long)k + j - p;
        if (q < 0 || q >= (long)tt) continue;
        z += w[j] * mn[q] + w[K + j] * mx[q];
      }
      sg[k] = sigm(z);
    }
    for (uint32_t ch = 0; ch < c; ch++) {
      const float *r = xs + (size_t)ch * tt;
      float *o = ys + (size_t)ch * tt;
      for (uint32_t k = 0; k < tt; k++) o[k] = r[k] * sg[k];
    }
  }
}

static void sa_bwd(tlayer *L, uint32_t b, uint32_t c, uint32_t tt, const float *x, const float *dy,
                   float *dx, float *g, float *tmp) {
  const ser_layer *l = L->l;
  uint32_t K = l->kernel;
  long p = K / 2;
  const float *w = l->params;
  float *gw = g, *gb = g + 2 * K;
  float *dz = tmp, *dmn = tmp + tt, *dmx = dmn + tt;
  for (uint32_t s = 0; s < b; s++) {
    const float *xs = x + (size_t)s * c * tt, *ds = dy + (size_t)s * c * tt;
    float *dxs = dx + (size_t)s * c * tt;
    const float *mn = L->aux + s * L->aux_n, *mx = mn + tt, *sg = mx + tt;
    const int32_t *am = L->idx + s * L->idx_n;
    for (uint32_t k = 0; k < tt; k++) dz[k] = 0;
    for (uint32_t ch = 0; ch < c; ch++) {
      const float *r = xs + (size_t)ch * tt, *d = ds + (size_t)ch * tt;
      float *o = dxs + (size_t)ch * tt;
      for (uint32_t k = 0; k < tt; k++) {
        dz[k] += d[k] * r[k];
        o[k] = d[k] * sg[k];
      }
    }
    for (uint32_t k = 0; k < tt; k++) {
      dz[k] *= sg[k] * (1 - sg[k]);
      dmn[k] = dmx[k] = 0;
    }
    for (uint32_t k = 0; k < tt; k++) {
      gb[0] += dz[k];
      for (uint32_t j = 0; j < K; j++) {
        long q = (long)k + j - p;
        if (q < 0 || q >= (long)tt) continue;
        gw[j] += dz[k] * mn[q];
        gw[K + j] += dz[k] * mx[q];
        dmn[q] += w[j] * dz[k];
        dmx[q] += w[K + j] * dz[k];
      }
    }
    for (uint32_t ch = 0; ch < c; ch++) {
      float *o = dxs + (size_t)ch * tt;
      for (uint32_t k = 0; k < tt; k++) o[k] += dmn[k] / (float)c;
    }
    for (uint32_t k = 0; k < tt; k++) dxs[(size_t)am[k] * tt + k] += dmx[k];
  }
}

/* ---- forward / backward -------------------------------------------------- */

int ser_tnet_forward(ser_tnet *t, const float *x, uint32_t b, uint32_t frames, int training,
                     const uint64_t *seeds, float *probs, ser_error *err) {
  if (b == 0 || b > t->batch || frames == 0 || frames > t->frames)
    return ser_fail(err, "training: batch %u or frames %u outside the net's %u x %u", b, frames,
                    t->batch, t->frames);
  uint32_t c = t->spec->in_ch, tt = frames;
  for (uint32_t i = 0; i < t->n_layers; i++) {
    uint32_t oc, ot;
    if (ser_tlayer_shape(t->ly[i].l, i, c, tt, &oc, &ot, err) < 0) return -1;
    t->cur_c[i] = c;
    t->cur_t[i] = tt;
    c = oc;
    tt = ot;
  }
  t->cur_c[t->n_layers] = c;
  t->cur_t[t->n_layers] = tt;
  t->cur_b = b;
  t->cur_training = training;
  /* input: time-major -> channel-major */
  uint32_t ic = t->spec->in_ch;
  for (uint32_t s = 0; s < b; s++) {
    const float *xs = x + (size_t)s * frames * ic;
    float *a = t->act[0] + (size_t)s * ic * frames;
    for (uint32_t k = 0; k < frames; k++)
      for (uint32_t ch = 0; ch < ic; ch++) a[(size_t)ch * frames + k] = xs[(size_t)k * ic + ch];
  }
  for (uint32_t i = 0; i < t->n_layers; i++) {
    tlayer *L = &t->ly[i];
    const ser_layer *l = L->l;
    uint32_t ci = t->cur_c[i], ti = t->cur_t[i], co = t->cur_c[i + 1], to = t->cur_t[i + 1];
    const float *in = t->act[i];
    float *out = t->act[i + 1];
    size_t nin = (size_t)b * ci * ti;
    switch (l->kind) {
    case SER_L_CONV1D:
      conv_fwd(t, L, b, ci, ti, co, to, in, out);
      break;
    case SER_L_BATCHNORM:
      bn_fwd(t, L, b, ci, ti, in, out, training);
      break;
    case SER_L_RELU:
      for (size_t k = 0; k < nin; k++) out[k] = in[k] > 0 ? in[k] : 0;
      break;
    case SER_L_MAXPOOL:
    case SER_L_AVGPOOL:
      pool_fwd(L, b, ci, ti, to, in, out);
      break;
    case SER_L_CHANNEL_ATT:
      ca_fwd(L, b, ci, ti, in, out);
      break;
    case SER_L_SPATIAL_ATT:
      sa_fwd(L, b, ci, ti, in, out);
      break;
    case SER_L_GLOBAL_POOL:
      for (uint32_t s = 0; s < b; s++)
        for (uint32_t ch = 0; ch < ci; ch++) {
          const float *r = in + ((size_t)s * ci + ch) * ti;
          double sum = 0;
          float m = r[0];
          int32_t a = 0;
          for (uint32_t k = 0; k < ti; k++) {
            sum += r[k];
            if (r[k] > m) {
              m = r[k];
              a = (int32_t)k;
            }
          }
          L->idx[(size_t)s * L->idx_n + ch] = a;
          float *o = out + (size_t)s * co;
          if (l->mode == 0) o[ch] = (float)(sum / ti);
          else if (l->mode == 1) o[ch] = m;
          else {
            o[ch] = (float)(sum / ti);
            o[ci + ch] = m;
          }
        }
      break;
    case SER_L_FLATTEN:
      memcpy(out, in, nin * sizeof(float));
      break;
    case SER_L_DENSE: {
      const float *W = l->params, *bias = W + (size_t)co * ci;
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)b, (int)co, (int)ci, 1.f, in,
                  (int)ci, W, (int)ci, 0.f, out, (int)co);
      for (uint32_t s = 0; s < b; s++)
        for (uint32_t o = 0; o < co; o++) out[(size_t)s * co + o] += bias[o];
      break;
    }
    case SER_L_DROPOUT:
      if (training && l->p > 0) {
        float keep = 1.f - l->p, sc = keep > 0 ? 1.f / keep : 0.f;
        size_t per = (size_t)ci * ti;
        for (uint32_t s = 0; s < b; s++) {
          ser_rng r;
          ser_rng_seed(&r, ser_mix64(seeds ? seeds[s] : 0, 0x5eed0000u + i));
          float *m = L->aux + (size_t)s * per;
          for (size_t k = 0; k < per; k++) {
            m[k] = ser_rng_uniform(&r) < keep ? sc : 0.f;
            out[(size_t)s * per + k] = in[(size_t)s * per + k] * m[k];
          }
        }
      } else {
        memcpy(out, in, nin * sizeof(float));
      }
      break;
    case SER_L_SOFTMAX:
      for (uint32_t s = 0; s < b; s++) {
        const float *z = in + (size_t)s * ci;
        float *o = out + (size_t)s * ci, m = z[0];
        for (uint32_t k = 1; k < ci; k++)
          if (z[k] > m) m = z[k];
        double sum = 0;
        for (uint32_t k = 0; k < ci; k++) sum += (o[k] = expf(z[k] - m));
        for (uint32_t k = 0; k < ci; k++) o[k] = (float)(o[k] / sum);
      }
      break;
    }
  }
  if (probs) memcpy(probs, t->act[t->n_layers], (size_t)b * c * sizeof(float));
  return 0;
}

static void backprop(ser_tnet *t, float *grad);

double ser_tnet_backward(ser_tnet *t, const uint32_t *labels, const float *weights, double wsum,
                         float *grad) {
  uint32_t b = t->cur_b, nl = t->n_layers;
  uint32_t K = t->cur_c[nl];
  const float *p = t->act[nl];
  double loss = 0;
  float *dy = t->g0;
  /* softmax + weighted cross-entropy */
  for (uint32_t s = 0; s < b; s++) {
    float w = weights ? weights[s] : 1.f;
    double ws = w / wsum;
    float pt = p[(size_t)s * K + labels[s]];
    loss += ws * -log(pt > 1e-30f ? pt : 1e-30f);
    for (uint32_t k = 0; k < K; k++)
      dy[(size_t)s * K + k] = (float)(ws * (p[(size_t)s * K + k] - (k == labels[s] ? 1.0 : 0.0)));
  }
  backprop(t, grad);
  return loss;
}

double ser_tnet_backward_soft(ser_tnet *t, const float *targets, double wsum, float *grad) {
  uint32_t b = t->cur_b, nl = t->n_layers;
  uint32_t K = t->cur_c[nl];
  const float *p = t->act[nl];
  double loss = 0;
  float *dy = t->g0;
  /* softmax + cross-entropy against (weighted) soft targets: for the logits z,
   * d/dz of sum_k T_k * -log p_k is p * sum_k T_k - T */
  for (uint32_t s = 0; s < b; s++) {
    const float *T = targets + (size_t)s * K;
    const float *ps = p + (size_t)s * K;
    double tsum = 0;
    for (uint32_t k = 0; k < K; k++) {
      tsum += T[k];
      if (T[k] != 0) loss += T[k] / wsum * -log(ps[k] > 1e-30f ? ps[k] : 1e-30f);
    }
    for (uint32_t k = 0; k < K; k++) dy[(size_t)s * K + k] = (float)((ps[k] * tsum - T[k]) / wsum);
  }
  backprop(t, grad);
  return loss;
}

/* Backward pass from the loss gradient at the softmax's output in t->g0. */
static void backprop(ser_tnet *t, float *grad) {
  uint32_t b = t->cur_b, nl = t->n_layers;
  float *dy = t->g0, *dx = t->g1;
  for (int i = (int)nl - 2; i >= 0; i--) {
    tlayer *L = &t->ly[i];
    const ser_layer *l = L->l;
    uint32_t ci = t->cur_c[i], ti = t->cur_t[i], co = t->cur_c[i + 1], to = t->cur_t[i + 1];
    const float *in = t->act[i], *out = t->act[i + 1];
    float *g = grad + L->goff;
    size_t nin = (size_t)b * ci * ti;
    int need_dx = i > 0;
    switch (l->kind) {
    case SER_L_CONV1D:
      conv_bwd(t, L, b, ci, ti, co, to, in, dy, need_dx ? dx : NULL, g);
      break;
    case SER_L_BATCHNORM:
      bn_bwd(t, L, b, ci, ti, dy, dx, g, t->cur_training);
      break;
    case SER_L_RELU:
      for (size_t k = 0; k < nin; k++) dx[k] = out[k] > 0 ? dy[k] : 0;
      break;
    case SER_L_MAXPOOL:
    case SER_L_AVGPOOL:
      pool_bwd(L, b, ci, ti, to, dy, dx);
      break;
    case SER_L_CHANNEL_ATT:
      ca_bwd(L, b, ci, ti, in, dy, dx, g, t->dcol);
      break;
    case SER_L_SPATIAL_ATT:
      sa_bwd(L, b, ci, ti, in, dy, dx, g, t->dcol);
      break;
    case SER_L_GLOBAL_POOL:
      for (uint32_t s = 0; s < b; s++)
        for (uint32_t ch = 0; ch < ci; ch++) {
          float *o = dx + ((size_t)s * ci + ch) * ti;
          const float *d = dy + (size_t)s * co;
          float da = 0, dm = 0;
          if (l->mode == 0) da = d[ch];
          else if (l->mode == 1) dm = d[ch];
          else {
            da = d[ch];
            dm = d[ci + ch];
          }
          da /= (float)ti;
          for (uint32_t k = 0; k < ti; k++) o[k] = da;
          o[L->idx[(size_t)s * L->idx_n + ch]] += dm;
        }
      break;
    case SER_L_FLATTEN:
      memcpy(dx, dy, nin * sizeof(float));
      break;
    case SER_L_DENSE: {
      float *gW = g, *gb = g + (size_t)co * ci;
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)co, (int)ci, (int)b, 1.f, dy,
                  (int)co, in, (int)ci, 1.f, gW, (int)ci);
      for (uint32_t s = 0; s < b; s++)
        for (uint32_t o = 0; o < co; o++) gb[o] += dy[(size_t)s * co + o];
      if (need_dx)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)b, (int)ci, (int)co, 1.f, dy,
                    (int)co, l->params, (int)ci, 0.f, dx, (int)ci);
      break;
    }
    case SER_L_DROPOUT:
      if (t->cur_training && l->p > 0)
        for (size_t k = 0; k < nin; k++) dx[k] = dy[k] * L->aux[k];
      else
        memcpy(dx, dy, nin * sizeof(float));
      break;
    case SER_L_SOFTMAX: /* only valid as the last layer (checked at creation) */
      memcpy(dx, dy, nin * sizeof(float));
      break;
    }
    float *tmp = dy;
    dy = dx;
    dx = tmp;
  }
}
