/* The training loop: mini-batches split over worker threads (exact batch
 * norm across them), on-the-fly augmentation and features, AdamW with linear
 * warm-up and cosine decay, class-weighted cross-entropy, early stopping on a
 * validation set, checkpoints and resume. See docs/training.md. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ser/features.h"
#include "ser/net.h"
#include "train_internal.h"

void ser_train_options_default(ser_train_options *o) {
  memset(o, 0, sizeof *o);
  o->epochs = 80;
  o->batch = 16;
  o->lr = 2e-3f;
  o->weight_decay = 1e-3f;
  o->warmup_epochs = 3;
  o->min_lr_frac = 0.02f;
  o->patience = 0;
  o->threads = 0;
  o->seed = 1;
  o->balanced = 1;
  o->specaugment = 1;
  o->aug_variants = 2;
  o->distill_alpha = 0.5f;
  ser_augment_config_default(&o->aug);
  ser_spknorm_params_default(&o->vs_spk);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- workers ------------------------------------------------------------- */

typedef struct pool pool;

typedef struct worker {
  pool *P;
  uint32_t tid;
  pthread_t th;
  ser_tnet *net;
  float *grad;
  float *x;
  float *probs;
  uint32_t *labels;
  float *weights;
  uint64_t *seeds;
  float *abuf, *tbuf;
  size_t acap, tcap;
  float *xmix;    /* mixup: the un-mixed inputs */
  float *targets; /* soft targets (mixup, label smoothing): per_thread x n_labels */
  float *gmean;   /* aug_pitch_norm: a clip's group mean with the log-pitch column moved */
  ser_mfcc *fx;   /* the worker's whole-clip feature extractor, set up once */
  uint32_t lo, hi;
  double loss;
  uint32_t correct;
  int failed;
  ser_error err;
} worker;

struct pool {
  pthread_barrier_t start, end;
  pthread_mutex_t go_lock;
  pthread_cond_t go_cond;
  int go; /* 1: all threads started, use the barriers; -1: give up (a thread could not start) */
  ser_tsync sync;
  int quit;
  uint32_t n;
  worker *w;
  /* job */
  ser_model_spec *spec;
  const ser_train_options *o;
  ser_augment_config aug;
  int augment;
  const ser_clip *train;
  const uint32_t *order;
  size_t base;
  const float *cw; /* loss weight of each training clip (class balance) */
  double wsum;
  uint32_t epoch, step;
  size_t n_params;
  ser_copies cp; /* precomputed speed/pitch copies (aug_variants) */
  float p_var;   /* probability that a training sample is drawn from them */
  int forward_only; /* batch-norm recomputation: no loss, no gradients */
  int has_soft;     /* some training clip has a distillation target */
};

/* Network input of one training sample: random crop, augmentation,
 * features, normalisation, SpecAugment. dst: in_len x in_ch. */
static int train_input(worker *w, const ser_clip *c, size_t ci, uint64_t sseed, float *dst) {
  pool *P = w->P;
  const ser_model_spec *spec = P->spec;
  const ser_feature_params *fp = &spec->feat;
  ser_rng r;
  ser_rng_seed(&r, sseed);
  uint32_t dim = ser_feature_dim(fp);
  size_t need, L;
  if (spec->arch == SER_ARCH_PAPER) {
    need = spec->clip_samples;
  } else {
    need = (size_t)(spec->in_len - 1) * fp->hop_length + fp->n_fft; /* a frame spans n_fft samples */
  }
  float smax = P->augment && P->aug.p_speed > 0 && P->aug.speed_max > 1 ? P->aug.speed_max : 1.f;
  L = (size_t)ceil(need * smax) + fp->hop_length;
  const float *seg = c->audio;
  size_t ns = c->n;
  const float *gm = c->norm_mean, *gs = c->norm_std;
  const ser_copies *cp = &P->cp;
  if (cp->n_var && ser_rng_uniform(&r) < P->p_var) {
    size_t q = ci * cp->n_var + ser_rng_below(&r, cp->n_var);
    if (cp->audio[q] && cp->n[q]) {
      seg = cp->audio[q];
      ns = cp->n[q];
      if (cp->norm) { /* the copy is a clip of a voice of its own */
        gm = cp->norm + q * 2 * dim;
        gs = gm + dim;
      }
      if (P->o->aug_pitch_norm && fp->pitch && gm && spec->arch != SER_ARCH_PAPER) {
        /* the copy is a voice of its own pitch: its speaker's log pitch moves with it */
        memcpy(w->gmean, gm, dim * sizeof(float));
        w->gmean[dim - 2] += cp->lp[q];
        gm = w->gmean;
      }
    }
  }
  if (ns > L) {
    size_t st = ser_rng_below(&r, (uint32_t)(ns - L + 1));
    seg += st;
    ns = L;
  }
  size_t na = ns;
  const float *a = seg;
  if (P->augment) {
    if (ser_augment_audio(&P->aug, &r, fp->sample_rate, seg, ns, &w->abuf, &w->acap, &na, &w->err) < 0)
      return -1;
    a = w->abuf;
  }
  if (na == 0) return ser_fail(&w->err, "training clip: empty after augmentation");
  if (spec->arch == SER_ARCH_PAPER) {
    float *x = NULL;
    uint32_t nf = 0;
    if (ser_train_group_input_fx(spec, w->fx, a, na, c->norm_mean, c->norm_std, 0, &x, &nf, &w->err) < 0)
      return -1;
    memcpy(dst, x, spec->in_len * sizeof(float));
    free(x);
    return 0;
  }
  if (na < need) { /* tile */
    if (w->tcap < need) {
      float *nb = realloc(w->tbuf, need * sizeof(float));
      if (!nb) return ser_fail(&w->err, "training: out of memory");
      w->tbuf = nb;
      w->tcap = need;
    }
    for (size_t k = 0; k < need; k++) w->tbuf[k] = a[k % na];
    a = w->tbuf;
    na = need;
  }
  float *f = NULL;
  uint32_t nf = 0;
  if (ser_train_group_input_fx(spec, w->fx, a, na, gm, gs, spec->in_len, &f, &nf, &w->err) < 0)
    return -1;
  uint32_t T = spec->in_len;
  uint32_t st = nf > T ? ser_rng_below(&r, nf - T + 1) : 0;
  memcpy(dst, f + (size_t)st * dim, (size_t)T * dim * sizeof(float));
  free(f);
  if (P->augment && P->o->specaugment) ser_aug_specaugment(&P->aug, &r, dst, T, dim);
  return 0;
}

