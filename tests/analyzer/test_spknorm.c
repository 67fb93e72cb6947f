/* The running speaker normaliser (ser/spknorm.h), its model section (SPKN)
 * and the analyzer applying it, on real EMO-DB speech.
 * usage: test_spknorm stats|prior|memory|gate|format|analyzer */
#include <math.h>

#include "common.h"

#define DIM_MAX 64
/* the default model's features (set in main): 40 MFCC, plus 2 pitch columns
 * when the model has them */
static ser_feature_params FP;
static int DIM;
#define FPS 100.0

typedef struct {
  float *f, *e;
  size_t n, cap;
} frames;

static void grab(void *user, const float *f, float energy_db) {
  frames *fr = user;
  if (fr->n == fr->cap) {
    fr->cap = fr->cap ? 2 * fr->cap : 1024;
    fr->f = realloc(fr->f, fr->cap * DIM * sizeof(float));
    fr->e = realloc(fr->e, fr->cap * sizeof(float));
    CHECK(fr->f && fr->e);
  }
  memcpy(fr->f + fr->n * DIM, f, DIM * sizeof(float));
  fr->e[fr->n++] = energy_db;
}

/* Raw MFCC frames and energies of a concatenation of EMO-DB clips. */
static frames clip_frames(const char *const *names, size_t k) {
  float *x = NULL;
  size_t n = 0;
  for (size_t i = 0; i < k; i++) append_clip(names[i], &x, &n);
  ser_feature_params p;
  p = FP;
  ser_error e;
  ser_mfcc *m = ser_mfcc_new(&p, &e);
  CHECK(m);
  frames fr = {0};
  ser_mfcc_push(m, x, n, grab, &fr);
  ser_mfcc_flush(m, grab, &fr);
  ser_mfcc_free(m);
  free(x);
  CHECK(fr.n > 100);
  return fr;
}

static const char *const SPK03[] = {"wav/03a01Fa.wav", "wav/03a01Nc.wav", "wav/03a01Wa.wav", "wav/03a02Fc.wav"};
static const char *const SPK12[] = {"wav/12a01Nb.wav", "wav/12a02Ac.wav", "wav/12a01Fb.wav", "wav/12a01Lb.wav"};

/* Reference statistics in double: frames with energy >= gate, weighted by
 * lambda^(age) with a prior of weight w0. */
static void reference(const frames *fr, size_t upto, double gate, double lambda, double w0, const float *pm,
                      const float *ps, double *mean, double *sd) {
  for (int d = 0; d < DIM; d++) {
    double w = 0, s1 = 0, s2 = 0;
    for (size_t t = 0; t < upto; t++) {
      if (!(fr->e[t] >= gate)) continue;
      double x = fr->f[t * DIM + d];
      w = lambda * w + 1;
      s1 = lambda * s1 + x;
      s2 = lambda * s2 + x * x;
    }
    if (pm) {
      s1 += w0 * pm[d];
      s2 += w0 * ((double)ps[d] * ps[d] + (double)pm[d] * pm[d]);
      w += w0;
    }
    mean[d] = w > 0 ? s1 / w : 0;
    double v = w > 0 ? s2 / w - mean[d] * mean[d] : 1;
    sd[d] = sqrt(v > 1e-6 ? v : 1e-6);
  }
}

static double max_rel(const float *m, const float *s, const double *rm, const double *rs) {
  double worst = 0;
  for (int d = 0; d < DIM; d++) {
    double a = fabs(m[d] - rm[d]) / (rs[d] + 1e-3), b = fabs(s[d] - rs[d]) / (rs[d] + 1e-3);
    if (a > worst) worst = a;
    if (b > worst) worst = b;
  }
  return worst;
}

static ser_spknorm *make(const float *pm, const float *ps, float memory, float prior, float gate) {
  ser_spknorm_params p = {memory, prior, gate};
  ser_error e;
  ser_spknorm *s = ser_spknorm_new(DIM, FPS, pm, ps, &p, &e);
  if (!s) fprintf(stderr, "ser_spknorm_new: %s\n", e.msg);
  CHECK(s);
  return s;
}

