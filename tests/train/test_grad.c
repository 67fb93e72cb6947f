/* Finite-difference checks of every layer kind's backward pass (training
 * mode and eval mode), of a whole small CBAM net, and of the threaded exact
 * batch norm (two half-batches with a barrier == one whole batch). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ser/train.h"
#include "train_internal.h"

static int failures = 0;

static uint32_t pcount(const ser_layer *l) {
  switch (l->kind) {
  case SER_L_CONV1D: return l->out_ch * l->in_ch * l->kernel + l->out_ch;
  case SER_L_BATCHNORM: return 4 * l->in_ch;
  case SER_L_CHANNEL_ATT: {
    uint32_t h = l->in_ch / l->reduction;
    if (h < 1) h = 1;
    return 2 * h * l->in_ch + h + l->in_ch;
  }
  case SER_L_SPATIAL_ATT: return 2 * l->kernel + 1;
  case SER_L_DENSE: return l->out_ch * l->in_ch + l->out_ch;
  default: return 0;
  }
}

#define MAXL 32
typedef struct net {
  ser_model_spec s;
  ser_layer L[MAXL];
  char *labels[3];
} net;

static ser_layer *add(net *n, uint32_t kind) {
  ser_layer *l = &n->L[n->s.n_layers++];
  memset(l, 0, sizeof *l);
  l->kind = kind;
  return l;
}

static ser_layer *conv(net *n, uint32_t ci, uint32_t co, uint32_t k, uint32_t s, uint32_t p, uint32_t d) {
  ser_layer *l = add(n, SER_L_CONV1D);
  l->in_ch = ci, l->out_ch = co, l->kernel = k, l->stride = s, l->padding = p, l->dilation = d;
  return l;
}

static void finish(net *n, ser_rng *r) {
  n->s.layers = n->L;
  static char *lab[3] = {"a", "b", "c"};
  n->s.labels = lab;
  n->s.n_labels = 3;
  for (uint32_t i = 0; i < n->s.n_layers; i++) {
    ser_layer *l = &n->L[i];
    l->n_params = pcount(l);
    l->params = l->n_params ? malloc(l->n_params * sizeof(float)) : NULL;
    for (uint32_t k = 0; k < l->n_params; k++) l->params[k] = 0.6f * (2 * ser_rng_uniform(r) - 1);
    if (l->kind == SER_L_BATCHNORM) {
      uint32_t c = l->in_ch;
      for (uint32_t k = 0; k < c; k++) {
        l->params[k] = 0.8f + 0.4f * ser_rng_uniform(r);
        l->params[3 * c + k] = 0.5f + ser_rng_uniform(r);
      }
    }
  }
}

static void drop(net *n) {
  for (uint32_t i = 0; i < n->s.n_layers; i++) free(n->L[i].params);
}

static double loss_of(const float *p, const uint32_t *lab, const float *w, uint32_t b, double wsum) {
  double L = 0;
  for (uint32_t s = 0; s < b; s++) L += w[s] * -log((double)p[s * 3 + lab[s]]) / wsum;
  return L;
}

/* Checks the gradient of every trainable parameter against central finite
 * differences: relative error ||fd - an|| / max(||fd||, ||an||) per layer. */
