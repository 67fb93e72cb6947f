/* Perturbed copies of training clips (ser_train_options.aug_variants) and
 * their virtual voices (virtual_speakers).
 *
 * Speed and pitch perturbation are costly, so ser_train makes aug_variants
 * copies of every training clip once, alternately sped up or down and
 * pitch-shifted by random amounts, and draws training samples from them.
 * With virtual_speakers the amount of copy v is the same for every clip of a
 * speaker, and the copies v of one speaker are normalised as a voice of their
 * own: the running normaliser's statistics of what it heard of that voice
 * before each copy. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ser/spknorm.h"
#include "train_internal.h"

typedef struct copy_job {
  const ser_train_options *o;
  uint32_t sample_rate;
  const ser_clip *train;
  ser_copies *cp;
  size_t lo, hi;
  int failed;
  ser_error err;
} copy_job;

static void *make_copies(void *arg) {
  copy_job *j = arg;
  const ser_augment_config *a = &j->o->aug;
  ser_copies *cp = j->cp;
  for (size_t i = j->lo; i < j->hi && !j->failed; i++) {
    const ser_clip *c = &j->train[i];
    for (uint32_t v = 0; v < cp->n_var; v++) {
      size_t q = i * cp->n_var + v;
      ser_rng r; /* virtual speakers: the amount is the speaker's copy v's, else the clip's own */
      if (j->o->virtual_speakers)
        ser_rng_seed(&r, ser_mix64(ser_mix64(ser_mix64(j->o->seed, 0x76737063), c->group),
                                   (uint64_t)c->speaker * 64 + v));
      else ser_rng_seed(&r, ser_mix64(ser_mix64(j->o->seed, 0x7a417), i * 64 + v));
      int speed = a->p_speed > 0 && (a->p_pitch <= 0 || v % 2 == 0);
      float *out = NULL;
      size_t n = 0;
      if (speed) {
        float f = a->speed_min + (a->speed_max - a->speed_min) * ser_rng_uniform(&r);
        if (f < 0.25f) f = 0.25f;
        out = malloc(((size_t)(c->n / f) + 4) * sizeof(float));
        if (out) n = ser_aug_speed(c->audio, c->n, f, out);
        cp->lp[q] = log2f(f);
      } else {
        float st = a->pitch_min_st + (a->pitch_max_st - a->pitch_min_st) * ser_rng_uniform(&r);
        cp->lp[q] = st / 12.f;
        out = malloc((c->n + 1) * sizeof(float));
        if (out && ser_aug_pitch(c->audio, c->n, j->sample_rate, st, out, &j->err) == 0) n = c->n;
        else if (out) j->failed = 1;
      }
      if (!out) {
        ser_fail(&j->err, "training: out of memory for augmented copies");
        j->failed = 1;
      }
      cp->audio[q] = out;
      cp->n[q] = n;
    }
  }
  return NULL;
}

typedef struct vs_key {
  uint32_t group, speaker;
  size_t i;
} vs_key;

static int vs_cmp(const void *a, const void *b) {
  const vs_key *x = a, *y = b;
  if (x->group != y->group) return x->group < y->group ? -1 : 1;
  if (x->speaker != y->speaker) return x->speaker < y->speaker ? -1 : 1;
  return x->i < y->i ? -1 : x->i > y->i;
}

/* The running statistics of every copy. The copies v of the clips of one
 * speaker (speaker and group: clips of several corpora may number their
 * speakers alike) make voice v of that speaker; a normaliser starts from the
 * prior and hears the voice's copies in a random order (fixed by seed,
 * speaker and v), each copy taking the statistics of what was heard before
 * it, as the clips' own running statistics are made (ser train). */
