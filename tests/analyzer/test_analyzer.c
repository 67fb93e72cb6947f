/* The streaming analyzer on real speech (EMO-DB), with the built-in model.
 * Usage: test_analyzer SUBTEST  (see main). */
#include <math.h>
#include <pthread.h>

#include "common.h"

static ser_model *M;
static uint32_t NL;

static ser_analyzer *mk(double window_s, double interval_s, ser_analyzer_config *out) {
  ser_analyzer_config c;
  ser_analyzer_config_default(&c, M);
  if (window_s > 0) c.window = (uint64_t)llround(window_s * 16000);
  if (interval_s > 0) c.interval = (uint64_t)llround(interval_s * 16000);
  ser_error e;
  ser_analyzer *a = ser_analyzer_new(M, &c, &e);
  if (!a) {
    fprintf(stderr, "analyzer: %s\n", e.msg);
    exit(1);
  }
  if (out) ser_analyzer_get_config(a, out);
  return a;
}

/* Every run is a new voice: a model with a speaker normaliser starts from
 * its prior (ser_analyzer_reset and finish keep the voice's statistics). */
static void run(ser_analyzer *a, const float *x, size_t n, size_t block, int finish,
                results *res) {
  res->nl = NL;
  ser_analyzer_reset_speaker(a);
  for (size_t i = 0; i < n; i += block)
    ser_analyzer_push(a, x + i, n - i < block ? n - i : block, collect, res);
  if (finish) ser_analyzer_finish(a, collect, res);
}

static int same_results(const results *p, const results *q, float tol) {
  if (p->n != q->n) {
    fprintf(stderr, "result counts differ: %zu vs %zu\n", p->n, q->n);
    return 0;
  }
  for (size_t i = 0; i < p->n; i++) {
    const ser_result *a = &p->r[i], *b = &q->r[i];
    if (a->start != b->start || a->length != b->length || a->speech != b->speech ||
        a->top != b->top || a->is_tail != b->is_tail || a->level_db != b->level_db) {
      fprintf(stderr, "result %zu differs: start %lu/%lu len %lu/%lu top %d/%d\n", i,
              (unsigned long)a->start, (unsigned long)b->start, (unsigned long)a->length,
              (unsigned long)b->length, a->top, b->top);
      return 0;
    }
    for (uint32_t k = 0; k < NL; k++)
      if (fabsf(a->scores[k] - b->scores[k]) > tol) {
        fprintf(stderr, "result %zu label %u: %.9g vs %.9g\n", i, k, a->scores[k], b->scores[k]);
        return 0;
      }
  }
  return 1;
}

/* Whole-window reference: ser_net_forward on the frames of [start, start+len)
 * taken from ser_features_clip of the whole signal, normalised. */
typedef struct {
  float *F;
  size_t T;
  uint32_t d;
  ser_spknorm *spk;
} frame_buf;

static void keep_frame(void *user, const float *f, float energy_db) {
  frame_buf *b = user;
  float *dst = b->F + b->T * b->d;
  if (b->spk)
    ser_spknorm_frame(b->spk, f, energy_db, dst);
  else
    memcpy(dst, f, b->d * sizeof(float));
  b->T++;
}

static float max_diff_vs_isolated(const float *x, size_t n, const results *res) {
  const ser_feature_params *fp = ser_model_features(M);
  const ser_model_spec *sp = ser_model_get_spec(M);
  const uint32_t flen = fp->n_fft > fp->win_length ? fp->n_fft : fp->win_length;
  ser_error e;
  uint32_t d = ser_feature_dim(fp);
  /* the stream's frames, each through the speaker normaliser (if the model
   * has one; from its prior at the stream's start, frame by frame), then the
   * model's statistics */
  frame_buf fb0 = {NULL, 0, d, NULL};
  ser_mfcc *mf = ser_mfcc_new(fp, &e);
  CHECK(mf);
  if (sp->spk_mean) {
    fb0.spk = ser_spknorm_new(d, (double)fp->sample_rate / fp->hop_length, sp->spk_mean, sp->spk_std, &sp->spk, &e);
    CHECK(fb0.spk);
  }
  fb0.F = malloc((ser_feature_frames(fp, n) + 1) * d * sizeof(float));
  CHECK(fb0.F);
  ser_mfcc_push(mf, x, n, keep_frame, &fb0);
  ser_mfcc_flush(mf, keep_frame, &fb0);
  ser_mfcc_free(mf);
  ser_spknorm_free(fb0.spk);
  float *F = fb0.F;
  size_t T = fb0.T;
  for (size_t t = 0; t < T; t++)
    for (uint32_t i = 0; i < d; i++)
      if (sp->norm_mean && sp->norm_std)
        F[t * d + i] = (F[t * d + i] - sp->norm_mean[i]) / sp->norm_std[i];
  uint32_t maxf = 0;
  for (size_t i = 0; i < res->n; i++) {
    uint32_t nf = (uint32_t)((res->r[i].length - flen) / fp->hop_length + 1);
    if (nf > maxf) maxf = nf;
  }
  ser_net *net = ser_net_new(M, maxf, &e);
  CHECK(net);
  float *p = malloc(NL * sizeof *p), worst = 0;
  for (size_t i = 0; i < res->n; i++) {
    uint64_t s = res->r[i].start, L = res->r[i].length;
    uint64_t fa = (s + fp->hop_length - 1) / fp->hop_length;
    uint64_t fb = (s + L - flen) / fp->hop_length;
    CHECK(fb < T);
    CHECK(ser_net_forward(net, F + fa * d, (uint32_t)(fb - fa + 1), p, &e) == 0);
    for (uint32_t k = 0; k < NL; k++) {
      float df = fabsf(p[k] - res->r[i].scores[k]);
      if (df > worst) worst = df;
    }
  }
  free(p);
  free(F);
  ser_net_free(net);
  return worst;
}