static void check(const char *name, net *n, uint32_t frames, int training) {
  ser_error err;
  const uint32_t b = 6;
  ser_tnet *t = ser_tnet_new(&n->s, b, frames, &err);
  if (!t) {
    printf("FAIL %s: %s\n", name, err.msg);
    failures++;
    return;
  }
  size_t np = ser_tnet_n_params(t);
  unsigned char *tr = malloc(np), *dec = malloc(np);
  ser_tnet_param_masks(t, tr, dec);
  ser_rng r;
  ser_rng_seed(&r, 42);
  float *x = malloc((size_t)b * frames * n->s.in_ch * sizeof(float));
  for (size_t k = 0; k < (size_t)b * frames * n->s.in_ch; k++) x[k] = ser_rng_normal(&r);
  uint32_t lab[6] = {0, 2, 1, 2, 0, 1};
  float w[6] = {1.5f, 0.5f, 1.0f, 0.5f, 1.5f, 1.0f};
  double wsum = 6.0;
  uint64_t seeds[6] = {11, 12, 13, 14, 15, 16};
  float probs[18];
  float *g = calloc(np, sizeof(float));
  /* save BN running stats so repeated training forwards do not drift them */
  float *saved = malloc(np * sizeof(float));
  ser_tnet_get_params(t, saved);
  ser_tnet_forward(t, x, b, frames, training, seeds, probs, &err);
  double L0 = ser_tnet_backward(t, lab, w, wsum, g);
  double Lp = loss_of(probs, lab, w, b, wsum);
  if (fabs(L0 - Lp) > 1e-5) {
    printf("FAIL %s: backward loss %g != forward loss %g\n", name, L0, Lp);
    failures++;
  }
  float *p = malloc(np * sizeof(float));
  double worst = 0;
  uint32_t total_skipped = 0;
  for (uint32_t li = 0; li < n->s.n_layers; li++) {
    size_t off = ser_tnet_param_offset(t, li), cnt = n->L[li].n_params;
    if (!cnt) continue;
    double dd = 0, nf = 0, na = 0;
    uint32_t checked = 0, skipped = 0;
    for (size_t k = off; k < off + cnt; k++) {
      if (!tr[k]) continue;
      /* central differences at h and h/2: where they disagree the loss is
       * not smooth there (a ReLU/max kink or a near-zero batch variance
       * inside the step), so the point is skipped and counted */
      double fdh[2], one[2] = {0, 0};
      for (int q = 0; q < 2; q++) {
        const float h = q ? 5e-4f : 2e-3f;
        memcpy(p, saved, np * sizeof(float));
        p[k] = saved[k] + h;
        ser_tnet_set_params(t, p);
        ser_tnet_forward(t, x, b, frames, training, seeds, probs, &err);
        double lp = loss_of(probs, lab, w, b, wsum);
        p[k] = saved[k] - h;
        ser_tnet_set_params(t, p);
        ser_tnet_forward(t, x, b, frames, training, seeds, probs, &err);
        double lm = loss_of(probs, lab, w, b, wsum);
        fdh[q] = (lp - lm) / (2 * h);
        if (q) {
          one[0] = (lp - Lp) / h; /* forward difference */
          one[1] = (Lp - lm) / h; /* backward difference */
        }
      }
      double fd = fdh[1];
      if (fabs(fdh[0] - fdh[1]) > 0.01 * fmax(fabs(fdh[0]), fabs(fdh[1])) + 3e-4 ||
          fabs(one[0] - one[1]) > 0.02 * fmax(fabs(one[0]), fabs(one[1])) + 1e-3) {
        skipped++;
        continue;
      }
      dd += (fd - g[k]) * (fd - g[k]);
      nf += fd * fd;
      na += (double)g[k] * g[k];
      checked++;
    }
    ser_tnet_set_params(t, saved);
    double den = sqrt(nf > na ? nf : na);
    double rel = den > 1e-9 ? sqrt(dd) / den : sqrt(dd);
    if (rel > worst) worst = rel;
    if (skipped > (checked + skipped) / 4 + 1) {
      printf("FAIL %s: layer %u: %u of %u parameters in non-smooth regions\n", name, li, skipped,
             checked + skipped);
      failures++;
    }
    total_skipped += skipped;
    if (rel > 1e-2 || !(den > 1e-7)) {
      printf("FAIL %s: layer %u (kind %u): relative error %.3g over %u params (|grad| %.3g)\n", name, li,
             n->L[li].kind, rel, checked, den);
      failures++;
    }
  }
  printf("%-28s %s  worst relative error %.2e over %zu params (%u at kinks skipped)\n", name,
         training ? "train" : "eval ", worst, np, total_skipped);
  free(p), free(g), free(x), free(tr), free(dec), free(saved);
  ser_tnet_free(t);
}

static net *mk(uint32_t in_ch) {
  net *n = calloc(1, sizeof *n);
  n->s.in_ch = in_ch;
  n->s.arch = SER_ARCH_TEMPORAL;
  return n;
}

static void head(net *n, uint32_t c, uint32_t mode) {
  ser_layer *l = add(n, SER_L_GLOBAL_POOL);
  l->mode = mode;
  l = add(n, SER_L_DENSE);
  l->in_ch = mode == 2 ? 2 * c : c;
  l->out_ch = 3;
  add(n, SER_L_SOFTMAX);
}