static int virtual_norm(const ser_model_spec *spec, const ser_train_options *o, const ser_clip *train, size_t n,
                        ser_copies *cp, ser_error *err) {
  uint32_t dim = ser_feature_dim(&spec->feat);
  cp->norm = malloc((n * cp->n_var * 2 * dim + 1) * sizeof(float));
  vs_key *all = malloc((n + 1) * sizeof *all);
  size_t *ord = malloc((n + 1) * sizeof *ord);
  ser_mfcc *m = ser_mfcc_new(&spec->feat, err);
  ser_spknorm *sn = m ? ser_spknorm_new(dim, (double)spec->feat.sample_rate / spec->feat.hop_length,
                                        o->vs_prior_mean, o->vs_prior_std, &o->vs_spk, err)
                      : NULL;
  int rc = -1;
  if (!cp->norm || !all || !ord) ser_fail(err, "training: out of memory");
  if (!cp->norm || !all || !ord || !sn) goto out;
  for (size_t i = 0; i < n; i++) all[i] = (vs_key){train[i].group, train[i].speaker, i};
  qsort(all, n, sizeof *all, vs_cmp);
  for (size_t a = 0, b; a < n; a = b) {
    const ser_clip *c = &train[all[a].i];
    for (b = a; b < n && all[b].group == c->group && all[b].speaker == c->speaker; b++) {}
    size_t k = b - a;
    for (uint32_t v = 0; v < cp->n_var; v++) {
      for (size_t i = 0; i < k; i++) ord[i] = all[a + i].i;
      ser_rng r;
      ser_rng_seed(&r, ser_mix64(ser_mix64(ser_mix64(o->seed, 0x766e6f72), c->group), (uint64_t)c->speaker * 64 + v));
      for (size_t i = 0; i + 1 < k; i++) {
        size_t j = i + ser_rng_below(&r, (uint32_t)(k - i));
        size_t t = ord[i];
        ord[i] = ord[j];
        ord[j] = t;
      }
      ser_spknorm_reset(sn);
      for (size_t i = 0; i < k; i++) {
        size_t q = ord[i] * cp->n_var + v;
        ser_spknorm_stats(sn, cp->norm + q * 2 * dim, cp->norm + q * 2 * dim + dim);
        if (cp->audio[q] && cp->n[q]) ser_spknorm_feed_clip(sn, m, cp->audio[q], cp->n[q]);
      }
    }
  }
  rc = 0;
out:
  ser_spknorm_free(sn);
  ser_mfcc_free(m);
  free(all), free(ord);
  return rc;
}

int ser_train_copies(const ser_model_spec *spec, const ser_train_options *o, const ser_clip *train, size_t n,
                     uint32_t threads, ser_copies *cp, ser_error *err) {
  memset(cp, 0, sizeof *cp);
  if (!o->aug_variants || (o->aug.p_speed <= 0 && o->aug.p_pitch <= 0)) return 0;
  cp->n_var = o->aug_variants > 16 ? 16 : o->aug_variants;
  cp->n_total = n * cp->n_var;
  cp->audio = calloc(cp->n_total + 1, sizeof(float *));
  cp->n = calloc(cp->n_total + 1, sizeof(size_t));
  cp->lp = calloc(cp->n_total + 1, sizeof(float));
  if (!cp->audio || !cp->n || !cp->lp) {
    ser_copies_free(cp);
    return ser_fail(err, "training: out of memory");
  }
  if (threads < 1) threads = 1;
  if (threads > 64) threads = 64;
  copy_job jobs[64];
  pthread_t th[64];
  int started[64] = {0};
  for (uint32_t t = 0; t < threads; t++) {
    jobs[t] = (copy_job){o, spec->feat.sample_rate, train, cp, n * t / threads, n * (t + 1) / threads, 0, {{0}}};
    if (t > 0) started[t] = pthread_create(&th[t], NULL, make_copies, &jobs[t]) == 0;
  }
  make_copies(&jobs[0]);
  for (uint32_t t = 1; t < threads; t++) {
    if (started[t]) pthread_join(th[t], NULL);
    else make_copies(&jobs[t]);
  }
  for (uint32_t t = 0; t < threads; t++)
    if (jobs[t].failed) {
      ser_fail(err, "%s", jobs[t].err.msg);
      ser_copies_free(cp);
      return -1;
    }
  if (o->virtual_speakers && virtual_norm(spec, o, train, n, cp, err) < 0) {
    ser_copies_free(cp);
    return -1;
  }
  return 0;
}

void ser_copies_free(ser_copies *cp) {
  if (cp->audio)
    for (size_t i = 0; i < cp->n_total; i++) free(cp->audio[i]);
  free(cp->audio), free(cp->n), free(cp->lp), free(cp->norm);
  memset(cp, 0, sizeof *cp);
}