/* Gamma(a, 1) by Marsaglia and Tsang (a < 1 via a + 1 and U^(1/a)). */
static double rng_gamma(ser_rng *r, double a) {
  if (a < 1) {
    double u = ser_rng_uniform(r);
    return rng_gamma(r, a + 1) * pow(u > 1e-12 ? u : 1e-12, 1.0 / a);
  }
  double d = a - 1.0 / 3, c = 1 / sqrt(9 * d);
  for (;;) {
    double x = ser_rng_normal(r), v = 1 + c * x;
    if (v <= 0) continue;
    v = v * v * v;
    double u = ser_rng_uniform(r);
    if (u < 1 - 0.0331 * x * x * x * x) return d * v;
    if (u > 0 && log(u) < 0.5 * x * x + d * (1 - v + log(v))) return d * v;
  }
}

/* Mixup of the worker's b inputs (lambda folded to >= 0.5, partner another
 * sample of the same worker) and the soft targets of mixup, label smoothing
 * and distillation (a clip's teacher probabilities), each clip's part
 * weighted by its label's class weight. */
static void soft_targets(worker *w, uint32_t b, size_t per) {
  pool *P = w->P;
  uint32_t K = P->spec->n_labels;
  float eps = P->o->label_smoothing, alpha = P->o->mixup_alpha;
  memset(w->targets, 0, (size_t)b * K * sizeof(float));
  int mix = alpha > 0 && b > 1;
  if (mix) memcpy(w->xmix, w->x, (size_t)b * per * sizeof(float));
  for (uint32_t j = 0; j < b; j++) {
    float *T = w->targets + (size_t)j * K;
    uint32_t lab[2] = {w->labels[j], 0};
    size_t clip[2] = {P->order[P->base + w->lo + j], 0};
    const float *teach[2] = {P->train[P->order[P->base + w->lo + j]].soft, NULL};
    float part[2] = {1, 0};
    if (mix) {
      ser_rng r;
      ser_rng_seed(&r, ser_mix64(w->seeds[j], 0x41c5));
      double g1 = rng_gamma(&r, alpha), g2 = rng_gamma(&r, alpha);
      double lam = g1 + g2 > 0 ? g1 / (g1 + g2) : 1;
      if (lam < 0.5) lam = 1 - lam;
      uint32_t q = (j + 1 + ser_rng_below(&r, b - 1)) % b;
      float *x = w->x + (size_t)j * per;
      const float *xa = w->xmix + (size_t)j * per, *xb = w->xmix + (size_t)q * per;
      for (size_t k = 0; k < per; k++) x[k] = (float)(lam * xa[k] + (1 - lam) * xb[k]);
      lab[1] = w->labels[q];
      clip[1] = P->order[P->base + w->lo + q];
      teach[1] = P->train[P->order[P->base + w->lo + q]].soft;
      part[0] = (float)lam;
      part[1] = (float)(1 - lam);
    }
    for (int m = 0; m < 2; m++) {
      if (part[m] == 0) continue;
      float wt = part[m] * P->cw[clip[m]];
      if (teach[m]) {
        float a = P->o->distill_alpha;
        for (uint32_t k = 0; k < K; k++) T[k] += wt * a * teach[m][k];
        wt *= 1 - a;
      }
      for (uint32_t k = 0; k < K; k++) T[k] += wt * eps / (float)K;
      T[lab[m]] += wt * (1 - eps);
    }
  }
}

static void worker_job(worker *w) {
  pool *P = w->P;
  const ser_model_spec *spec = P->spec;
  size_t per = (size_t)spec->in_len * spec->in_ch;
  uint32_t b = w->hi - w->lo, K = spec->n_labels;
  w->failed = 0;
  w->loss = 0;
  w->correct = 0;
  for (uint32_t j = 0; j < b; j++) {
    uint32_t gi = w->lo + j;
    const ser_clip *c = &P->train[P->order[P->base + gi]];
    uint64_t ss = ser_mix64(ser_mix64(P->o->seed, 0x7a11 + P->epoch), (uint64_t)P->step * 65536 + gi);
    w->seeds[j] = ss;
    w->labels[j] = c->label;
    w->weights[j] = P->cw[P->order[P->base + gi]];
    if (train_input(w, c, P->order[P->base + gi], ss, w->x + j * per) < 0) {
      /* keep going with zeros: the other threads wait for us at batch norm */
      memset(w->x + j * per, 0, per * sizeof(float));
      w->failed = 1;
    }
  }
  if (P->forward_only) {
    if (ser_tnet_forward(w->net, w->x, b, spec->in_len, 1, w->seeds, w->probs, &w->err) < 0) w->failed = 1;
    return;
  }
  int soft = P->o->label_smoothing > 0 || P->o->mixup_alpha > 0 || P->has_soft;
  if (soft) soft_targets(w, b, per);
  memset(w->grad, 0, P->n_params * sizeof(float));
  if (ser_tnet_forward(w->net, w->x, b, spec->in_len, 1, w->seeds, w->probs, &w->err) < 0) {
    w->failed = 1;
    return;
  }
  for (uint32_t j = 0; j < b; j++) {
    uint32_t am = 0;
    for (uint32_t k = 1; k < K; k++)
      if (w->probs[j * K + k] > w->probs[j * K + am]) am = k;
    w->correct += am == w->labels[j];
  }
  w->loss = soft ? ser_tnet_backward_soft(w->net, w->targets, P->wsum, w->grad)
               : ser_tnet_backward(w->net, w->labels, w->weights, P->wsum, w->grad);
}