typedef void (*builder)(net *n);

static void b_conv(net *n) { conv(n, 3, 4, 3, 2, 2, 2); head(n, 4, 0); }
static void b_bn(net *n) {
  conv(n, 3, 4, 3, 1, 1, 1);
  ser_layer *l = add(n, SER_L_BATCHNORM);
  l->in_ch = 4, l->eps = 1e-5f;
  head(n, 4, 2);
}
static void b_relu(net *n) { conv(n, 3, 4, 3, 1, 1, 1); add(n, SER_L_RELU); head(n, 4, 0); }
static void b_maxpool(net *n) {
  conv(n, 3, 4, 3, 1, 1, 1);
  ser_layer *l = add(n, SER_L_MAXPOOL);
  l->kernel = 3, l->stride = 2, l->padding = 1;
  head(n, 4, 0);
}
static void b_avgpool(net *n) {
  conv(n, 3, 4, 3, 1, 1, 1);
  ser_layer *l = add(n, SER_L_AVGPOOL);
  l->kernel = 3, l->stride = 2, l->padding = 1;
  head(n, 4, 0);
}
static void b_ca(net *n) {
  conv(n, 3, 4, 3, 1, 1, 1);
  ser_layer *l = add(n, SER_L_CHANNEL_ATT);
  l->in_ch = 4, l->reduction = 2;
  head(n, 4, 0);
}
static void b_sa(net *n) {
  conv(n, 3, 4, 3, 1, 1, 1);
  ser_layer *l = add(n, SER_L_SPATIAL_ATT);
  l->kernel = 3;
  head(n, 4, 0);
}
static void b_gpmax(net *n) { conv(n, 3, 4, 3, 1, 1, 1); head(n, 4, 1); }
static void b_flatten(net *n) {
  conv(n, 3, 2, 3, 1, 0, 1); /* 10 -> 8 frames */
  add(n, SER_L_FLATTEN);
  ser_layer *l = add(n, SER_L_DENSE);
  l->in_ch = 16, l->out_ch = 3;
  add(n, SER_L_SOFTMAX);
}
static void b_dense_bn(net *n) {
  conv(n, 3, 4, 3, 1, 1, 1);
  ser_layer *l = add(n, SER_L_GLOBAL_POOL);
  l->mode = 0;
  l = add(n, SER_L_DENSE);
  l->in_ch = 4, l->out_ch = 5;
  l = add(n, SER_L_BATCHNORM);
  l->in_ch = 5, l->eps = 1e-3f;
  add(n, SER_L_RELU);
  l = add(n, SER_L_DENSE);
  l->in_ch = 5, l->out_ch = 3;
  add(n, SER_L_SOFTMAX);
}
static void b_dropout(net *n) {
  conv(n, 3, 4, 3, 1, 1, 1);
  ser_layer *l = add(n, SER_L_DROPOUT);
  l->p = 0.3f;
  head(n, 4, 2);
}
static void b_cbam(net *n) {
  conv(n, 3, 4, 3, 1, 1, 1);
  ser_layer *l = add(n, SER_L_BATCHNORM);
  l->in_ch = 4, l->eps = 1e-5f;
  add(n, SER_L_RELU);
  l = add(n, SER_L_MAXPOOL);
  l->kernel = 2, l->stride = 2;
  conv(n, 4, 6, 3, 1, 1, 1);
  l = add(n, SER_L_BATCHNORM);
  l->in_ch = 6, l->eps = 1e-5f;
  add(n, SER_L_RELU);
  l = add(n, SER_L_CHANNEL_ATT);
  l->in_ch = 6, l->reduction = 2;
  l = add(n, SER_L_SPATIAL_ATT);
  l->kernel = 3;
  l = add(n, SER_L_GLOBAL_POOL);
  l->mode = 2;
  l = add(n, SER_L_DROPOUT);
  l->p = 0.2f;
  l = add(n, SER_L_DENSE);
  l->in_ch = 12, l->out_ch = 3;
  add(n, SER_L_SOFTMAX);
}

/* Two workers with half a batch each, synchronised batch norm, must give the
 * same summed gradient as one worker with the whole batch. */
typedef struct th_arg {
  ser_tnet *t;
  const float *x;
  const uint32_t *lab;
  const float *w;
  const uint64_t *seeds;
  float *g;
  double loss;
} th_arg;