/* Results do not depend on how the input is split into blocks. */
static void t_blocksize(void) {
  size_t n;
  float *x = speech(9.3, &n);
  results ref = {0};
  ser_analyzer *a = mk(2.0, 0.25, NULL);
  run(a, x, n, n, 1, &ref);
  CHECK(ref.n > 20);
  size_t blocks[] = {1, 7, 160, 441, 4096, 16000, 100000}; /* (large: the reuse runs ahead) */
  for (size_t b = 0; b < sizeof blocks / sizeof *blocks; b++) {
    results r = {0};
    run(a, x, n, blocks[b], 1, &r); /* finish() resets: same analyzer reused */
    CHECK(same_results(&ref, &r, 0.0f));
    results_free(&r);
  }
  printf("blocksize: %zu results identical for 7 block sizes\n", ref.n);
  results_free(&ref);
  ser_analyzer_free(a);
  free(x);
}

/* Count and starts of the windows for a given length, window, interval. */
static void t_timing(void) {
  size_t n;
  float *x = speech(10.3, &n);
  struct {
    double w, i;
  } cf[] = {{3.0, 0.5}, {2.0, 0.37}, {1.0, 1.5}, {3.0, 3.0}, {0.5, 0.1}};
  for (size_t k = 0; k < sizeof cf / sizeof *cf; k++) {
    ser_analyzer_config c;
    ser_analyzer *a = mk(cf[k].w, cf[k].i, &c);
    results r = {0};
    run(a, x, n, 1234, 0, &r);
    size_t expect = n >= c.window ? (n - c.window) / c.interval + 1 : 0;
    CHECK(r.n == expect);
    for (size_t i = 0; i < r.n; i++) {
      CHECK(r.r[i].start == i * c.interval);
      CHECK(r.r[i].length == c.window);
      CHECK(!r.r[i].is_tail);
    }
    /* finish: the next window, cut at the end, if >= 1 s */
    size_t before = r.n;
    ser_analyzer_finish(a, collect, &r);
    uint64_t next = before * c.interval;
    if (n > next && n - next >= 16000) {
      CHECK(r.n == before + 1);
      CHECK(r.r[before].is_tail && r.r[before].start == next && r.r[before].length == n - next);
    } else {
      CHECK(r.n == before);
    }
    printf("timing: window %.2f s interval %.2f s: %zu windows, tail %s\n", cf[k].w, cf[k].i,
           before, r.n > before ? "yes" : "no");
    results_free(&r);
    ser_analyzer_free(a);
  }
  free(x);
}

/* Reusing convolutions across windows == whole-window inference. */
static void t_reuse(void) {
  size_t n;
  float *x = speech(12.0, &n);
  struct {
    double w, i;
  } cf[] = {{3.0, 0.5}, {2.03, 0.37}, {1.0, 0.01}, {4.0, 0.73}};
  for (size_t k = 0; k < sizeof cf / sizeof *cf; k++) {
    ser_analyzer *a = mk(cf[k].w, cf[k].i, NULL);
    results r = {0}, plain = {0};
    run(a, x, n, 777, 0, &r);
    ser_analyzer_stats st;
    ser_analyzer_get_stats(a, &st);
    CHECK(st.reused == r.n); /* the default model has a reusable prefix */
    CHECK(st.errors == 0);
    float d = max_diff_vs_isolated(x, n, &r);
    ser_analyzer_reset(a);
    ser_analyzer_set_reuse(a, 0);
    run(a, x, n, 777, 0, &plain);
    float d2 = max_diff_vs_isolated(x, n, &plain);
    /* without reuse only the rounding of the input normalisation differs */
    if (d > 1e-4f || d2 > 5e-6f) fprintf(stderr, "reuse %g plain %g\n", d, d2);
    CHECK(same_results(&r, &plain, 1e-4f));
    printf("reuse: window %.2f s interval %.2f s: %zu windows, max |p - isolated| %.3g "
           "(without reuse %.3g)\n", cf[k].w, cf[k].i, r.n, d, d2);
    CHECK(d <= 1e-4f);
    CHECK(d2 <= 5e-6f);
    results_free(&r);
    results_free(&plain);
    ser_analyzer_free(a);
  }
  free(x);
}