/* A random order of 0..n-1 (Fisher-Yates). */
static void shuffle(uint32_t *order, size_t n, uint64_t seed) {
  ser_rng er;
  ser_rng_seed(&er, seed);
  for (size_t i = 0; i < n; i++) order[i] = (uint32_t)i;
  for (size_t i = n; i > 1; i--) {
    uint32_t j = ser_rng_below(&er, (uint32_t)i);
    uint32_t tmp = order[i - 1];
    order[i - 1] = order[j];
    order[j] = tmp;
  }
}

/* Forward and backward (forward only with P->forward_only) of mini-batch s
 * of the current order (P->order, P->epoch) on all worker threads;
 * gradients in each worker's grad. */
static int pool_step(pool *P, size_t s, uint32_t batch, uint32_t per_thread, ser_error *err) {
  uint32_t nt = P->n;
  P->base = s * batch;
  P->step = (uint32_t)s;
  double wsum = 0;
  for (uint32_t j = 0; j < batch; j++) wsum += P->cw[P->order[P->base + j]];
  P->wsum = wsum;
  for (uint32_t i = 0; i < nt; i++) {
    P->w[i].lo = i * per_thread < batch ? i * per_thread : batch;
    P->w[i].hi = (i + 1) * per_thread < batch ? (i + 1) * per_thread : batch;
  }
  if (nt > 1) pthread_barrier_wait(&P->start);
  worker_job(&P->w[0]);
  if (nt > 1) pthread_barrier_wait(&P->end);
  for (uint32_t i = 0; i < nt; i++)
    if (P->w[i].failed) return ser_fail(err, "%s", P->w[i].err.msg);
  return 0;
}

/* Stochastic weight averaging: batch-norm running statistics of the
 * averaged weights, the plain mean over one pass of training batches in
 * training mode, forward only (a new order and new augmentation draws, as
 * epoch `epoch` would have). order: n_train slots, P->order's storage. */
static int bn_recompute(pool *P, uint32_t *order, size_t n_train, uint64_t seed, uint32_t epoch, size_t steps,
                        uint32_t batch, uint32_t per_thread, ser_error *err) {
  shuffle(order, n_train, ser_mix64(seed, 0xe90c + epoch));
  P->epoch = epoch;
  P->forward_only = 1;
  int rc = 0;
  for (size_t s = 0; s < steps && rc == 0; s++) {
    ser_tnet_set_bn_momentum(P->w[0].net, 1.0 / (double)(s + 1));
    rc = pool_step(P, s, batch, per_thread, err);
  }
  ser_tnet_set_bn_momentum(P->w[0].net, 0.1);
  P->forward_only = 0;
  return rc;
}

static void *worker_main(void *arg) {
  worker *w = arg;
  pool *P = w->P;
  pthread_mutex_lock(&P->go_lock);
  while (!P->go) pthread_cond_wait(&P->go_cond, &P->go_lock);
  int go = P->go;
  pthread_mutex_unlock(&P->go_lock);
  if (go < 0) return NULL;
  for (;;) {
    pthread_barrier_wait(&w->P->start);
    if (w->P->quit) break;
    worker_job(w);
    pthread_barrier_wait(&w->P->end);
  }
  return NULL;
}

static void worker_clear(worker *w) {
  ser_tnet_free(w->net);
  ser_mfcc_free(w->fx);
  free(w->grad), free(w->x), free(w->probs), free(w->labels), free(w->weights), free(w->seeds);
  free(w->abuf), free(w->tbuf), free(w->xmix), free(w->targets), free(w->gmean);
  memset(w, 0, sizeof *w);
}

static void pool_free(pool *P) {
  if (!P) return;
  if (P->w) {
    if (P->n > 1) {
      P->quit = 1;
      pthread_barrier_wait(&P->start);
      for (uint32_t i = 1; i < P->n; i++) pthread_join(P->w[i].th, NULL);
      pthread_barrier_destroy(&P->start);
      pthread_barrier_destroy(&P->end);
      pthread_barrier_destroy(&P->sync.bar);
      pthread_mutex_destroy(&P->go_lock);
      pthread_cond_destroy(&P->go_cond);
    }
    for (uint32_t i = 0; i < P->n; i++) worker_clear(&P->w[i]);
  }
  ser_copies_free(&P->cp);
  free(P->sync.slots);
  free(P->w);
  free(P);
}