/* No prior, no forgetting: the gated mean/std of all frames so far, and each
 * frame is normalised with the statistics before it. */
static void t_stats(void) {
  frames fr = clip_frames(SPK03, 4);
  ser_spknorm *s = make(NULL, NULL, 0, 0, -50);
  float m[DIM_MAX], sd[DIM_MAX], out[DIM_MAX];
  double rm[DIM_MAX], rs[DIM_MAX];
  size_t counted = 0;
  for (size_t t = 0; t < fr.n; t++) {
    ser_spknorm_stats(s, m, sd);
    ser_spknorm_frame(s, fr.f + t * DIM, fr.e[t], out);
    for (int d = 0; d < DIM; d++) CHECK(fabsf(out[d] - (fr.f[t * DIM + d] - m[d]) / sd[d]) < 1e-3f * (1 + fabsf(out[d])));
    counted += fr.e[t] >= -50;
  }
  CHECK(counted > fr.n / 2 && counted < fr.n); /* the gate drops some frames of real speech, not most */
  ser_spknorm_stats(s, m, sd);
  reference(&fr, fr.n, -50, 1, 0, NULL, NULL, rm, rs);
  double err = max_rel(m, sd, rm, rs);
  fprintf(stderr, "stats: %zu frames, %zu counted, worst relative error %.2e\n", fr.n, counted, err);
  CHECK(err < 1e-4);
  CHECK(fabs(ser_spknorm_speech_s(s) - counted / FPS) < 1e-9);
  /* the normalised frames of the whole clip have about mean 0, std 1 once warmed up */
  ser_spknorm_reset(s);
  for (size_t t = 0; t < fr.n; t++) ser_spknorm_frame(s, fr.f + t * DIM, fr.e[t], NULL);
  double mu0 = 0;
  size_t k = 0;
  for (size_t t = 0; t < fr.n; t++)
    if (fr.e[t] >= -50) {
      float o[DIM_MAX];
      ser_spknorm_frame(s, fr.f + t * DIM, -INFINITY, o); /* frozen: not counted again */
      mu0 += o[0];
      k++;
    }
  CHECK(fabs(mu0 / k) < 1e-3);
  ser_spknorm_free(s);
  free(fr.f), free(fr.e);
}

/* A prior worth prior_s seconds: at first the prior, then the blend. */
static void t_prior(void) {
  frames a = clip_frames(SPK03, 4), b = clip_frames(SPK12, 4);
  float pm[DIM_MAX], ps[DIM_MAX], m[DIM_MAX], sd[DIM_MAX];
  double rm[DIM_MAX], rs[DIM_MAX];
  ser_spknorm *s = make(NULL, NULL, 0, 0, -50);
  for (size_t t = 0; t < b.n; t++) ser_spknorm_frame(s, b.f + t * DIM, b.e[t], NULL);
  ser_spknorm_stats(s, pm, ps); /* speaker 12 as the prior */
  ser_spknorm_free(s);
  s = make(pm, ps, 0, 2.0f, -50);
  ser_spknorm_stats(s, m, sd);
  for (int d = 0; d < DIM; d++) CHECK(fabsf(m[d] - pm[d]) < 1e-4f * (1 + fabsf(pm[d])) && fabsf(sd[d] - ps[d]) < 1e-4f * ps[d]);
  CHECK(ser_spknorm_speech_s(s) == 0);
  for (size_t t = 0; t < a.n; t++) {
    ser_spknorm_frame(s, a.f + t * DIM, a.e[t], NULL);
    if (t == 50 || t == a.n - 1) {
      ser_spknorm_stats(s, m, sd);
      reference(&a, t + 1, -50, 1, 2.0 * FPS, pm, ps, rm, rs);
      double err = max_rel(m, sd, rm, rs);
      fprintf(stderr, "prior: after %zu frames, worst relative error %.2e\n", t + 1, err);
      CHECK(err < 1e-4);
    }
  }
  /* reset: back to the prior exactly */
  ser_spknorm_reset(s);
  float m2[DIM_MAX], sd2[DIM_MAX];
  ser_spknorm_stats(s, m2, sd2);
  for (int d = 0; d < DIM; d++) CHECK(fabsf(m2[d] - pm[d]) < 1e-4f * (1 + fabsf(pm[d])));
  /* a bad prior and bad parameters are refused, naming the field */
  ser_error e;
  ser_spknorm_params bad = {-1, 3, -50};
  CHECK(!ser_spknorm_new(DIM, FPS, pm, ps, &bad, &e) && strstr(e.msg, "memory"));
  bad = (ser_spknorm_params){120, 3, NAN};
  CHECK(!ser_spknorm_new(DIM, FPS, pm, ps, &bad, &e) && strstr(e.msg, "gate"));
  CHECK(ser_spknorm_set_params(s, &bad, &e) < 0 && strstr(e.msg, "gate"));
  ps[7] = 0;
  CHECK(!ser_spknorm_new(DIM, FPS, pm, ps, NULL, &e) && strstr(e.msg, "prior[7]"));
  CHECK(!ser_spknorm_new(DIM, FPS, pm, NULL, NULL, &e) && strstr(e.msg, "together"));
  ser_spknorm_free(s);
  free(a.f), free(a.e), free(b.f), free(b.e);
}