/* An ensemble (the model plus a smaller, freshly initialised network and a
 * rescaled copy): every window's scores are the mean of what each network
 * gives alone in its own analyzer, with the convolutions of all networks
 * shared across windows, and equal to whole-window inference. */
static void t_ensemble(void) {
  size_t n;
  float *x = speech(10.0, &n);
  ser_error e;
  const ser_model_spec *mall = ser_model_get_spec(M);
  ser_model_spec one, sp, small, big, *ms = &one;
  ser_model_spec_net_view(mall, 0, &one); /* the model's first network (the built-in model may be an ensemble) */
  CHECK(ser_model_spec_copy(&sp, ms, &e) == 0 && ser_model_spec_copy(&big, ms, &e) == 0);
  for (uint32_t i = 0; i < big.n_layers; i++)
    for (uint32_t k = 0; k < big.layers[i].n_params; k++) big.layers[i].params[k] *= 1.2f;
  ser_arch_config ac;
  ser_arch_config_default(&ac, SER_ARCH_TEMPORAL);
  ac.n_channels = 4;
  ac.channels[0] = 8, ac.channels[1] = 16, ac.channels[2] = 16, ac.channels[3] = 16;
  ac.window_s = (float)((double)ser_model_window_samples(M) / ms->feat.sample_rate);
  CHECK(ser_arch_build(&ac, &ms->feat, (const char *const *)ms->labels, ms->n_labels, 7, &small, &e) == 0);
  CHECK(small.in_len == sp.in_len);
  /* the same input as the model's own network: its normalisation and speaker normaliser */
  ser_model_spec input;
  CHECK(ser_model_spec_copy(&input, ms, &e) == 0);
  small.norm_mean = input.norm_mean, small.norm_std = input.norm_std;
  small.spk_mean = input.spk_mean, small.spk_std = input.spk_std, small.spk = input.spk;
  input.norm_mean = input.norm_std = input.spk_mean = input.spk_std = NULL;
  ser_model_spec_clear(&input);
  ser_model *m1 = ser_model_from_spec(&small, &e), *m2 = ser_model_from_spec(&big, &e);
  CHECK(m1 && m2);
  if (ser_model_spec_add_nets(&sp, &small, &e) || ser_model_spec_add_nets(&sp, &big, &e))
    fprintf(stderr, "add_nets: %s\n", e.msg);
  CHECK(sp.n_extra == 2);
  ser_model *ens = ser_model_from_spec(&sp, &e);
  CHECK(ens && ser_model_n_nets(ens) == 3);
  ser_model *m0 = ser_model_from_spec(ms, &e);
  CHECK(m0);
  ser_model *single[3] = {m0, m1, m2};
  results r[3] = {{0}}, er = {0};
  for (int k = 0; k < 3; k++) {
    ser_analyzer *a = ser_analyzer_new(single[k], NULL, &e);
    CHECK(a);
    run(a, x, n, 1000, 1, &r[k]);
    ser_analyzer_free(a);
  }
  ser_analyzer *a = ser_analyzer_new(ens, NULL, &e);
  CHECK(a);
  run(a, x, n, 1000, 1, &er);
  ser_analyzer_stats st;
  ser_analyzer_get_stats(a, &st);
  float worst = 0, spread = 0;
  CHECK(er.n > 10 && er.n == r[0].n && er.n == r[1].n && er.n == r[2].n);
  for (size_t i = 0; i < er.n; i++)
    for (uint32_t k = 0; k < NL; k++) {
      float mean = (r[0].r[i].scores[k] + r[1].r[i].scores[k] + r[2].r[i].scores[k]) / 3;
      worst = fmaxf(worst, fabsf(er.r[i].scores[k] - mean));
      spread = fmaxf(spread, fabsf(r[0].r[i].scores[k] - r[1].r[i].scores[k]));
    }
  CHECK(st.errors == 0 && st.reused + 1 == er.n); /* all but the tail window shared convolutions */
  ser_model *keep = M;
  M = ens; /* the isolated reference runs the ensemble's ser_net_forward */
  float iso = max_diff_vs_isolated(x, n, &er);
  M = keep;
  printf("ensemble: 3 networks, %zu windows, max |p - mean of the networks alone| %.3g (networks differ by up to "
         "%.3g), max |p - isolated| %.3g\n", er.n, worst, spread, iso);
  CHECK(worst < 1e-5f && spread > 1e-2f && iso < 1e-4f);
  ser_analyzer_free(a);
  for (int k = 0; k < 3; k++) results_free(&r[k]);
  results_free(&er);
  ser_model_unref(ens);
  ser_model_unref(m0);
  ser_model_unref(m1);
  ser_model_unref(m2);
  ser_model_spec_clear(&small);
  ser_model_spec_clear(&big);
  ser_model_spec_clear(&sp);
  free(x);
}