static pool *pool_new(ser_model_spec *spec, uint32_t n, uint32_t per_thread, ser_error *err) {
  pool *P = calloc(1, sizeof *P);
  if (!P) goto oom;
  P->n = n;
  P->w = calloc(n, sizeof *P->w);
  if (!P->w) goto oom;
  for (uint32_t i = 0; i < n; i++) {
    worker *w = &P->w[i];
    w->P = P;
    w->tid = i;
    if (!(w->net = ser_tnet_new(spec, per_thread, spec->in_len, err))) goto fail;
    if (!(w->fx = ser_mfcc_clip_new(&spec->feat, err))) goto fail;
    size_t np = ser_tnet_n_params(w->net);
    P->n_params = np;
    w->grad = calloc(np ? np : 1, sizeof(float));
    w->x = malloc((size_t)per_thread * spec->in_len * spec->in_ch * sizeof(float));
    w->probs = malloc((size_t)per_thread * spec->n_labels * sizeof(float));
    w->labels = malloc(per_thread * sizeof(uint32_t));
    w->weights = malloc(per_thread * sizeof(float));
    w->seeds = malloc(per_thread * sizeof(uint64_t));
    w->xmix = malloc((size_t)per_thread * spec->in_len * spec->in_ch * sizeof(float));
    w->targets = malloc((size_t)per_thread * spec->n_labels * sizeof(float));
    w->gmean = malloc(((size_t)ser_feature_dim(&spec->feat) + 1) * sizeof(float));
    if (!w->grad || !w->x || !w->probs || !w->labels || !w->weights || !w->seeds || !w->xmix || !w->targets ||
        !w->gmean)
      goto oom;
  }
  if (n > 1) {
    P->sync.n = n;
    P->sync.slots = calloc(n * ser_tnet_sync_doubles(P->w[0].net) + 1, sizeof(double));
    if (!P->sync.slots) goto oom;
    pthread_barrier_init(&P->sync.bar, NULL, n);
    pthread_barrier_init(&P->start, NULL, n);
    pthread_barrier_init(&P->end, NULL, n);
    for (uint32_t i = 0; i < n; i++) ser_tnet_set_sync(P->w[i].net, &P->sync, i);
    pthread_mutex_init(&P->go_lock, NULL);
    pthread_cond_init(&P->go_cond, NULL);
    uint32_t started = 1;
    for (uint32_t i = 1; i < n; i++, started++)
      if (pthread_create(&P->w[i].th, NULL, worker_main, &P->w[i]) != 0) break;
    pthread_mutex_lock(&P->go_lock);
    P->go = started == n ? 1 : -1;
    pthread_cond_broadcast(&P->go_cond);
    pthread_mutex_unlock(&P->go_lock);
    if (started < n) {
      for (uint32_t i = 1; i < started; i++) pthread_join(P->w[i].th, NULL);
      ser_fail(err, "training: cannot start worker thread %u of %u (try --threads %u)", started + 1, n, started);
      P->n = 1; /* no threads running: free without the barrier handshake */
      pthread_barrier_destroy(&P->start);
      pthread_barrier_destroy(&P->end);
      pthread_barrier_destroy(&P->sync.bar);
      for (uint32_t i = 1; i < n; i++) worker_clear(&P->w[i]);
      pthread_mutex_destroy(&P->go_lock);
      pthread_cond_destroy(&P->go_cond);
      pool_free(P);
      return NULL;
    }
  }
  return P;
oom:
  ser_fail(err, "training: out of memory");
fail:
  if (P) {
    uint32_t keep = P->n;
    P->n = 1; /* no threads were started */
    if (P->w)
      for (uint32_t i = 1; i < keep; i++) worker_clear(&P->w[i]);
    pool_free(P);
  }
  return NULL;
}

/* ---- checkpoints --------------------------------------------------------- */

#define STATE_MAGIC "SERTRAIN"
#define STATE_VERSION 1u

typedef struct train_state {
  uint32_t epochs_done;
  uint64_t adam_t;
  double best_ua;
  uint32_t best_epoch;
  uint32_t bad_epochs;
} train_state;

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
  const unsigned char *b = p;
  for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ULL;
  return h;
}

static int write_all(FILE *f, const void *p, size_t n, uint64_t *h) {
  *h = fnv(*h, p, n);
  return fwrite(p, 1, n, f) == n ? 0 : -1;
}

static int state_write(const char *path, const train_state *s, const float *m, const float *v,
                       uint64_t np, ser_error *err) {
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *f = fopen(tmp, "wb");
  if (!f) return ser_fail(err, "%s: cannot write: %s", tmp, strerror(errno));
  uint64_t h = 0xcbf29ce484222325ULL;
  uint32_t ver = STATE_VERSION;
  int rc = 0;
  rc |= write_all(f, STATE_MAGIC, 8, &h);
  rc |= write_all(f, &ver, 4, &h);
  rc |= write_all(f, &np, 8, &h);
  rc |= write_all(f, &s->epochs_done, 4, &h);
  rc |= write_all(f, &s->adam_t, 8, &h);
  rc |= write_all(f, &s->best_ua, 8, &h);
  rc |= write_all(f, &s->best_epoch, 4, &h);
  rc |= write_all(f, &s->bad_epochs, 4, &h);
  rc |= write_all(f, m, np * sizeof(float), &h);
  rc |= write_all(f, v, np * sizeof(float), &h);
  if (fwrite(&h, 8, 1, f) != 1) rc = -1;
  if (fclose(f) != 0) rc = -1;
  if (rc || rename(tmp, path) != 0) {
    unlink(tmp);
    return ser_fail(err, "%s: write failed", path);
  }
  return 0;
}

static int read_all(FILE *f, void *p, size_t n, uint64_t *h) {
  if (fread(p, 1, n, f) != n) return -1;
  *h = fnv(*h, p, n);
  return 0;
}

static int state_read(const char *path, train_state *s, float *m, float *v, uint64_t np,
                      ser_error *err) {
  FILE *f = fopen(path, "rb");
  if (!f) return ser_fail(err, "%s: cannot open: %s", path, strerror(errno));
  uint64_t h = 0xcbf29ce484222325ULL, fnp = 0, hf = 0;
  char magic[8];
  uint32_t ver = 0;
  if (read_all(f, magic, 8, &h) || memcmp(magic, STATE_MAGIC, 8)) {
    fclose(f);
    return ser_fail(err, "%s: not a training state file (bad magic)", path);
  }
  if (read_all(f, &ver, 4, &h) || ver != STATE_VERSION) {
    fclose(f);
    return ser_fail(err, "%s: unsupported version %u", path, ver);
  }
  if (read_all(f, &fnp, 8, &h) || fnp != np) {
    fclose(f);
    return ser_fail(err, "%s: holds %llu parameters, the model has %llu", path,
                    (unsigned long long)fnp, (unsigned long long)np);
  }
  int rc = 0;
  rc |= read_all(f, &s->epochs_done, 4, &h);
  rc |= read_all(f, &s->adam_t, 8, &h);
  rc |= read_all(f, &s->best_ua, 8, &h);
  rc |= read_all(f, &s->best_epoch, 4, &h);
  rc |= read_all(f, &s->bad_epochs, 4, &h);
  rc |= read_all(f, m, np * sizeof(float), &h);
  rc |= read_all(f, v, np * sizeof(float), &h);
  if (rc || fread(&hf, 8, 1, f) != 1) {
    fclose(f);
    return ser_fail(err, "%s: truncated", path);
  }
  fclose(f);
  if (hf != h) return ser_fail(err, "%s: checksum mismatch (corrupt file)", path);
  return 0;
}

