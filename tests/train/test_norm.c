/* Speaker and utterance normalisation (ser eval/train --norm) on real speech
 * (EMO-DB, read directly from its WAV files):
 *  1. speaker statistics are those of the speaker's features: speaker 10's
 *     clips at twice the amplitude (+6.02 dB in every mel band) have the same
 *     standard deviations and a mean that differs only in c0, by
 *     6.02 * sqrt(n_mels);
 *  2. the global statistics of speaker-normalised training clips are ~0/1;
 *  3. the network inputs of every speaker (ser_train_group_input, the
 *     function the training loop makes every training input with) have
 *     per-coefficient mean ~0 and std ~1 for EACH speaker, and the inputs of
 *     a clip and its louder copy are equal (but for frames of digital
 *     silence, which stay at the floor); with plain global normalisation
 *     they are not; utterance statistics: every clip's inputs have mean ~0;
 *  4. a small model trained with speaker statistics (default augmentation:
 *     noise, gain, speed/pitch copies, SpecAugment, all normalised with the
 *     clip's speaker's statistics) is above chance on 2 unseen speakers
 *     normalised with their own statistics, and its posteriors do not change
 *     when a test speaker is twice as loud; ser_train_classify leaves the
 *     spec's statistics as they were.
 * Sizes shrink under sanitizers. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ser.h"
#include "train_internal.h"
#include "wav.h"

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

static int failures;
#define CHECK(c, ...)                                                          \
  do {                                                                         \
    if (!(c)) {                                                                \
      printf("FAIL: " __VA_ARGS__);                                            \
      printf("\n");                                                            \
      failures++;                                                              \
    }                                                                          \
  } while (0)

static const char *labels[] = {"neutral", "happy", "sad", "angry"};

typedef struct set {
  ser_clip *c;
  float **a;
  size_t n;
} set;

static void set_free(set *s) {
  for (size_t i = 0; i < s->n; i++) free(s->a[i]);
  free(s->a);
  free(s->c);
  memset(s, 0, sizeof *s);
}

static float *read_wav(const char *path, size_t *n) {
  ser_wav w;
  char msg[512];
  if (ser_wav_open(&w, path, msg, sizeof msg) != 1) return NULL;
  float *x = w.rate == 16000 ? malloc((w.frames + 1) * sizeof(float)) : NULL;
  *n = x ? ser_wav_read(&w, x, w.frames) : 0;
  ser_wav_close(&w);
  return x;
}

/* Clips of the speakers, speaker index = position in spk; gain scales the
 * audio. At most max_per clips per speaker (0: all). */
static int load(const char *root, const char *const *spk, int nspk, float gain, size_t max_per, set *s) {
  ser_corpus c;
  ser_error err;
  char dir[4096];
  snprintf(dir, sizeof dir, "%s/emodb/wav", root);
  if (ser_corpus_scan_dir(dir, &c, &err) < 0) {
    printf("cannot scan %s: %s\n", dir, err.msg);
    return -1;
  }
  s->c = calloc(c.n + 1, sizeof *s->c);
  s->a = calloc(c.n + 1, sizeof *s->a);
  s->n = 0;
  size_t per[16] = {0};
  for (size_t i = 0; i < c.n; i++) {
    int k = -1;
    for (int q = 0; q < nspk; q++)
      if (!strcmp(c.items[i].speaker, spk[q])) k = q;
    int li = ser_label_map(c.items[i].label, labels, 4);
    if (k < 0 || li < 0 || (max_per && per[k] >= max_per)) continue;
    size_t n = 0;
    float *x = read_wav(c.items[i].path, &n);
    if (!x || n == 0) {
      printf("cannot read %s\n", c.items[i].path);
      free(x);
      continue;
    }
    size_t s0, len;
    ser_train_trim(x, n, 16000, 40, &s0, &len); /* as ser train/eval do */
    memmove(x, x + s0, len * sizeof(float));
    for (size_t j = 0; j < len; j++) x[j] *= gain;
    per[k]++;
    s->a[s->n] = x;
    s->c[s->n].audio = x;
    s->c[s->n].n = len;
    s->c[s->n].label = (uint32_t)li;
    s->c[s->n].speaker = (uint32_t)k;
    s->n++;
  }
  ser_corpus_free(&c);
  return 0;
}