/* Digital silence and -75 dBFS noise hold no speech; real speech does. */
static void t_silence(void) {
  ser_analyzer *a = mk(3.0, 0.5, NULL);
  results r = {0};
  r.nl = NL;
  ser_analyzer_push_silence(a, 16000 * 5, collect, &r);
  if (r.n != 5) fprintf(stderr, "silence: %zu results\n", r.n);
  CHECK(r.n == 5); /* 3 s windows every 0.5 s over 5 s */
  for (size_t i = 0; i < r.n; i++) {
    CHECK(!r.r[i].speech && r.r[i].top == -1 && r.r[i].confidence == 0);
    float s = 0;
    for (uint32_t k = 0; k < NL; k++) s += r.r[i].scores[k];
    CHECK(fabsf(s - 1) < 1e-3); /* scores still reported */
  }
  ser_analyzer_reset(a);
  results_free(&r);
  size_t n = 16000 * 4;
  float *z = malloc(n * sizeof *z);
  ser_rng g;
  ser_rng_seed(&g, 7);
  for (size_t i = 0; i < n; i++) z[i] = 1.8e-4f * ser_rng_normal(&g); /* about -75 dBFS */
  run(a, z, n, 512, 0, &r);
  CHECK(r.n == 3);
  for (size_t i = 0; i < r.n; i++) CHECK(!r.r[i].speech && r.r[i].level_db < -60);
  results_free(&r);
  ser_analyzer_reset(a);
  size_t ns;
  float *x = speech(8.0, &ns);
  run(a, x, ns, 512, 0, &r);
  size_t sp = 0;
  for (size_t i = 0; i < r.n; i++)
    if (r.r[i].speech) {
      sp++;
      CHECK(r.r[i].top >= 0 && r.r[i].confidence == r.r[i].scores[r.r[i].top]);
    }
  CHECK(sp == r.n); /* continuous speech: every 3 s window has some */
  /* the level: mean of the loudest 15 % of the frames' energies (dB of the
   * mean square of the win_length samples under each frame's window) */
  const ser_feature_params *fp = ser_model_features(M);
  uint32_t off = (fp->n_fft - fp->win_length) / 2;
  double worst = 0;
  for (size_t i = 0; i < r.n; i++) {
    uint64_t fa = (r.r[i].start + fp->hop_length - 1) / fp->hop_length;
    uint64_t fb = (r.r[i].start + r.r[i].length - fp->n_fft) / fp->hop_length;
    size_t nf = (size_t)(fb - fa + 1), k = (size_t)ceil(0.15 * nf);
    double *e = malloc(nf * sizeof *e);
    for (size_t f = 0; f < nf; f++) {
      const float *w = x + (fa + f) * fp->hop_length + off;
      double ms = 0;
      for (uint32_t j = 0; j < fp->win_length; j++) ms += (double)w[j] * w[j];
      e[f] = 10 * log10(ms / fp->win_length + 1e-10);
    }
    for (size_t a2 = 0; a2 < k; a2++) /* partial selection sort, descending */
      for (size_t b2 = a2 + 1; b2 < nf; b2++)
        if (e[b2] > e[a2]) {
          double t = e[a2];
          e[a2] = e[b2];
          e[b2] = t;
        }
    double lv = 0;
    for (size_t a2 = 0; a2 < k; a2++) lv += e[a2] / k;
    if (fabs(lv - r.r[i].level_db) > worst) worst = fabs(lv - r.r[i].level_db);
    free(e);
  }
  CHECK(worst < 1e-3);
  printf("silence: silent and -75 dBFS windows speech=0; %zu/%zu speech windows on speech, "
         "level within %.2g dB of the rule\n", sp, r.n, worst);
  results_free(&r);
  free(x);
  free(z);
  ser_analyzer_free(a);
}