static int spec_write_atomic(const ser_model_spec *s, const char *path, ser_error *err) {
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  if (ser_model_spec_write(s, tmp, err) < 0) return -1;
  if (rename(tmp, path) != 0) {
    unlink(tmp);
    return ser_fail(err, "%s: cannot rename: %s", path, strerror(errno));
  }
  return 0;
}

/* Copy parameters of a spec read from disk into ours, checking shapes. */
static int load_params_from(ser_tnet *t, const char *path, float *flat, ser_error *err) {
  ser_model_spec s;
  if (ser_model_spec_read(path, &s, err) < 0) return -1;
  const ser_model_spec *mine = ser_tnet_spec(t);
  int ok = s.n_layers == mine->n_layers;
  for (uint32_t i = 0; ok && i < s.n_layers; i++)
    ok = s.layers[i].kind == mine->layers[i].kind && s.layers[i].n_params == mine->layers[i].n_params;
  if (!ok) {
    ser_model_spec_clear(&s);
    return ser_fail(err, "%s: its layers differ from the model being trained", path);
  }
  for (uint32_t i = 0; i < s.n_layers; i++)
    if (s.layers[i].n_params)
      memcpy(flat + ser_tnet_param_offset(t, i), s.layers[i].params, s.layers[i].n_params * sizeof(float));
  ser_model_spec_clear(&s);
  return 0;
}

/* ---- validation ------------------------------------------------------------ */

static int evaluate(ser_tnet *ev, const ser_clip *val, size_t n, double *ua, double *wa,
                    ser_error *err) {
  const ser_model_spec *spec = ser_tnet_spec(ev);
  uint32_t K = spec->n_labels;
  uint64_t tot[64] = {0}, ok[64] = {0};
  float probs[64];
  size_t correct = 0;
  for (size_t i = 0; i < n; i++) {
    if (ser_train_classify(ev, &val[i], probs, err) < 0) return -1;
    uint32_t am = 0;
    for (uint32_t k = 1; k < K; k++)
      if (probs[k] > probs[am]) am = k;
    tot[val[i].label]++;
    if (am == val[i].label) {
      ok[val[i].label]++;
      correct++;
    }
  }
  double s = 0;
  uint32_t nc = 0;
  for (uint32_t k = 0; k < K; k++)
    if (tot[k]) {
      s += (double)ok[k] / tot[k];
      nc++;
    }
  *ua = nc ? s / nc : 0;
  *wa = n ? (double)correct / n : 0;
  return 0;
}

/* ---- the loop -------------------------------------------------------------- */

int ser_train_class_weights(const ser_clip *train, size_t n, uint32_t n_labels, int balanced, float *w) {
  uint32_t G = 1, K = n_labels;
  for (size_t i = 0; i < n; i++) {
    if (train[i].label >= K) return -1;
    if (balanced == 2 && train[i].group >= SER_TRAIN_MAX_GROUPS) return -1;
    if (balanced == 2 && train[i].group >= G) G = train[i].group + 1;
  }
  size_t *cnt = calloc((size_t)G * K, sizeof *cnt), *ng = calloc(G, sizeof *ng);
  if (!cnt || !ng) {
    free(cnt), free(ng);
    return -1;
  }
  for (size_t i = 0; i < n; i++) {
    uint32_t g = balanced == 2 ? train[i].group : 0;
    cnt[(size_t)g * K + train[i].label]++;
    ng[g]++;
  }
  for (size_t i = 0; i < n; i++) {
    uint32_t g = balanced == 2 ? train[i].group : 0, present = 0;
    for (uint32_t k = 0; k < K; k++) present += cnt[(size_t)g * K + k] > 0;
    w[i] = balanced ? (float)((double)ng[g] / ((double)present * cnt[(size_t)g * K + train[i].label])) : 1.f;
  }
  free(cnt), free(ng);
  return 0;
}