/* Per-speaker statistics of set s (speakers 0..nspk-1) into st (nspk x 2 x
 * dim) and the clips' pointers at them. */
static int speaker_stats(const ser_model_spec *spec, set *s, int nspk, float *st) {
  uint32_t dim = ser_feature_dim(&spec->feat);
  ser_clip *sel = malloc((s->n + 1) * sizeof *sel);
  ser_error err;
  for (int k = 0; k < nspk; k++) {
    size_t m = 0;
    for (size_t i = 0; i < s->n; i++)
      if (s->c[i].speaker == (uint32_t)k) {
        sel[m] = s->c[i];
        sel[m].norm_mean = sel[m].norm_std = NULL;
        m++;
      }
    if (ser_train_feature_stats(spec, sel, m, st + (size_t)k * 2 * dim, st + (size_t)k * 2 * dim + dim, &err) < 0) {
      printf("stats: %s\n", err.msg);
      free(sel);
      return -1;
    }
  }
  free(sel);
  for (size_t i = 0; i < s->n; i++) {
    s->c[i].norm_mean = st + (size_t)s->c[i].speaker * 2 * dim;
    s->c[i].norm_std = s->c[i].norm_mean + dim;
  }
  return 0;
}

/* Mean and std per coefficient of the network inputs of clips (all frames),
 * each with its group statistics; worst |mean| and |std - 1|. */
static int input_moments(const ser_model_spec *spec, const ser_clip *c, size_t n, int use_group,
                         double *worst_mean, double *worst_std) {
  uint32_t dim = ser_feature_dim(&spec->feat);
  double *s1 = calloc(dim, sizeof(double)), *s2 = calloc(dim, sizeof(double)), cnt = 0;
  ser_error err;
  for (size_t i = 0; i < n; i++) {
    float *x = NULL;
    uint32_t nf = 0;
    if (ser_train_group_input(spec, c[i].audio, c[i].n, use_group ? c[i].norm_mean : NULL,
                              use_group ? c[i].norm_std : NULL, 0, &x, &nf, &err) < 0) {
      printf("input: %s\n", err.msg);
      free(s1), free(s2);
      return -1;
    }
    for (size_t k = 0; k < nf; k++)
      for (uint32_t d = 0; d < dim; d++) {
        s1[d] += x[k * dim + d];
        s2[d] += (double)x[k * dim + d] * x[k * dim + d];
      }
    cnt += nf;
    free(x);
  }
  *worst_mean = *worst_std = 0;
  for (uint32_t d = 0; d < dim; d++) {
    double m = s1[d] / cnt, sd = sqrt(fmax(s2[d] / cnt - m * m, 0));
    *worst_mean = fmax(*worst_mean, fabs(m));
    *worst_std = fmax(*worst_std, fabs(sd - 1));
  }
  free(s1), free(s2);
  return 0;
}

static int build(ser_model_spec *spec, int tiny) {
  ser_arch_config a;
  ser_arch_config_default(&a, SER_ARCH_TEMPORAL);
  a.n_channels = 3;
  a.channels[0] = tiny ? 8 : 16;
  a.channels[1] = tiny ? 16 : 32;
  a.channels[2] = tiny ? 16 : 32;
  a.cbam_from = 1;
  a.reduction = 4;
  a.window_s = 1.5f;
  ser_feature_params fp;
  ser_feature_params_default(&fp);
  fp.n_mfcc = 20;
  fp.n_mels = 40;
  ser_error err;
  if (ser_arch_build(&a, &fp, labels, 4, 11, spec, &err) < 0) {
    printf("build: %s\n", err.msg);
    return -1;
  }
  return 0;
}

/* The spec's statistics := global statistics of the (group-normalised) clips. */
static int set_global(ser_model_spec *spec, const set *s, float *mean_out, float *std_out) {
  uint32_t dim = ser_feature_dim(&spec->feat);
  ser_error err;
  free(spec->norm_mean);
  free(spec->norm_std);
  spec->norm_mean = malloc(dim * sizeof(float));
  spec->norm_std = malloc(dim * sizeof(float));
  if (ser_train_feature_stats(spec, s->c, s->n, spec->norm_mean, spec->norm_std, &err) < 0) {
    printf("global stats: %s\n", err.msg);
    return -1;
  }
  if (mean_out) memcpy(mean_out, spec->norm_mean, dim * sizeof(float));
  if (std_out) memcpy(std_out, spec->norm_std, dim * sizeof(float));
  return 0;
}