static void *th_run(void *p) {
  th_arg *a = p;
  ser_error err;
  float probs[6];
  ser_tnet_forward(a->t, a->x, 2, 10, 1, a->seeds, probs, &err);
  a->loss = ser_tnet_backward(a->t, a->lab, a->w, 3.5, a->g);
  return NULL;
}

static void check_threads(void) {
  ser_rng r;
  ser_rng_seed(&r, 7);
  net *n = mk(3);
  b_cbam(n);
  finish(n, &r);
  ser_error err;
  ser_tnet *one = ser_tnet_new(&n->s, 4, 10, &err);
  ser_tnet *h0 = ser_tnet_new(&n->s, 2, 10, &err), *h1 = ser_tnet_new(&n->s, 2, 10, &err);
  size_t np = ser_tnet_n_params(one);
  float x[4 * 10 * 3];
  for (size_t k = 0; k < sizeof x / sizeof x[0]; k++) x[k] = ser_rng_normal(&r);
  uint32_t lab[4] = {0, 2, 1, 2};
  float w[4] = {1.5f, 0.5f, 1.0f, 0.5f};
  uint64_t seeds[4] = {1, 2, 3, 4};
  float *g1 = calloc(np, sizeof(float)), *ga = calloc(np, sizeof(float)), *gb = calloc(np, sizeof(float));
  float *saved = malloc(np * sizeof(float)), *after1 = malloc(np * sizeof(float));
  ser_tnet_get_params(one, saved);
  float probs[12];
  ser_tnet_forward(one, x, 4, 10, 1, seeds, probs, &err);
  double l1 = ser_tnet_backward(one, lab, w, 3.5, g1);
  ser_tnet_get_params(one, after1); /* running stats updated once */
  ser_tnet_set_params(one, saved);
  ser_tsync sync;
  sync.n = 2;
  sync.slots = calloc(2 * ser_tnet_sync_doubles(h0) + 1, sizeof(double));
  pthread_barrier_init(&sync.bar, NULL, 2);
  ser_tnet_set_sync(h0, &sync, 0);
  ser_tnet_set_sync(h1, &sync, 1);
  th_arg a0 = {h0, x, lab, w, seeds, ga, 0}, a1 = {h1, x + 2 * 10 * 3, lab + 2, w + 2, seeds + 2, gb, 0};
  pthread_t th;
  pthread_create(&th, NULL, th_run, &a1);
  th_run(&a0);
  pthread_join(th, NULL);
  double dd = 0, nn = 0;
  for (size_t k = 0; k < np; k++) {
    double d = (double)ga[k] + gb[k] - g1[k];
    dd += d * d;
    nn += (double)g1[k] * g1[k];
  }
  float *after2 = malloc(np * sizeof(float));
  ser_tnet_get_params(h0, after2);
  double sd = 0;
  for (size_t k = 0; k < np; k++) sd += fabs((double)after2[k] - after1[k]);
  double rel = sqrt(dd / nn);
  printf("threads: 2 x half batch vs 1 x batch: gradient rel diff %.2e, loss %.6f vs %.6f, running stats diff %.2e\n",
         rel, a0.loss + a1.loss, l1, sd);
  if (rel > 1e-4 || fabs(a0.loss + a1.loss - l1) > 1e-5 || sd > 1e-4) {
    printf("FAIL threads\n");
    failures++;
  }
  pthread_barrier_destroy(&sync.bar);
  free(sync.slots), free(g1), free(ga), free(gb), free(saved), free(after1), free(after2);
  ser_tnet_free(one), ser_tnet_free(h0), ser_tnet_free(h1);
  drop(n);
  free(n);
}

/* Soft targets (mixup, label smoothing): rows w * one-hot give exactly the
 * hard-label gradient, and the gradient of a genuinely soft loss matches
 * central finite differences on every trainable parameter of a small net
 * (eval mode: smooth apart from ReLU/max kinks, which a small step rarely
 * crosses; the agreement is checked on the whole gradient vector). */
static double soft_loss(const float *p, const float *T, uint32_t b, double wsum) {
  double L = 0;
  for (uint32_t s = 0; s < b * 3; s++)
    if (T[s] != 0) L += T[s] * -log((double)p[s]) / wsum;
  return L;
}