int ser_train(ser_model_spec *spec, const ser_clip *train, size_t n_train, const ser_clip *val,
              size_t n_val, const ser_train_options *o, ser_train_result *res, ser_error *err) {
  ser_train_result dummy;
  if (!res) res = &dummy;
  memset(res, 0, sizeof *res);
  res->best_val_ua = -1;
  if (n_train == 0) return ser_fail(err, "training: no training clips");
  if (o->epochs == 0 || o->batch == 0) return ser_fail(err, "training: epochs and batch must be positive");
  if (spec->n_labels > 64) return ser_fail(err, "training: at most 64 labels");
  if (!(o->lr > 0)) return ser_fail(err, "lr: must be positive");
  for (size_t i = 0; i < n_train; i++) {
    if (train[i].label >= spec->n_labels || train[i].n == 0)
      return ser_fail(err, "training clip %zu: bad label or empty", i);
    if (o->balanced == 2 && train[i].group >= SER_TRAIN_MAX_GROUPS)
      return ser_fail(err, "training clip %zu: balance group %u (at most %u)", i, train[i].group,
                      SER_TRAIN_MAX_GROUPS - 1);
    if (train[i].soft) {
      double sum = 0;
      for (uint32_t k = 0; k < spec->n_labels; k++) {
        float v = train[i].soft[k];
        if (!(v >= 0 && v <= 1)) return ser_fail(err, "training clip %zu: soft target %u is %g, not in [0, 1]", i, k, v);
        sum += v;
      }
      if (fabs(sum - 1) > 1e-3) return ser_fail(err, "training clip %zu: soft targets sum to %g, not 1", i, sum);
    }
  }
  for (size_t i = 0; i < n_val; i++)
    if (val[i].label >= spec->n_labels || val[i].n == 0)
      return ser_fail(err, "validation clip %zu: bad label or empty", i);
  if (o->virtual_speakers) {
    if (spec->arch == SER_ARCH_PAPER) return ser_fail(err, "virtual speakers: the paper architecture has no speaker normaliser");
    if (!o->aug_variants || (o->aug.p_speed <= 0 && o->aug.p_pitch <= 0))
      return ser_fail(err, "virtual speakers: need perturbed copies (aug_variants > 0 and speed or pitch on)");
    if (o->aug_pitch_norm) return ser_fail(err, "virtual speakers: aug_pitch_norm is a different treatment of the copies");
    if (!o->vs_prior_mean || !o->vs_prior_std)
      return ser_fail(err, "virtual speakers: no prior for the running normaliser");
    for (size_t i = 0; i < n_train; i++)
      if (!train[i].norm_mean || !train[i].norm_std)
        return ser_fail(err, "virtual speakers: training clip %zu has no running statistics", i);
  }
  ser_blas_single_thread();

  uint32_t batch = o->batch;
  if (batch > n_train) batch = (uint32_t)n_train;
  uint32_t nt = o->threads;
  if (nt == 0) {
    long nc = sysconf(_SC_NPROCESSORS_ONLN);
    nt = nc > 0 ? (uint32_t)nc : 1;
  }
  if (nt > 64) nt = 64;
  if (nt > batch) nt = batch;
  uint32_t per_thread = (batch + nt - 1) / nt;
  size_t steps = n_train / batch;

  pool *P = pool_new(spec, nt, per_thread, err);
  if (!P) return -1;
  ser_tnet *ev = ser_tnet_new(spec, 1, spec->in_len, err);
  size_t np = P->n_params;
  float *m = calloc(np + 1, sizeof(float)), *v = calloc(np + 1, sizeof(float));
  float *flat = malloc((np + 1) * sizeof(float)), *best = malloc((np + 1) * sizeof(float));
  unsigned char *tr = malloc(np + 1), *dec = malloc(np + 1);
  uint32_t *order = malloc(n_train * sizeof(uint32_t));
  float *cw = NULL;
  double *avg = NULL; /* sum of the weights of the last avg_epochs epochs */
  uint32_t n_avg = 0;
  int rc = -1;
  if (!ev || !m || !v || !flat || !best || !tr || !dec || !order) {
    if (ev) ser_fail(err, "training: out of memory");
    goto done;
  }
  ser_tnet_param_masks(P->w[0].net, tr, dec);

  /* class weights, one per clip */
  cw = malloc(n_train * sizeof *cw);
  if (!cw || ser_train_class_weights(train, n_train, spec->n_labels, o->balanced, cw) < 0) {
    ser_fail(err, "training: out of memory");
    goto done;
  }
  P->spec = spec;
  P->o = o;
  for (size_t i = 0; i < n_train; i++) P->has_soft |= train[i].soft != NULL;
  P->aug = o->aug;
  P->aug.p_crop = 0; /* the trainer crops */
  P->augment = P->aug.p_noise > 0 || P->aug.p_speed > 0 || P->aug.p_pitch > 0 || P->aug.p_shift > 0 ||
               P->aug.p_gain > 0 || (o->specaugment && P->aug.p_specaug > 0);
  if (o->aug_variants && (P->aug.p_speed > 0 || P->aug.p_pitch > 0)) {
    P->p_var = P->aug.p_speed + P->aug.p_pitch;
    if (P->p_var > 1) P->p_var = 1;
    P->aug.p_speed = P->aug.p_pitch = 0; /* drawn from the copies instead */
    if (ser_train_copies(spec, o, train, n_train, nt, &P->cp, err) < 0) goto done;
  }
  P->train = train;
  P->order = order;
  P->cw = cw;

  train_state st = {0, 0, -1.0, 0, 0};
  char path_last[4096] = "", path_state[4096] = "", path_best[4096] = "";
  if (o->checkpoint_dir) {
    if (mkdir(o->checkpoint_dir, 0777) != 0 && errno != EEXIST) {
      ser_fail(err, "%s: cannot create: %s", o->checkpoint_dir, strerror(errno));
      goto done;
    }
    snprintf(path_last, sizeof path_last, "%s/last.sermodel", o->checkpoint_dir);
    snprintf(path_state, sizeof path_state, "%s/last.state", o->checkpoint_dir);
    snprintf(path_best, sizeof path_best, "%s/best.sermodel", o->checkpoint_dir);
  }
  ser_tnet_get_params(P->w[0].net, flat);
  memcpy(best, flat, np * sizeof(float));
  if (o->resume) {
    if (!o->checkpoint_dir) {
      ser_fail(err, "resume: needs a checkpoint directory");
      goto done;
    }
    if (state_read(path_state, &st, m, v, np, err) < 0) goto done;
    if (load_params_from(P->w[0].net, path_last, flat, err) < 0) goto done;
    ser_tnet_set_params(P->w[0].net, flat);
    memcpy(best, flat, np * sizeof(float));
    if (n_val && access(path_best, R_OK) == 0 && load_params_from(P->w[0].net, path_best, best, err) < 0)
      goto done;
  }

  uint32_t avg_from = o->avg_epochs && o->avg_epochs < o->epochs ? o->epochs - o->avg_epochs : 0;
  if (o->avg_epochs) {
    if (o->resume && st.epochs_done > avg_from) {
      ser_fail(err, "resume: the checkpoint is inside the weight-averaging window (epoch %u > %u); the partial "
               "average is not saved, resume from an earlier checkpoint or without averaging", st.epochs_done,
               avg_from);
      goto done;
    }
    if (!(avg = calloc(np + 1, sizeof(double)))) {
      ser_fail(err, "training: out of memory");
      goto done;
    }
  }
  double t0 = now_s();
  const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
  size_t total_steps = (size_t)o->epochs * steps;
  size_t warm = (size_t)(o->warmup_epochs * steps);
  /* SWA: the cosine ends where the averaging window starts, then the rate stays */
  int swa = avg && o->swa_lr_frac > 0;
  size_t cos_end = swa ? (size_t)avg_from * steps : total_steps;
  int stop = 0;
  uint32_t epoch, first_epoch = st.epochs_done;
  double last_loss = 0;
  uint32_t end_epoch = o->stop_after && o->stop_after < o->epochs ? o->stop_after : o->epochs;
  for (epoch = st.epochs_done; epoch < end_epoch && !stop; epoch++) {
    shuffle(order, n_train, ser_mix64(o->seed, 0xe90c + epoch));
    double eloss = 0;
    size_t ecorrect = 0, eseen = 0;
    P->epoch = epoch;
    for (size_t s = 0; s < steps; s++) {
      if (pool_step(P, s, batch, per_thread, err) < 0) goto done;
      float *g = P->w[0].grad;
      double bl = 0;
      for (uint32_t i = 0; i < nt; i++) {
        bl += P->w[i].loss;
        ecorrect += P->w[i].correct;
        if (i)
          for (size_t k = 0; k < np; k++) g[k] += P->w[i].grad[k];
      }
      eloss += bl;
      eseen += batch;
      /* learning rate */
      size_t gs = (size_t)epoch * steps + s;
      double lr;
      if (gs < warm) lr = o->lr * (double)(gs + 1) / (double)warm;
      else if (swa && gs >= cos_end) lr = o->lr * o->swa_lr_frac;
      else {
        double span = cos_end > warm ? (double)(cos_end - warm) : 1.0;
        double q = (double)(gs - warm) / span;
        double mn = o->lr * (swa ? o->swa_lr_frac : o->min_lr_frac);
        lr = mn + (o->lr - mn) * 0.5 * (1 + cos(M_PI * q));
      }
      st.adam_t++;
      double c1 = 1 - pow(b1, (double)st.adam_t), c2 = 1 - pow(b2, (double)st.adam_t);
      ser_tnet_get_params(P->w[0].net, flat);
      for (size_t k = 0; k < np; k++) {
        if (!tr[k]) continue;
        float gk = g[k];
        m[k] = (float)(b1 * m[k] + (1 - b1) * gk);
        v[k] = (float)(b2 * v[k] + (1 - b2) * (double)gk * gk);
        double upd = (m[k] / c1) / (sqrt(v[k] / c2) + eps);
        if (dec[k]) upd += o->weight_decay * flat[k];
        flat[k] = (float)(flat[k] - lr * upd);
      }
      ser_tnet_set_params(P->w[0].net, flat);
      if (o->progress) {
        ser_train_progress pr = {0};
        pr.epoch = epoch + 1;
        pr.epochs = o->epochs;
        pr.step = (uint32_t)s + 1;
        pr.steps = (uint32_t)steps;
        pr.loss = eloss / (s + 1);
        pr.train_acc = eseen ? (double)ecorrect / eseen : 0;
        pr.val_ua = pr.val_wa = -1;
        pr.best_val_ua = st.best_ua;
        pr.best_epoch = st.best_epoch;
        pr.elapsed_s = now_s() - t0;
        double done_frac = ((double)(epoch - first_epoch) * steps + s + 1);
        double left = (double)(o->epochs - epoch) * steps - (s + 1);
        pr.eta_s = pr.elapsed_s / done_frac * left;
        o->progress(o->progress_user, &pr);
      }
    }
    last_loss = steps ? eloss / steps : 0;
    if (avg && epoch >= avg_from) {
      ser_tnet_get_params(P->w[0].net, flat);
      for (size_t k = 0; k < np; k++) avg[k] += flat[k];
      n_avg++;
    }
    double ua = -1, wa = -1;
    if (n_val) {
      if (evaluate(ev, val, n_val, &ua, &wa, err) < 0) goto done;
      if (ua > st.best_ua) {
        st.best_ua = ua;
        st.best_epoch = epoch + 1;
        st.bad_epochs = 0;
        ser_tnet_get_params(P->w[0].net, best);
        if (o->checkpoint_dir && spec_write_atomic(spec, path_best, err) < 0) goto done;
      } else {
        st.bad_epochs++;
        uint32_t min_e = o->min_epochs ? o->min_epochs : o->epochs / 2;
        if (o->patience && st.bad_epochs >= o->patience && epoch + 1 >= min_e) stop = 1;
      }
    } else {
      st.best_epoch = epoch + 1;
    }
    st.epochs_done = epoch + 1;
    if (o->checkpoint_dir) {
      if (spec_write_atomic(spec, path_last, err) < 0) goto done;
      if (state_write(path_state, &st, m, v, np, err) < 0) goto done;
    }
    if (o->progress) {
      ser_train_progress pr = {0};
      pr.epoch = epoch + 1;
      pr.epochs = o->epochs;
      pr.step = pr.steps = (uint32_t)steps;
      pr.loss = last_loss;
      pr.train_acc = eseen ? (double)ecorrect / eseen : 0;
      pr.val_ua = ua;
      pr.val_wa = wa;
      pr.best_val_ua = st.best_ua;
      pr.best_epoch = st.best_epoch;
      pr.elapsed_s = now_s() - t0;
      double per_e = pr.elapsed_s / (double)(epoch + 1 - first_epoch);
      pr.eta_s = stop ? 0 : per_e * (o->epochs - epoch - 1);
      pr.epoch_done = 1;
      o->progress(o->progress_user, &pr);
    }
  }
  res->best_epoch = st.best_epoch;
  res->best_val_ua = n_val ? st.best_ua : -1;
  if (avg && n_avg) { /* the average of the last epochs, not the best validation epoch */
    for (size_t k = 0; k < np; k++) flat[k] = (float)(avg[k] / n_avg);
    ser_tnet_set_params(P->w[0].net, flat);
    if (swa && bn_recompute(P, order, n_train, o->seed, o->epochs, steps, batch, per_thread, err) < 0) goto done;
    res->best_epoch = st.epochs_done;
    res->avg_epochs = n_avg;
    if (n_val) {
      double ua = -1, wa = -1;
      if (evaluate(ev, val, n_val, &ua, &wa, err) < 0) goto done;
      res->best_val_ua = ua;
    }
  } else if (n_val && st.best_ua >= 0) ser_tnet_set_params(P->w[0].net, best);
  res->epochs_run = st.epochs_done;
  res->final_loss = last_loss;
  res->seconds = now_s() - t0;
  rc = 0;
done:
  ser_tnet_free(ev);
  pool_free(P);
  free(m), free(v), free(flat), free(best), free(tr), free(dec), free(order), free(avg), free(cw);
  return rc;
}