static int cmp_f(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

/* Median log pitch (column dim-2) over the frames with voicing >= 0.5. */
static int median_log_pitch(const ser_feature_params *fp, const float *x, size_t n, float *med) {
  float *f = NULL;
  size_t nf = 0;
  ser_error err;
  if (ser_features_clip(fp, x, n, &f, &nf, &err) < 0) return -1;
  uint32_t dim = ser_feature_dim(fp);
  float *v = malloc((nf + 1) * sizeof(float));
  size_t k = 0;
  for (size_t t = 0; v && t < nf; t++)
    if (f[t * dim + dim - 1] >= 0.5f) v[k++] = f[t * dim + dim - 2];
  int rc = k >= 20 ? 0 : -1;
  if (rc == 0) {
    qsort(v, k, sizeof(float), cmp_f);
    *med = v[k / 2];
  }
  free(v), free(f);
  return rc;
}

/* The premise of --aug-pitch-norm: a copy made faster by f has its log pitch
 * moved by log2(f), one moved by s semitones by s/12 (what the training loop
 * adds to the copy's speaker mean so its pitch relative to the voice stays). */
static void check_copy_pitch_shift(const set *s) {
  ser_feature_params fp;
  ser_feature_params_default(&fp);
  fp.pitch = 1;
  const float speeds[2] = {0.9f, 1.1f}, semis[2] = {-2.f, 2.f};
  double sum[4] = {0};
  int cnt[4] = {0};
  for (size_t i = 0; i < s->n && i < 24; i++) {
    const ser_clip *c = &s->c[i];
    float m0;
    if (median_log_pitch(&fp, c->audio, c->n, &m0) < 0) continue;
    float *y = malloc(((size_t)(c->n / 0.9f) + 8) * sizeof(float));
    for (int k = 0; y && k < 4; k++) {
      size_t ny = c->n;
      ser_error err;
      if (k < 2) ny = ser_aug_speed(c->audio, c->n, speeds[k], y);
      else if (ser_aug_pitch(c->audio, c->n, 16000, semis[k - 2], y, &err) < 0) continue;
      float m1;
      if (median_log_pitch(&fp, y, ny, &m1) < 0) continue;
      sum[k] += m1 - m0;
      cnt[k]++;
    }
    free(y);
  }
  const double want[4] = {log2(0.9), log2(1.1), -2.0 / 12, 2.0 / 12};
  const char *what[4] = {"speed 0.9", "speed 1.1", "pitch -2 st", "pitch +2 st"};
  for (int k = 0; k < 4; k++) {
    double got = cnt[k] ? sum[k] / cnt[k] : NAN;
    CHECK(cnt[k] >= 10 && fabs(got - want[k]) < 0.025, "%s: log pitch moved by %.4f over %d clips, wanted %.4f",
          what[k], got, cnt[k], want[k]);
    printf("%s: median log2 pitch moved by %+.4f (%d clips), log2 factor %+.4f\n", what[k], got, cnt[k], want[k]);
  }
}

/* --virtual-speakers (ser_train_copies): copy v of every clip of a speaker is
 * sped up by one factor, the speaker's v-th, and the copies v of a speaker are
 * a voice with running statistics of its own: the first copy heard has the
 * prior, each later one what the normaliser heard of the voice before it, so
 * the last one's log-pitch mean is the voice's (the speaker's moved by log2 of
 * the factor). Clips of another corpus (group) with the same speaker number
 * are another speaker. Without virtual speakers, factors are per clip and
 * there are no copy statistics. */
static void check_virtual_speakers(const set *s) {
  ser_model_spec spec;
  memset(&spec, 0, sizeof spec);
  ser_feature_params_default(&spec.feat);
  spec.feat.pitch = 1;
  uint32_t dim = ser_feature_dim(&spec.feat);
  size_t n = s->n * 2;
  ser_clip *c = malloc(n * sizeof *c); /* s's clips, then the same audio as corpus 1 with speakers swapped */
  for (size_t i = 0; i < s->n; i++) {
    c[i] = s->c[i];
    c[i].group = 0;
    c[s->n + i] = s->c[i];
    c[s->n + i].group = 1;
    c[s->n + i].speaker = 1 - s->c[i].speaker;
  }
  float prior[2 * 64];
  for (uint32_t d = 0; d < dim; d++) prior[d] = 0, prior[dim + d] = 1;
  prior[0] = 1000; /* no real voice is here: the first copy of a voice must show it */
  ser_train_options o;
  ser_train_options_default(&o);
  o.aug.p_speed = 0.6f, o.aug.speed_min = 0.85f, o.aug.speed_max = 1.15f, o.aug.p_pitch = 0;
  o.aug_variants = 3;
  o.virtual_speakers = 1;
  o.vs_prior_mean = prior, o.vs_prior_std = prior + dim;
  o.vs_spk.memory_s = 0; /* no forgetting: the order the voice is heard in does not matter */
  ser_copies cp;
  ser_error err;
  if (ser_train_copies(&spec, &o, c, n, 2, &cp, &err) < 0) {
    CHECK(0, "ser_train_copies: %s", err.msg);
    free(c);
    return;
  }
  CHECK(cp.n_var == 3 && cp.norm, "virtual speakers: %u copies per clip, statistics %s", cp.n_var,
        cp.norm ? "made" : "missing");
  int per_speaker = 1, distinct = 1, firsts_ok = 1;
  double worst = 0;
  for (uint32_t g = 0; cp.norm && g < 2; g++)
    for (uint32_t k = 0; k < 2; k++)
      for (uint32_t v = 0; v < cp.n_var; v++) {
        size_t first = SIZE_MAX, last = SIZE_MAX, nfirst = 0;
        float lp = NAN;
        for (size_t i = 0; i < n; i++) {
          if (c[i].group != g || c[i].speaker != k) continue;
          size_t q = i * cp.n_var + v;
          if (isnan(lp)) lp = cp.lp[q];
          per_speaker &= cp.lp[q] == lp && cp.n[q] > 0;
          const float *st = cp.norm + q * 2 * dim;
          if (st[0] == 1000.f) nfirst++, first = i;
          /* the copy heard last has the most speech behind it: its c0 mean is furthest below the prior's */
          if (last == SIZE_MAX || st[0] < cp.norm[(last * cp.n_var + v) * 2 * dim]) last = i;
        }
        firsts_ok &= nfirst == 1 && first != SIZE_MAX;
        /* the other speaker of this corpus, and this speaker's voice in the other corpus, got other factors */
        for (size_t i = 0; i < n; i++)
          if ((c[i].group == g) != (c[i].speaker == k) && cp.lp[i * cp.n_var + v] == lp) distinct = 0;
        /* the last copy's statistics: those of all the voice's other copies (no forgetting: in any order) */
        ser_spknorm_params p;
        ser_spknorm_params_default(&p);
        p.memory_s = 0;
        ser_mfcc *m = ser_mfcc_new(&spec.feat, &err);
        ser_spknorm *sn = m ? ser_spknorm_new(dim, 100.0, prior, prior + dim, &p, &err) : NULL;
        for (size_t i = 0; sn && i < n; i++)
          if (c[i].group == g && c[i].speaker == k && i != last)
            ser_spknorm_feed_clip(sn, m, cp.audio[i * cp.n_var + v], cp.n[i * cp.n_var + v]);
        float want[2 * 64];
        if (sn) ser_spknorm_stats(sn, want, want + dim);
        ser_spknorm_free(sn);
        ser_mfcc_free(m);
        const float *got = cp.norm + (last * cp.n_var + v) * 2 * dim;
        for (uint32_t d = 0; d < 2 * dim; d++) worst = fmax(worst, fabs(got[d] - want[d]) / fmax(1, fabs(want[d])));
        if (g == 0 && k == 0)
          printf("virtual voice %u of speaker 03: factor %.3f, log2 pitch mean %+.3f (the copy heard last)\n", v,
                 exp2(lp), got[dim - 2]);
      }
  CHECK(per_speaker, "virtual speakers: a speaker's copies v do not share one speed factor");
  CHECK(distinct, "virtual speakers: two speakers (or one speaker number in two corpora) share a factor");
  CHECK(firsts_ok, "virtual speakers: not exactly one copy per voice normalised with the prior alone");
  CHECK(worst < 1e-4, "virtual speakers: the last copy of a voice is not normalised with the statistics of the "
        "voice's other copies (relative difference %.2e)", worst);
  printf("virtual speakers: the last copy of every voice has the statistics of the voice's other copies "
         "(relative difference <= %.1e)\n", worst);
  ser_copies_free(&cp);
  /* without: factors per clip, no statistics */
  o.virtual_speakers = 0;
  if (ser_train_copies(&spec, &o, c, n, 1, &cp, &err) == 0) {
    int same = 1;
    for (size_t i = 1; i < s->n; i++)
      if (c[i].speaker == c[0].speaker && cp.lp[i * cp.n_var] != cp.lp[0]) same = 0;
    CHECK(!cp.norm && !same, "without virtual speakers: %s, %s", cp.norm ? "copy statistics made" : "no statistics",
          same ? "one factor for a whole speaker" : "factors per clip");
    ser_copies_free(&cp);
  } else CHECK(0, "ser_train_copies: %s", err.msg);
  free(c);
}

int main(void) {
  const char *root = getenv("SER_DATASETS");
  if (!root) {
    printf("SER_DATASETS not set\n");
    return 1;
  }
  int tiny = SANITIZED || getenv("SER_TRAIN_TINY") != NULL;
  ser_error err;
  ser_model_spec spec;
  if (build(&spec, tiny) < 0) return 1;
  uint32_t dim = ser_feature_dim(&spec.feat);

  /* 1. statistics: speakers 03, 10 and "10 louder" (speaker 10 at gain 2) */
  const char *sp3[] = {"emodb:03", "emodb:10"};
  set base, loud;
  if (load(root, sp3, 2, 1.f, 0, &base) < 0 || load(root, sp3 + 1, 1, 2.f, 0, &loud) < 0) return 1;
  CHECK(base.n > 40 && loud.n > 15, "expected EMO-DB clips, got %zu / %zu", base.n, loud.n);
  for (size_t i = 0; i < loud.n; i++) loud.c[i].speaker = 2;
  set all = {calloc(base.n + loud.n, sizeof(ser_clip)), NULL, base.n + loud.n};
  memcpy(all.c, base.c, base.n * sizeof(ser_clip));
  memcpy(all.c + base.n, loud.c, loud.n * sizeof(ser_clip));
  float *st = calloc(3 * 2 * dim, sizeof(float));
  if (speaker_stats(&spec, &all, 3, st) < 0) return 1;
  const float *m10 = st + 1 * 2 * dim, *m10x2 = st + 2 * 2 * dim;
  double c0_shift = m10x2[0] - m10[0], want = 20 * log10(2.0) * sqrt((double)spec.feat.n_mels);
  double worst_other = 0, worst_std = 0;
  for (uint32_t d = 0; d < dim; d++) {
    if (d) worst_other = fmax(worst_other, fabs(m10x2[d] - m10[d]));
    worst_std = fmax(worst_std, fabs(m10x2[dim + d] / m10[dim + d] - 1));
  }
  printf("speaker 10 twice as loud: c0 mean %+.3f (expected %+.3f), other means differ by <= %.2e, stds by <= %.2e "
         "(relative)\n", c0_shift, want, worst_other, worst_std);
  /* frames of digital silence stay at the floor (1e-10, -100 dB) in both: a little less than the full shift */
  CHECK(fabs(c0_shift - want) < 0.2, "c0 shift %.4f, wanted %.4f", c0_shift, want);
  CHECK(worst_other < 0.01 && worst_std < 0.02, "louder copy changed other statistics");
  double d03 = 0;
  for (uint32_t d = 0; d < dim; d++) d03 = fmax(d03, fabs(st[d] - m10[d]));
  CHECK(d03 > 1, "speakers 03 and 10 have nearly the same statistics (%.3f): not per speaker", d03);

  /* 2. global statistics of speaker-normalised clips ~ 0 / 1 */
  float *gm = malloc(dim * sizeof(float)), *gs = malloc(dim * sizeof(float));
  if (set_global(&spec, &all, gm, gs) < 0) return 1;
  double wm = 0, ws = 0;
  for (uint32_t d = 0; d < dim; d++) {
    wm = fmax(wm, fabs(gm[d]));
    ws = fmax(ws, fabs(gs[d] - 1));
  }
  printf("global statistics of speaker-normalised frames: |mean| <= %.2e, |std - 1| <= %.2e\n", wm, ws);
  CHECK(wm < 1e-3 && ws < 1e-3, "global statistics of speaker-normalised features are not 0/1");

  /* 3. network inputs per speaker */
  for (uint32_t k = 0; k < 3; k++) {
    size_t m = 0;
    ser_clip *sel = malloc(all.n * sizeof *sel);
    for (size_t i = 0; i < all.n; i++)
      if (all.c[i].speaker == k) sel[m++] = all.c[i];
    double a = 0, b = 0;
    if (input_moments(&spec, sel, m, 1, &a, &b) < 0) return 1;
    printf("speaker %s: %zu clips, network inputs |mean| <= %.2e, |std - 1| <= %.2e\n",
           k == 0 ? "03" : k == 1 ? "10" : "10 x2", m, a, b);
    CHECK(a < 1e-3 && b < 1e-3, "speaker %u: inputs not normalised per speaker", k);
    free(sel);
  }
  /* a clip and its louder copy give the same inputs (speaker statistics) */
  double dmax = 0, dglob = 0, cnt = 0; /* mean |difference| of c0 */
  ser_model_spec plain;
  if (build(&plain, tiny) < 0) return 1;
  if (ser_train_norm_stats(&plain, all.c, all.n, &err) < 0) return 1; /* today's global statistics */
  for (size_t i = 0; i < loud.n; i += 3) {
    const ser_clip *q = &all.c[base.n + i], *p = NULL;
    for (size_t j = 0; j < base.n; j++)
      if (base.c[j].speaker == 1 && base.c[j].n == q->n && base.c[j].label == q->label) {
        /* the same recording: loud is base scaled by 2 */
        int same = 1;
        for (size_t t = 0; t < q->n && same; t += 997) same = base.c[j].audio[t] * 2 == q->audio[t];
        if (same) p = &all.c[j];
      }
    if (!p) continue;
    float *xa = NULL, *xb = NULL, *ga = NULL, *gb = NULL;
    uint32_t na = 0, nb = 0, nga = 0, ngb = 0;
    ser_train_group_input(&spec, p->audio, p->n, p->norm_mean, p->norm_std, 0, &xa, &na, &err);
    ser_train_group_input(&spec, q->audio, q->n, q->norm_mean, q->norm_std, 0, &xb, &nb, &err);
    ser_train_group_input(&plain, p->audio, p->n, NULL, NULL, 0, &ga, &nga, &err);
    ser_train_group_input(&plain, q->audio, q->n, NULL, NULL, 0, &gb, &ngb, &err);
    CHECK(xa && xb && na == nb && ga && gb && nga == ngb, "inputs of the louder copy");
    if (xa && xb && na == nb && ga && gb && nga == ngb)
      for (size_t t = 0; t < na; t++) {
        dmax += fabs(xa[t * dim] - xb[t * dim]);
        dglob += fabs(ga[t * dim] - gb[t * dim]);
        cnt++;
      }
    free(xa), free(xb), free(ga), free(gb);
  }
  dmax /= cnt > 0 ? cnt : 1;
  dglob /= cnt > 0 ? cnt : 1;
  printf("clip vs twice as loud (%.0f frames): c0 inputs differ by %.2e on average with speaker statistics, %.2f with "
         "global ones\n", cnt, dmax, dglob);
  CHECK(cnt > 1000, "no louder copies matched");
  CHECK(dmax < 1e-2, "speaker normalisation does not remove a speaker's level (%.3g)", dmax);
  CHECK(dglob > 0.2, "global normalisation should keep the level difference (%.3g)", dglob);
  ser_model_spec_clear(&plain);
  /* utterance statistics: every clip's own inputs have mean ~0 */
  {
    float *us = malloc(2 * dim * sizeof(float));
    double worst = 0;
    ser_model_spec us_spec;
    build(&us_spec, tiny); /* no stored statistics: the group's alone */
    for (size_t i = 0; i < base.n; i += 5) {
      ser_clip one = base.c[i];
      one.norm_mean = one.norm_std = NULL;
      CHECK(ser_train_feature_stats(&us_spec, &one, 1, us, us + dim, &err) == 0, "utterance stats: %s", err.msg);
      one.norm_mean = us;
      one.norm_std = us + dim;
      double a = 0, b = 0;
      input_moments(&us_spec, &one, 1, 1, &a, &b);
      worst = fmax(worst, fmax(a, b));
    }
    printf("utterance statistics: every clip's inputs |mean|, |std - 1| <= %.2e\n", worst);
    CHECK(worst < 1e-3, "utterance normalisation: %.3g", worst);
    ser_model_spec_clear(&us_spec);
    free(us);
  }
  free(gm), free(gs);
  free(all.c);

  /* 4. training with speaker statistics */
  const char *trs[] = {"emodb:03", "emodb:08", "emodb:09", "emodb:10", "emodb:11", "emodb:12"};
  const char *tes[] = {"emodb:13", "emodb:14"};
  set tr, te, tel;
  if (load(root, trs, 6, 1.f, 0, &tr) < 0 || load(root, tes, 2, 1.f, 0, &te) < 0 ||
      load(root, tes, 2, 2.f, 0, &tel) < 0)
    return 1;
  float *tst = calloc(6 * 2 * dim, sizeof(float)), *est = calloc(2 * 2 * dim, sizeof(float)),
        *elst = calloc(2 * 2 * dim, sizeof(float));
  if (speaker_stats(&spec, &tr, 6, tst) < 0 || speaker_stats(&spec, &te, 2, est) < 0 ||
      speaker_stats(&spec, &tel, 2, elst) < 0)
    return 1;
  ser_model_spec_clear(&spec);
  if (build(&spec, tiny) < 0 || set_global(&spec, &tr, NULL, NULL) < 0) return 1;
  ser_train_options o;
  ser_train_options_default(&o);
  o.epochs = tiny ? 8 : 10;
  o.batch = 16;
  o.lr = 3e-3f;
  o.warmup_epochs = 1;
  o.threads = 2;
  o.seed = 7;
  o.aug.p_shift = 0;
  ser_train_result res;
  CHECK(ser_train(&spec, tr.c, tr.n, NULL, 0, &o, &res, &err) == 0, "train: %s", err.msg);
  ser_tnet *ev = ser_tnet_new(&spec, 1, spec.in_len, &err);
  const float *keep_m = spec.norm_mean, *keep_s = spec.norm_std;
  uint32_t tot[4] = {0}, ok[4] = {0};
  double pdiff = 0, wdiff = 0;
  for (size_t i = 0; ev && i < te.n; i++) {
    float p[4], pl[4], w[4], wl[4];
    if (ser_train_classify(ev, &te.c[i], p, &err) < 0 || ser_train_classify(ev, &tel.c[i], pl, &err) < 0) {
      CHECK(0, "classify: %s", err.msg);
      break;
    }
    if (i % 8 == 0) {
      CHECK(ser_train_classify_whole_clip(&spec, &te.c[i], w, &err) == 0, "whole: %s", err.msg);
      CHECK(ser_train_classify_whole_clip(&spec, &tel.c[i], wl, &err) == 0, "whole: %s", err.msg);
      for (int k = 0; k < 4; k++) wdiff = fmax(wdiff, fabs((double)w[k] - wl[k]));
    }
    uint32_t am = 0;
    for (uint32_t k = 0; k < 4; k++) {
      if (p[k] > p[am]) am = k;
      pdiff = fmax(pdiff, fabs((double)p[k] - pl[k]));
    }
    tot[te.c[i].label]++;
    ok[te.c[i].label] += am == te.c[i].label;
  }
  CHECK(spec.norm_mean == keep_m && spec.norm_std == keep_s, "ser_train_classify did not restore the statistics");
  double ua = 0;
  for (int k = 0; k < 4; k++) ua += tot[k] ? (double)ok[k] / tot[k] / 4 : 0;
  printf("trained with speaker statistics (%zu clips, %u epochs, %.1f s): unseen speakers 13, 14 normalised with "
         "their own statistics: UA %.1f%% (chance 25%%); twice as loud: posteriors differ by <= %.1e (windows), "
         "%.1e (whole)\n", tr.n, res.epochs_run, res.seconds, 100 * ua, pdiff, wdiff);
  CHECK(ua >= 0.375, "UA %.3f below 1.5 x chance", ua);
  CHECK(pdiff < 1e-2 && wdiff < 1e-2, "posteriors depend on the test speaker's level");
  ser_tnet_free(ev);
  ser_model_spec_clear(&spec);
  free(st), free(tst), free(est), free(elst);
  check_copy_pitch_shift(&base);
  check_virtual_speakers(&base);
  set_free(&base), set_free(&loud), set_free(&tr), set_free(&te), set_free(&tel);
  printf("%s\n", failures ? "FAILED" : "all normalisation tests passed");
  return failures ? 1 : 0;
}