static void check_soft(void) {
  ser_rng r;
  ser_rng_seed(&r, 777);
  net *n = mk(3);
  b_dense_bn(n);
  finish(n, &r);
  ser_error err;
  const uint32_t b = 6, frames = 10;
  ser_tnet *t = ser_tnet_new(&n->s, b, frames, &err);
  if (!t) {
    printf("FAIL soft targets: %s\n", err.msg);
    failures++;
    drop(n), free(n);
    return;
  }
  size_t np = ser_tnet_n_params(t);
  unsigned char *tr = malloc(np), *dec = malloc(np);
  ser_tnet_param_masks(t, tr, dec);
  float *x = malloc((size_t)b * frames * 3 * sizeof(float));
  for (size_t k = 0; k < (size_t)b * frames * 3; k++) x[k] = ser_rng_normal(&r);
  uint32_t lab[6] = {0, 2, 1, 2, 0, 1};
  float w[6] = {1.5f, 0.5f, 1.0f, 0.5f, 1.5f, 1.0f}, T[18] = {0}, probs[18];
  for (uint32_t s = 0; s < b; s++) T[s * 3 + lab[s]] = w[s];
  float *g1 = calloc(np, sizeof(float)), *g2 = calloc(np, sizeof(float)), *p = malloc(np * sizeof(float));
  ser_tnet_get_params(t, p);
  ser_tnet_forward(t, x, b, frames, 0, NULL, probs, &err);
  double l1 = ser_tnet_backward(t, lab, w, 6.0, g1);
  ser_tnet_forward(t, x, b, frames, 0, NULL, probs, &err);
  double l2 = ser_tnet_backward_soft(t, T, 6.0, g2);
  double md = 0, mg = 0;
  for (size_t k = 0; k < np; k++) {
    md = fmax(md, fabs(g1[k] - g2[k]));
    mg = fmax(mg, fabs(g1[k]));
  }
  if (fabs(l1 - l2) > 1e-9 || md > 1e-6 * (mg > 1 ? mg : 1) || mg == 0) {
    printf("FAIL soft targets: one-hot rows: loss %g vs %g, max gradient difference %g (max %g)\n", l1, l2, md, mg);
    failures++;
  }
  /* genuinely soft rows: mixup of two labels plus smoothing */
  for (uint32_t s = 0; s < b; s++) {
    float lam = 0.5f + 0.5f * ser_rng_uniform(&r);
    uint32_t other = (lab[s] + 1 + s % 2) % 3;
    for (uint32_t k = 0; k < 3; k++) T[s * 3 + k] = 0.1f / 3;
    T[s * 3 + lab[s]] += 0.9f * lam * w[s];
    T[s * 3 + other] += 0.9f * (1 - lam) * w[(s + 1) % b];
  }
  memset(g2, 0, np * sizeof(float));
  ser_tnet_forward(t, x, b, frames, 0, NULL, probs, &err);
  double L0 = ser_tnet_backward_soft(t, T, 6.0, g2);
  if (fabs(L0 - soft_loss(probs, T, b, 6.0)) > 1e-6) {
    printf("FAIL soft targets: backward loss %g != forward loss %g\n", L0, soft_loss(probs, T, b, 6.0));
    failures++;
  }
  float *q = malloc(np * sizeof(float));
  double dd = 0, nf = 0, na = 0;
  for (size_t k = 0; k < np; k++) {
    if (!tr[k]) continue;
    const float h = 1e-3f;
    memcpy(q, p, np * sizeof(float));
    q[k] = p[k] + h;
    ser_tnet_set_params(t, q);
    ser_tnet_forward(t, x, b, frames, 0, NULL, probs, &err);
    double lp = soft_loss(probs, T, b, 6.0);
    q[k] = p[k] - h;
    ser_tnet_set_params(t, q);
    ser_tnet_forward(t, x, b, frames, 0, NULL, probs, &err);
    double lm = soft_loss(probs, T, b, 6.0);
    double fd = (lp - lm) / (2 * h);
    dd += (fd - g2[k]) * (fd - g2[k]);
    nf += fd * fd;
    na += (double)g2[k] * g2[k];
  }
  double rel = sqrt(dd) / fmax(sqrt(nf), sqrt(na));
  if (!(rel < 1e-2) || na == 0) {
    printf("FAIL soft targets: finite differences, relative error %g\n", rel);
    failures++;
  } else
    printf("ok   soft targets (mixup + smoothing): relative error %.2e\n", rel);
  ser_tnet_set_params(t, p);
  ser_tnet_free(t);
  free(tr), free(dec), free(x), free(g1), free(g2), free(p), free(q);
  drop(n);
  free(n);
}