/* Tail and short streams at finish, min_tail. */
static void t_tail(void) {
  size_t n;
  float *x = speech(3.0, &n);
  ser_analyzer *a = mk(3.0, 0.5, NULL);
  results r = {0};
  run(a, x, 24000, 1000, 1, &r); /* 1.5 s stream: one short window */
  CHECK(r.n == 1 && r.r[0].is_tail && r.r[0].start == 0 && r.r[0].length == 24000);
  results_free(&r);
  run(a, x, 12800, 1000, 1, &r); /* 0.8 s < 1 s */
  CHECK(r.n == 0);
  ser_analyzer_config c;
  ser_analyzer_get_config(a, &c);
  c.min_tail = 8000;
  CHECK(ser_analyzer_set_config(a, &c, NULL) == 0);
  run(a, x, 12800, 1000, 1, &r);
  CHECK(r.n == 1 && r.r[0].is_tail && r.r[0].length == 12800);
  /* the tail window equals whole-window inference */
  CHECK(max_diff_vs_isolated(x, 12800, &r) <= 1e-5f);
  results_free(&r);
  c.min_tail = 1600; /* below the model's minimum: clamped to it */
  CHECK(ser_analyzer_set_config(a, &c, NULL) == 0);
  run(a, x, 1000, 1000, 1, &r);
  CHECK(r.n == 0);
  /* after finish the analyzer starts again at 0 */
  run(a, x, 48000, 4000, 0, &r);
  CHECK(r.n == 1 && r.r[0].start == 0 && !r.r[0].is_tail);
  results_free(&r);
  printf("tail: 1.5 s -> 1 tail window, 0.8 s -> none (min_tail 1 s) / 1 (min_tail 0.5 s)\n");
  ser_analyzer_free(a);
  free(x);
}

/* set_config mid-stream takes effect at the next window. */
static void t_setconfig(void) {
  size_t n;
  float *x = speech(12.0, &n);
  ser_analyzer_config c;
  ser_analyzer *a = mk(3.0, 0.5, &c);
  results r = {0};
  r.nl = NL;
  size_t half = 16000 * 5 + 123;
  ser_analyzer_push(a, x, half, collect, &r);
  size_t n1 = r.n;
  CHECK(n1 == 5); /* starts 0 .. 2.0 s */
  c.window = 2 * 16000;
  c.interval = 16000;
  c.smoothing = 0;
  CHECK(ser_analyzer_set_config(a, &c, NULL) == 0);
  ser_analyzer_push(a, x + half, n - half, collect, &r);
  /* next windows: 2.0 + 1.0 = 3.0 s, 4.0 ... each 2 s long */
  CHECK(r.n > n1 + 3);
  for (size_t i = n1; i < r.n; i++) {
    CHECK(r.r[i].start == 32000 + (i - n1 + 1) * 16000);
    CHECK(r.r[i].length == 32000);
  }
  CHECK(r.r[r.n - 1].start + 32000 <= n && r.r[r.n - 1].start + 48000 > n);
  float d = max_diff_vs_isolated(x, n, &r);
  CHECK(d <= 1e-4f);
  /* a longer window than at creation (buffers grow in set_config) */
  c.window = 5 * 16000;
  c.interval = 8000;
  CHECK(ser_analyzer_set_config(a, &c, NULL) == 0);
  ser_analyzer_reset(a);
  results_free(&r);
  run(a, x, n, 3000, 0, &r);
  CHECK(r.n == (n - 80000) / 8000 + 1 && r.r[0].length == 80000);
  CHECK(max_diff_vs_isolated(x, n, &r) <= 1e-4f);
  /* bad values are refused and leave the config alone */
  ser_error e;
  ser_analyzer_config bad = c;
  bad.window = 800; /* 50 ms: fewer frames than the network needs */
  CHECK(ser_analyzer_set_config(a, &bad, &e) < 0 && strstr(e.msg, "window"));
  bad = c;
  bad.smoothing = 1.0;
  CHECK(ser_analyzer_set_config(a, &bad, &e) < 0 && strstr(e.msg, "smoothing"));
  ser_analyzer_config now;
  ser_analyzer_get_config(a, &now);
  CHECK(now.window == c.window && now.interval == c.interval);
  printf("set_config: interval/window change at the next window, max diff %.3g\n", d);
  results_free(&r);
  ser_analyzer_free(a);
  free(x);
}