/* With a memory, the statistics follow a change of speaker. */
static void t_memory(void) {
  frames a = clip_frames(SPK03, 4), b = clip_frames(SPK12, 4);
  float mem = 5.0f; /* seconds of speech */
  ser_spknorm *s = make(NULL, NULL, mem, 0, -50);
  for (size_t t = 0; t < a.n; t++) ser_spknorm_frame(s, a.f + t * DIM, a.e[t], NULL);
  /* speaker 12 for about 6 memories */
  size_t fed = 0;
  frames bb = {0};
  while (fed < (size_t)(6 * mem * FPS)) {
    for (size_t t = 0; t < b.n; t++) {
      grab(&bb, b.f + t * DIM, b.e[t]);
      ser_spknorm_frame(s, b.f + t * DIM, b.e[t], NULL);
      fed += b.e[t] >= -50;
    }
  }
  float m[DIM_MAX], sd[DIM_MAX];
  double rm[DIM_MAX], rs[DIM_MAX], am[DIM_MAX], as[DIM_MAX];
  ser_spknorm_stats(s, m, sd);
  reference(&bb, bb.n, -50, exp(-1.0 / (mem * FPS)), 0, NULL, NULL, rm, rs); /* speaker 12 alone */
  reference(&a, a.n, -50, 1, 0, NULL, NULL, am, as);
  double d12 = max_rel(m, sd, rm, rs), d03 = max_rel(m, sd, am, as);
  fprintf(stderr, "memory: %.1f s of speech counted; distance to speaker 12 %.3f, to speaker 03 %.3f\n",
          ser_spknorm_speech_s(s), d12, d03);
  CHECK(fabs(ser_spknorm_speech_s(s) - mem) < 0.05 * mem); /* the weight saturates at the memory */
  CHECK(d12 < 0.01 && d03 > 0.3);
  ser_spknorm_free(s);
  free(a.f), free(a.e), free(b.f), free(b.e), free(bb.f), free(bb.e);
}