/* Batch norm's running statistics with a chosen momentum: with 1/(k+1) at the
 * k-th batch they are the plain mean of the batches' statistics (what SWA's
 * recomputation uses), and the default stays PyTorch's 0.1. */
static void check_bn_momentum(void) {
  ser_rng r;
  ser_rng_seed(&r, 11);
  net *n = mk(3);
  b_bn(n);
  finish(n, &r);
  ser_error err;
  ser_tnet *t = ser_tnet_new(&n->s, 4, 10, &err);
  float *rs = n->L[1].params + 2 * 4; /* running mean[4], running var[4] */
  float x[3][4 * 10 * 3], probs[12];
  for (int b = 0; b < 3; b++)
    for (size_t k = 0; k < sizeof x[b] / sizeof x[b][0]; k++) x[b][k] = (float)(b + 1) * ser_rng_normal(&r) + b;
  double batch[3][8], want[8] = {0};
  for (int b = 0; b < 3; b++) { /* momentum 1: the running statistics are the batch's own */
    ser_tnet_set_bn_momentum(t, 1.0);
    ser_tnet_forward(t, x[b], 4, 10, 1, NULL, probs, &err);
    for (int k = 0; k < 8; k++) want[k] += (batch[b][k] = rs[k]) / 3;
  }
  for (int k = 0; k < 8; k++) rs[k] = k < 4 ? 5.f : 7.f; /* stale statistics, forgotten at batch 0 */
  for (int b = 0; b < 3; b++) {
    ser_tnet_set_bn_momentum(t, 1.0 / (b + 1));
    ser_tnet_forward(t, x[b], 4, 10, 1, NULL, probs, &err);
  }
  double worst = 0;
  for (int k = 0; k < 8; k++) worst = fmax(worst, fabs(rs[k] - want[k]) / fmax(1e-6, fabs(want[k])));
  for (int k = 0; k < 8; k++) rs[k] = k < 4 ? 0.f : 1.f;
  ser_tnet_set_bn_momentum(t, 0.1);
  ser_tnet_forward(t, x[2], 4, 10, 1, NULL, probs, &err);
  double worst01 = 0;
  for (int k = 0; k < 8; k++)
    worst01 = fmax(worst01, fabs(rs[k] - (0.9 * (k < 4 ? 0 : 1) + 0.1 * batch[2][k])));
  if (!(worst < 1e-5) || !(worst01 < 1e-6) || batch[0][0] == batch[2][0]) {
    printf("FAIL batch-norm momentum: mean of batches off by %g (relative), momentum 0.1 off by %g\n", worst,
           worst01);
    failures++;
  } else
    printf("ok   batch-norm momentum 1/(k+1) = mean of 3 batches' statistics (%.1e), 0.1 = PyTorch's (%.1e)\n",
           worst, worst01);
  ser_tnet_free(t);
  drop(n);
  free(n);
}

int main(void) {
  struct {
    const char *name;
    builder b;
  } cases[] = {
      {"conv1d stride2 pad2 dil2", b_conv}, {"batchnorm", b_bn},       {"relu", b_relu},
      {"maxpool k3 s2 p1", b_maxpool},       {"avgpool k3 s2 p1", b_avgpool},
      {"channel attention", b_ca},           {"spatial attention", b_sa}, {"global max pool", b_gpmax},
      {"flatten + dense", b_flatten},        {"dense + bn + relu", b_dense_bn},
      {"dropout", b_dropout},                {"cbam net", b_cbam},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    for (int training = 1; training >= 0; training--) {
      ser_rng r;
      ser_rng_seed(&r, 100 + i);
      net *n = mk(3);
      cases[i].b(n);
      finish(n, &r);
      check(cases[i].name, n, 10, training);
      drop(n);
      free(n);
    }
  check_threads();
  check_soft();
  check_bn_momentum();
  printf("%s\n", failures ? "FAILED" : "all gradient checks passed");
  return failures ? 1 : 0;
}