/* reset forgets everything; push_silence == pushing zeros; smoothing. */
static void t_reset_gap_smoothing(void) {
  size_t n;
  float *x = speech(10.0, &n);
  ser_analyzer *a = mk(2.0, 0.5, NULL);
  results r1 = {0}, r2 = {0};
  ser_analyzer_push(a, x + 5000, 3 * 16000 + 77, NULL, NULL);
  ser_analyzer_reset(a);
  run(a, x, n, 999, 0, &r1);
  ser_analyzer *b = mk(2.0, 0.5, NULL);
  run(b, x, n, 999, 0, &r2);
  CHECK(same_results(&r1, &r2, 0.0f));
  results_free(&r1);
  results_free(&r2);
  /* gap */
  float *y = malloc(n * sizeof *y);
  memcpy(y, x, n * sizeof *y);
  memset(y + 40000, 0, 30000 * sizeof *y);
  ser_analyzer_reset(a);
  ser_analyzer_reset_speaker(a); /* a new voice, as run() starts b */
  r1.nl = NL;
  ser_analyzer_push(a, x, 40000, collect, &r1);
  ser_analyzer_push_silence(a, 30000, collect, &r1);
  ser_analyzer_push(a, x + 70000, n - 70000, collect, &r1);
  ser_analyzer_reset(b);
  run(b, y, n, 4096, 0, &r2);
  CHECK(same_results(&r1, &r2, 1e-6f));
  results_free(&r1);
  results_free(&r2);
  /* smoothing: s = a s_prev + (1 - a) p over consecutive speech windows */
  ser_analyzer_reset(b);
  run(b, x, n, 4096, 0, &r2);
  ser_analyzer_config c;
  ser_analyzer_get_config(a, &c);
  c.smoothing = 0.6;
  CHECK(ser_analyzer_set_config(a, &c, NULL) == 0);
  ser_analyzer_reset(a);
  run(a, x, n, 4096, 0, &r1);
  CHECK(r1.n == r2.n && r1.n > 5);
  float s[64];
  int have = 0;
  for (size_t i = 0; i < r1.n; i++) {
    if (!r2.r[i].speech) {
      have = 0;
      continue;
    }
    for (uint32_t k = 0; k < NL; k++) {
      s[k] = have ? 0.6f * s[k] + 0.4f * r2.r[i].scores[k] : r2.r[i].scores[k];
      CHECK(fabsf(s[k] - r1.r[i].scores[k]) < 1e-5f);
    }
    have = 1;
  }
  printf("reset, push_silence and smoothing: as expected over %zu windows\n", r1.n);
  results_free(&r1);
  results_free(&r2);
  ser_analyzer_free(a);
  ser_analyzer_free(b);
  free(x);
  free(y);
}

/* Many analyzers share one model; the model outlives its last user. */
static void t_shared(void) {
  size_t n;
  float *x = speech(6.0, &n);
  ser_model *m = default_model();
  ser_analyzer *a = ser_analyzer_new(m, NULL, NULL), *b = ser_analyzer_new(m, NULL, NULL);
  CHECK(a && b && ser_analyzer_model(a) == m);
  ser_model_unref(m);
  results r1 = {0}, r2 = {0};
  run(a, x, n, 1000, 1, &r1);
  ser_analyzer_free(a);
  run(b, x, n, 3000, 1, &r2);
  CHECK(r1.n > 0 && same_results(&r1, &r2, 0.0f));
  ser_analyzer_free(b);
  results_free(&r1);
  results_free(&r2);
  free(x);
  printf("shared model: two analyzers, identical results\n");
}

/* The paper architecture (fixed 2.5 s clip at 22.05 kHz), small channels:
 * every window is the clip; its input is built as training builds it. */