/* Silence, quiet frames and non-finite values do not move the statistics. */
static void t_gate(void) {
  frames a = clip_frames(SPK03, 2);
  ser_spknorm *s = make(NULL, NULL, 30, 0, -50);
  for (size_t t = 0; t < a.n; t++) ser_spknorm_frame(s, a.f + t * DIM, a.e[t], NULL);
  float m[DIM_MAX], sd[DIM_MAX], m2[DIM_MAX], sd2[DIM_MAX];
  ser_spknorm_stats(s, m, sd);
  double w = ser_spknorm_speech_s(s);
  /* an hour of digital silence through the analyzer's MFCC: -100 dB frames */
  float *zero = calloc(16000, sizeof(float));
  ser_feature_params p;
  p = FP;
  ser_error e;
  ser_mfcc *mf = ser_mfcc_new(&p, &e);
  for (int i = 0; i < 60; i++) ser_spknorm_feed_clip(s, mf, zero, 16000);
  float nanf_[DIM_MAX];
  for (int d = 0; d < DIM; d++) nanf_[d] = d == 3 ? NAN : 1.0f;
  ser_spknorm_frame(s, nanf_, 0.0f, NULL);
  ser_spknorm_stats(s, m2, sd2);
  CHECK(ser_spknorm_speech_s(s) == w);
  CHECK(!memcmp(m, m2, DIM * sizeof(float)) && !memcmp(sd, sd2, DIM * sizeof(float)));
  ser_mfcc_free(mf);
  free(zero);
  ser_spknorm_free(s);
  free(a.f), free(a.e);
}

/* The default model's network and statistics with a speaker prior
 * (speaker 12's statistics) in place of whatever it has. */
static void spec_with_prior(ser_model_spec *spec, float memory) {
  ser_error e;
  ser_model *m = default_model();
  CHECK(ser_model_spec_copy(spec, ser_model_get_spec(m), &e) == 0);
  ser_model_unref(m);
  frames b = clip_frames(SPK12, 4);
  ser_spknorm *s = make(NULL, NULL, 0, 0, -50);
  for (size_t t = 0; t < b.n; t++) ser_spknorm_frame(s, b.f + t * DIM, b.e[t], NULL);
  free(spec->spk_mean), free(spec->spk_std);
  spec->spk_mean = malloc(DIM * sizeof(float));
  spec->spk_std = malloc(DIM * sizeof(float));
  ser_spknorm_stats(s, spec->spk_mean, spec->spk_std);
  spec->spk = (ser_spknorm_params){memory, 3, -50};
  ser_spknorm_free(s);
  free(b.f), free(b.e);
}

static void t_format(void) {
  ser_model_spec spec, back;
  ser_error e;
  spec_with_prior(&spec, 90);
  void *buf;
  size_t n;
  CHECK(ser_model_spec_write_mem(&spec, &buf, &n, &e) == 0);
  CHECK(ser_model_spec_read_mem(buf, n, &back, &e) == 0);
  CHECK(back.spk_mean && !memcmp(back.spk_mean, spec.spk_mean, DIM * sizeof(float)));
  CHECK(!memcmp(back.spk_std, spec.spk_std, DIM * sizeof(float)));
  CHECK(back.spk.memory_s == 90 && back.spk.prior_s == 3 && back.spk.gate_db == -50);
  ser_model_spec_clear(&back);
  /* a std of 0, a mean that is not finite, a bad memory, a half-present prior */
  float keep = spec.spk_std[5];
  spec.spk_std[5] = 0;
  CHECK(ser_model_spec_check(&spec, &e) < 0 && strstr(e.msg, "speaker normalisation: prior std[5]"));
  spec.spk_std[5] = keep;
  spec.spk.memory_s = -3;
  CHECK(ser_model_spec_check(&spec, &e) < 0 && strstr(e.msg, "memory"));
  spec.spk.memory_s = 90;
  CHECK(ser_model_spec_check(&spec, &e) == 0);
  /* the file: damage inside SPKN is caught by the checksum, a file cut
   * inside it as truncated (each field's own check, with the checksum
   * recomputed: tests/net/test_format.c) */
  unsigned char *p = buf;
  size_t at = 0;
  for (size_t i = 12; i + 4 < n; i++)
    if (!memcmp(p + i, "SPKN", 4)) {
      at = i;
      break;
    }
  CHECK(at);
  unsigned char *cut = malloc(n);
  memcpy(cut, p, n);
  cut[at + 12 + 4 + 2] ^= 0x40; /* inside memory_s */
  CHECK(ser_model_spec_read_mem(cut, n, &back, &e) < 0 && strstr(e.msg, "checksum"));
  CHECK(ser_model_spec_read_mem(p, at + 30, &back, &e) < 0 && strstr(e.msg, "truncated"));
  free(cut);
  free(buf);
  /* a model file with a prior, through the loader: ser info-style view */
  ser_model *m = ser_model_from_spec(&spec, &e);
  CHECK(m && ser_model_get_spec(m)->spk_mean);
  ser_model_unref(m);
  ser_model_spec_clear(&spec);
}