/* ---- group (speaker / utterance) normalisation ------------------------------ */

/* Statistics that normalise like (x - pm) / ps followed by the spec's
 * (x - gm) / gs: mean pm + gm ps, std ps gs (std floored as arch.c's
 * normalise floors them). */
static void compose_norm(const ser_model_spec *spec, const float *pm, const float *ps, float *om,
                         float *os) {
  uint32_t dim = ser_feature_dim(&spec->feat);
  for (uint32_t d = 0; d < dim; d++) {
    double p = ps[d] > 1e-8f ? ps[d] : 1e-8f;
    double gm = spec->norm_mean ? spec->norm_mean[d] : 0.0;
    double gs = spec->norm_std ? (spec->norm_std[d] > 1e-8f ? spec->norm_std[d] : 1e-8f) : 1.0;
    om[d] = (float)(pm[d] + gm * p);
    os[d] = (float)(p * gs);
  }
}

int ser_train_group_input(const ser_model_spec *spec, const float *audio, size_t n, const float *group_mean,
                          const float *group_std, uint32_t min_frames, float **out, uint32_t *frames,
                          ser_error *err) {
  return ser_train_group_input_fx(spec, NULL, audio, n, group_mean, group_std, min_frames, out, frames, err);
}

int ser_train_group_input_fx(const ser_model_spec *spec, ser_mfcc *fx, const float *audio, size_t n,
                             const float *group_mean, const float *group_std, uint32_t min_frames,
                             float **out, uint32_t *frames, ser_error *err) {
  if (!group_mean || !group_std)
    return ser_train_clip_input_fx(spec, fx, audio, n, min_frames, out, frames, err);
  uint32_t dim = ser_feature_dim(&spec->feat);
  float *m = malloc(2 * (size_t)dim * sizeof(float));
  if (!m) return ser_fail(err, "clip: out of memory");
  compose_norm(spec, group_mean, group_std, m, m + dim);
  ser_model_spec grp = *spec; /* shallow: only the normalisation differs */
  grp.norm_mean = m;
  grp.norm_std = m + dim;
  int rc = ser_train_clip_input_fx(&grp, fx, audio, n, min_frames, out, frames, err);
  free(m);
  return rc;
}