static void t_paper(void) {
  static const char *labels[] = {"neutral", "happy", "sad", "angry", "fearful", "disgusted", "surprised"};
  ser_arch_config ac;
  ser_arch_config_default(&ac, SER_ARCH_PAPER);
  ac.channels[0] = ac.channels[1] = 4;
  ser_feature_params fp;
  ser_feature_params_paper(&fp);
  ser_model_spec sp;
  ser_error e;
  CHECK(ser_arch_build(&ac, &fp, labels, 7, 42, &sp, &e) == 0);
  ser_model *m = ser_model_from_spec(&sp, &e);
  if (!m) fprintf(stderr, "paper model: %s\n", e.msg);
  CHECK(m);
  const ser_model_spec *ms = ser_model_get_spec(m);
  uint32_t clip = ms->clip_samples;
  CHECK(ser_model_arch(m) == SER_ARCH_PAPER && clip == 55125);
  size_t n;
  float *x = speech(7.3 * 22050 / 16000, &n); /* 16 kHz speech played as 22.05 kHz: 7.3 s */
  ser_analyzer_config c;
  ser_analyzer_config_default(&c, m);
  c.window = 16000; /* ignored: the paper network's input is the clip */
  c.interval = 11025;
  ser_analyzer *a = ser_analyzer_new(m, &c, &e);
  CHECK(a);
  ser_analyzer_get_config(a, &c);
  CHECK(c.window == clip);
  results r1 = {0}, r2 = {0};
  r1.nl = r2.nl = 7;
  for (size_t i = 0; i < n; i += 1000) ser_analyzer_push(a, x + i, n - i < 1000 ? n - i : 1000, collect, &r1);
  ser_analyzer_finish(a, collect, &r1);
  for (size_t i = 0; i < n; i += 7777) ser_analyzer_push(a, x + i, n - i < 7777 ? n - i : 7777, collect, &r2);
  ser_analyzer_finish(a, collect, &r2);
  CHECK(same_results(&r1, &r2, 0.0f));
  size_t full = (n - clip) / 11025 + 1;
  uint64_t next = full * 11025;
  size_t tail = n - next >= 22050 ? 1 : 0;
  CHECK(r1.n == full + tail);
  ser_net *net = ser_net_new(m, ms->in_len, &e);
  float p[7];
  for (size_t i = 0; i < r1.n; i++) {
    uint64_t st = r1.r[i].start, len = r1.r[i].length;
    CHECK(st == i * 11025 && (i < full ? len == clip : (r1.r[i].is_tail && len == n - next)));
    float *in = NULL;
    uint32_t nin;
    CHECK(ser_train_clip_input(ms, x + st, len, 0, &in, &nin, &e) == 0 && nin == ms->in_len);
    CHECK(ser_net_forward(net, in, nin, p, &e) == 0);
    for (int k = 0; k < 7; k++) CHECK(fabsf(p[k] - r1.r[i].scores[k]) < 1e-6f);
    free(in);
  }
  printf("paper: %zu windows of %u samples + %zu tail, equal to ser_train_clip_input + forward\n", full,
         clip, tail);
  ser_net_free(net);
  results_free(&r1);
  results_free(&r2);
  ser_analyzer_free(a);
  ser_model_unref(m);
  ser_model_spec_clear(&sp);
  free(x);
}

/* A temporal model on MFCC + deltas + delta-deltas: frames come 8 frames
 * late (the regression window's future), so windows wait for them; finish()
 * delivers them. Same checks: block sizes, timing, reuse == isolated. */
static void t_deltas(void) {
  static const char *labels[] = {"a", "b", "c", "d"};
  ser_arch_config ac;
  ser_arch_config_default(&ac, SER_ARCH_TEMPORAL);
  ac.channels[0] = 16;
  ac.channels[1] = ac.channels[2] = ac.channels[3] = 32;
  ser_feature_params fp;
  ser_feature_params_default(&fp);
  fp.deltas = 2;
  ser_model_spec sp;
  ser_error e;
  CHECK(ser_arch_build(&ac, &fp, labels, 4, 7, &sp, &e) == 0);
  ser_model *m = ser_model_from_spec(&sp, &e);
  if (!m) fprintf(stderr, "deltas model: %s\n", e.msg);
  CHECK(m);
  ser_model *keep = M;
  uint32_t keep_nl = NL;
  M = m;
  NL = 4;
  size_t n;
  float *x = speech(9.0, &n);
  ser_analyzer_config c;
  ser_analyzer *a = mk(2.0, 0.3, &c);
  n = 23 * c.interval + c.window; /* the last full window ends with the stream */
  results r1 = {0}, r2 = {0};
  run(a, x, n, 160, 0, &r1);
  size_t before = r1.n;
  ser_analyzer_finish(a, collect, &r1);
  size_t full = (n - c.window) / c.interval + 1;
  /* the last full windows' frames are only complete at finish */
  if (!(before == full - 1 && r1.n == full + 1))
    fprintf(stderr, "before %zu full %zu after %zu\n", before, full, r1.n);
  CHECK(before == full - 1 && r1.n == full + 1 && r1.r[full].is_tail);
  for (size_t i = 0; i < full; i++) CHECK(r1.r[i].start == i * c.interval && r1.r[i].length == c.window);
  run(a, x, n, 4099, 1, &r2);
  CHECK(same_results(&r1, &r2, 0.0f));
  ser_analyzer_stats st;
  ser_analyzer_get_stats(a, &st);
  CHECK(st.reused > 0 && st.errors == 0);
  float d = max_diff_vs_isolated(x, n, &r1);
  printf("deltas: %zu windows (%zu before finish), max |p - isolated| %.3g\n", r1.n, before, d);
  CHECK(d <= 1e-4f);
  results_free(&r1);
  results_free(&r2);
  ser_analyzer_free(a);
  M = keep;
  NL = keep_nl;
  ser_model_unref(m);
  ser_model_spec_clear(&sp);
  free(x);
}