typedef struct {
  float scores[64][7];
  float spk[64];
  int n;
} sresults;

static void scollect(void *user, const ser_result *r) {
  sresults *R = user;
  if (R->n < 64) {
    memcpy(R->scores[R->n], r->scores, 7 * sizeof(float));
    R->spk[R->n] = r->speaker_s;
    R->n++;
  }
}

static double maxdiff(const sresults *a, const sresults *b) {
  double w = 0;
  for (int i = 0; i < a->n && i < b->n; i++)
    for (int k = 0; k < 7; k++) w = fmax(w, fabs(a->scores[i][k] - b->scores[i][k]));
  return w;
}

static void t_analyzer(void) {
  ser_model_spec spec;
  ser_error e;
  spec_with_prior(&spec, 120);
  ser_model *m = ser_model_from_spec(&spec, &e);
  CHECK(m);
  size_t n;
  float *x = speech(12.0, &n);
  ser_analyzer_config c;
  ser_analyzer_config_default(&c, m);
  ser_analyzer *a = ser_analyzer_new(m, &c, &e);
  CHECK(a);
  CHECK(ser_analyzer_speaker_s(a) == 0);
  /* 1. windows sharing convolutions and whole-window inference agree with the normaliser on */
  sresults r1 = {0}, r2 = {0};
  ser_analyzer_push(a, x, n, scollect, &r1);
  double heard = ser_analyzer_speaker_s(a);
  ser_analyzer_finish(a, scollect, &r1);
  CHECK(ser_analyzer_speaker_s(a) == heard); /* finish/reset keep the voice */
  fprintf(stderr, "analyzer: %d windows, %.2f s of speech heard\n", r1.n, heard);
  CHECK(heard > 5 && heard < 12);
  CHECK(r1.spk[0] < r1.spk[r1.n - 1]);
  /* speaker_s is what the normaliser had heard at each window's last frame:
   * under a window's length at the first, never falling, and the same for
   * any block size (as the scores are) */
  CHECK(r1.spk[0] > 0 && r1.spk[0] < 2.0);
  for (int i = 1; i < r1.n; i++) CHECK(r1.spk[i] >= r1.spk[i - 1]);
  {
    sresults rb = {0};
    ser_analyzer_reset(a);
    ser_analyzer_reset_speaker(a);
    for (size_t i = 0; i < n; i += 160) ser_analyzer_push(a, x + i, n - i < 160 ? n - i : 160, scollect, &rb);
    ser_analyzer_finish(a, scollect, &rb);
    CHECK(rb.n == r1.n && !memcmp(rb.spk, r1.spk, sizeof(float) * (size_t)r1.n));
    CHECK(maxdiff(&r1, &rb) < 1e-6);
  }
  ser_analyzer_reset_speaker(a);
  CHECK(ser_analyzer_speaker_s(a) == 0);
  ser_analyzer_set_reuse(a, 0);
  ser_analyzer_push(a, x, n, scollect, &r2);
  ser_analyzer_finish(a, scollect, &r2);
  CHECK(r1.n == r2.n && maxdiff(&r1, &r2) < 1e-4);
  /* 2. a second pass of the same voice, without a reset, starts adapted: different scores */
  sresults r3 = {0};
  ser_analyzer_set_reuse(a, 1);
  ser_analyzer_push(a, x, n, scollect, &r3);
  ser_analyzer_finish(a, scollect, &r3);
  double adapted = maxdiff(&r1, &r3);
  /* 3. off: stays at the prior */
  sresults r4 = {0};
  ser_analyzer_reset_speaker(a);
  c.speaker_norm = 0;
  CHECK(ser_analyzer_set_config(a, &c, &e) == 0);
  ser_analyzer_push(a, x, n, scollect, &r4);
  ser_analyzer_finish(a, scollect, &r4);
  CHECK(ser_analyzer_speaker_s(a) == 0 && r4.spk[r4.n - 1] == 0);
  double off = maxdiff(&r1, &r4);
  fprintf(stderr, "analyzer: largest score change: second pass %.3f, normaliser off %.3f\n", adapted, off);
  CHECK(adapted > 1e-3 && off > 1e-3);
  /* 4. the first window equals the network run on frames normalised by hand */
  {
    ser_feature_params fp = *ser_model_features(m);
    ser_mfcc *mf = ser_mfcc_new(&fp, &e);
    ser_spknorm *s = make(spec.spk_mean, spec.spk_std, 120, 3, -50);
    frames fr = {0};
    ser_mfcc_push(mf, x, (size_t)ser_model_window_samples(m), grab, &fr);
    uint32_t T = (uint32_t)fr.n;
    float *in = malloc((size_t)T * DIM * sizeof(float)), probs[7];
    for (uint32_t t = 0; t < T; t++) {
      ser_spknorm_frame(s, fr.f + (size_t)t * DIM, fr.e[t], in + (size_t)t * DIM);
      for (int d = 0; d < DIM; d++)
        in[(size_t)t * DIM + d] = (in[(size_t)t * DIM + d] - spec.norm_mean[d]) / spec.norm_std[d];
    }
    ser_net *net = ser_net_new(m, T, &e);
    CHECK(net && ser_net_forward(net, in, T, probs, &e) == 0);
    double w = 0;
    for (int k = 0; k < 7; k++) w = fmax(w, fabs(probs[k] - r1.scores[0][k]));
    fprintf(stderr, "analyzer: first window against the hand-made input: %.2e\n", w);
    CHECK(w < 1e-4);
    ser_net_free(net);
    free(in);
    ser_spknorm_free(s);
    ser_mfcc_free(mf);
    free(fr.f), free(fr.e);
  }
  /* 5. a bad memory is refused, naming the field */
  c.speaker_memory = -1;
  CHECK(ser_analyzer_set_config(a, &c, &e) < 0 && strstr(e.msg, "speaker-memory"));
  ser_analyzer_free(a);
  /* 6. a model without a normaliser: speaker_s -1 */
  free(spec.spk_mean), free(spec.spk_std);
  spec.spk_mean = spec.spk_std = NULL;
  ser_model *dm = ser_model_from_spec(&spec, &e);
  CHECK(dm);
  ser_analyzer *b = ser_analyzer_new(dm, NULL, &e);
  sresults r5 = {0};
  ser_analyzer_push(b, x, 48000, scollect, &r5);
  CHECK(r5.n > 0 && r5.spk[0] == -1 && ser_analyzer_speaker_s(b) == -1);
  ser_analyzer_free(b);
  ser_model_unref(dm);
  ser_model_unref(m);
  ser_model_spec_clear(&spec);
  free(x);
}

int main(int argc, char **argv) {
  const char *t = argc > 1 ? argv[1] : "";
  ser_model *dm = default_model();
  FP = *ser_model_features(dm);
  DIM = (int)ser_feature_dim(&FP);
  ser_model_unref(dm);
  CHECK(DIM >= 40 && DIM <= DIM_MAX);
  if (!strcmp(t, "stats")) t_stats();
  else if (!strcmp(t, "prior")) t_prior();
  else if (!strcmp(t, "memory")) t_memory();
  else if (!strcmp(t, "gate")) t_gate();
  else if (!strcmp(t, "format")) t_format();
  else if (!strcmp(t, "analyzer")) t_analyzer();
  else {
    fprintf(stderr, "usage: test_spknorm stats|prior|memory|gate|format|analyzer\n");
    return 1;
  }
  return 0;
}