int ser_train_feature_stats(const ser_model_spec *spec, const ser_clip *clips, size_t n, float *mean,
                            float *std, ser_error *err) {
  uint32_t dim = ser_feature_dim(&spec->feat);
  double *s1 = calloc(dim + 1, sizeof(double)), *s2 = calloc(dim + 1, sizeof(double));
  if (!s1 || !s2) {
    free(s1), free(s2);
    return ser_fail(err, "normalisation: out of memory");
  }
  double cnt = 0;
  for (size_t i = 0; i < n; i++) {
    const float *a = clips[i].audio;
    size_t na = clips[i].n;
    float *tmp = NULL, *f = NULL;
    size_t nf = 0;
    if (spec->arch == SER_ARCH_PAPER && spec->clip_samples) {
      tmp = calloc(spec->clip_samples, sizeof(float));
      if (!tmp) {
        free(s1), free(s2);
        return ser_fail(err, "normalisation: out of memory");
      }
      memcpy(tmp, a, (na < spec->clip_samples ? na : spec->clip_samples) * sizeof(float));
      a = tmp;
      na = spec->clip_samples;
    }
    int rc = ser_features_clip(&spec->feat, a, na, &f, &nf, err);
    free(tmp);
    if (rc < 0) {
      free(s1), free(s2);
      return -1;
    }
    const float *pm = clips[i].norm_std ? clips[i].norm_mean : NULL, *ps = clips[i].norm_std;
    for (size_t k = 0; k < nf; k++)
      for (uint32_t d = 0; d < dim; d++) {
        double v = f[k * dim + d];
        if (pm) v = (v - pm[d]) / (ps[d] > 1e-8f ? ps[d] : 1e-8f);
        s1[d] += v;
        s2[d] += v * v;
      }
    cnt += (double)nf;
    free(f);
  }
  for (uint32_t d = 0; d < dim; d++) {
    double m = cnt > 0 ? s1[d] / cnt : 0, v = cnt > 0 ? s2[d] / cnt - m * m : 1;
    mean[d] = (float)m;
    std[d] = (float)sqrt(v > 1e-12 ? v : 1e-12);
  }
  free(s1), free(s2);
  return 0;
}

int ser_train_classify(ser_tnet *t, const ser_clip *c, float *probs, ser_error *err) {
  if (!c->norm_mean || !c->norm_std) return ser_train_classify_clip(t, c->audio, c->n, probs, err);
  ser_model_spec *spec = ser_tnet_spec(t);
  uint32_t dim = ser_feature_dim(&spec->feat);
  float *m = malloc(2 * (size_t)dim * sizeof(float));
  if (!m) return ser_fail(err, "classify: out of memory");
  compose_norm(spec, c->norm_mean, c->norm_std, m, m + dim);
  float *keep_m = spec->norm_mean, *keep_s = spec->norm_std;
  spec->norm_mean = m;
  spec->norm_std = m + dim;
  int rc = ser_train_classify_clip(t, c->audio, c->n, probs, err);
  spec->norm_mean = keep_m;
  spec->norm_std = keep_s;
  free(m);
  return rc;
}

int ser_train_classify_whole_clip(ser_model_spec *spec, const ser_clip *c, float *probs, ser_error *err) {
  if (!c->norm_mean || !c->norm_std) return ser_train_classify_whole(spec, c->audio, c->n, probs, err);
  uint32_t dim = ser_feature_dim(&spec->feat);
  float *m = malloc(2 * (size_t)dim * sizeof(float));
  if (!m) return ser_fail(err, "classify: out of memory");
  compose_norm(spec, c->norm_mean, c->norm_std, m, m + dim);
  ser_model_spec grp = *spec; /* shallow: the same layers and parameters */
  grp.norm_mean = m;
  grp.norm_std = m + dim;
  int rc = ser_train_classify_whole(&grp, c->audio, c->n, probs, err);
  free(m);
  return rc;
}