/* The built-in model with normalisation statistics from real speech, so
 * that its activations have a trained model's scale (the placeholder
 * default has none, and its raw-dB inputs give logits in the hundreds,
 * where float rounding alone moves probabilities by ~1e-4). */
static ser_model *normalised_model(void) {
  ser_model *d = default_model();
  ser_model_spec sp;
  ser_error e;
  CHECK(ser_model_spec_copy(&sp, ser_model_get_spec(d), &e) == 0);
  ser_model_unref(d);
  size_t n;
  float *x = speech(20.0, &n), *F = NULL;
  size_t T;
  CHECK(ser_features_clip(&sp.feat, x, n, &F, &T, &e) == 0 && T > 100);
  uint32_t dim = ser_feature_dim(&sp.feat);
  free(sp.norm_mean);
  free(sp.norm_std);
  sp.norm_mean = calloc(dim, sizeof(float));
  sp.norm_std = calloc(dim, sizeof(float));
  for (uint32_t i = 0; i < dim; i++) {
    double s = 0, s2 = 0;
    for (size_t t = 0; t < T; t++) {
      s += F[t * dim + i];
      s2 += (double)F[t * dim + i] * F[t * dim + i];
    }
    double mu = s / T;
    sp.norm_mean[i] = (float)mu;
    sp.norm_std[i] = (float)sqrt(s2 / T - mu * mu + 1e-6);
  }
  ser_model *m = ser_model_from_spec(&sp, &e);
  if (!m) fprintf(stderr, "model: %s\n", e.msg);
  CHECK(m);
  ser_model_spec_clear(&sp);
  free(F);
  free(x);
  return m;
}

/* Four threads, one analyzer each, one shared model: same results as alone. */
typedef struct {
  ser_model *m;
  const float *x;
  size_t n, block;
  results r;
} thr_job;

static void *thr_run(void *p) {
  thr_job *j = p;
  ser_analyzer *a = ser_analyzer_new(j->m, NULL, NULL);
  CHECK(a);
  j->r.nl = ser_model_n_labels(j->m);
  for (size_t i = 0; i < j->n; i += j->block)
    ser_analyzer_push(a, j->x + i, j->n - i < j->block ? j->n - i : j->block, collect, &j->r);
  ser_analyzer_finish(a, collect, &j->r);
  ser_analyzer_free(a);
  return NULL;
}

static void t_threads(void) {
  size_t n;
  float *x = speech(8.0, &n);
  ser_model *m = default_model();
  thr_job ref = {.m = m, .x = x, .n = n, .block = 4096};
  thr_run(&ref);
  thr_job j[4];
  pthread_t t[4];
  for (int i = 0; i < 4; i++) {
    j[i] = (thr_job){.m = m, .x = x, .n = n, .block = 500 + 777 * (size_t)i};
    CHECK(pthread_create(&t[i], NULL, thr_run, &j[i]) == 0);
  }
  for (int i = 0; i < 4; i++) {
    pthread_join(t[i], NULL);
    CHECK(ref.r.n > 5 && same_results(&ref.r, &j[i].r, 0.0f));
    results_free(&j[i].r);
  }
  printf("threads: 4 analyzers on one model in parallel, results identical (%zu windows)\n", ref.r.n);
  results_free(&ref.r);
  ser_model_unref(m);
  free(x);
}

int main(int argc, char **argv) {
  static const struct {
    const char *name;
    void (*fn)(void);
  } tests[] = {{"blocksize", t_blocksize}, {"timing", t_timing},     {"reuse", t_reuse},
               {"silence", t_silence},     {"tail", t_tail},         {"setconfig", t_setconfig},
               {"reset", t_reset_gap_smoothing}, {"shared", t_shared},
               {"paper", t_paper}, {"deltas", t_deltas},
               {"threads", t_threads}, {"ensemble", t_ensemble}};
  M = normalised_model();
  NL = ser_model_n_labels(M);
  int ran = 0;
  for (size_t i = 0; i < sizeof tests / sizeof *tests; i++)
    if (argc < 2 || !strcmp(argv[1], tests[i].name)) {
      tests[i].fn();
      ran++;
    }
  ser_model_unref(M);
  if (!ran) {
    fprintf(stderr, "unknown test %s\n", argv[1]);
    return 1;
  }
  return 0;
}
