/* Streaming extractor behaviour: block-size independence, edge cases,
 * non-finite input, parameter checks, threads. On real speech (EMO-DB). */
#include <pthread.h>

#include "ftest.h"

static const char *CLIP = "emodb/wav/03a01Fa.wav";

/* all frames of x pushed in blocks of the given sizes (cycled), flushed */
static ft_frames run_blocks(const ser_feature_params *p, const float *x, size_t n,
                            const size_t *blocks, size_t nb, ser_rng *rng) {
  ser_error e;
  ft_frames c = {.dim = ser_feature_dim(p)};
  ser_mfcc *m = ser_mfcc_new(p, &e);
  if (!m) {
    fprintf(stderr, "ser_mfcc_new: %s\n", e.msg);
    abort();
  }
  size_t i = 0, b = 0;
  while (i < n) {
    size_t k = rng ? 1 + ser_rng_below(rng, ser_rng_below(rng, 4) == 0 ? 3 : 2000) : blocks[b++ % nb];
    if (k > n - i) k = n - i;
    ser_mfcc_push(m, x + i, k, ft_collect, &c);
    i += k;
  }
  ser_mfcc_flush(m, ft_collect, &c);
  ser_mfcc_free(m);
  return c;
}

static int same(const ft_frames *a, const ft_frames *b) {
  return a->n == b->n && a->dim == b->dim &&
         !memcmp(a->data, b->data, sizeof(float) * a->n * a->dim) &&
         !memcmp(a->energy, b->energy, sizeof(float) * a->n);
}

static void test_blocks(const float *x, size_t n) {
  ser_feature_params cfg[7];
  const char *names[7] = {"default", "deltas2+zcr+preemph", "deltas1 w3 hamming", "hop > n_fft",
                          "deltas2 w9 n_fft 1024", "pitch", "pitch+deltas2+zcr+preemph"};
  for (int i = 0; i < 7; i++) ser_feature_params_default(&cfg[i]);
  cfg[1].deltas = 2, cfg[1].zcr_rms = 1, cfg[1].preemph = 0.97f, cfg[1].n_mfcc = 13;
  cfg[2].deltas = 1, cfg[2].delta_width = 3, cfg[2].window = SER_WIN_HAMMING;
  cfg[3].hop_length = 600, cfg[3].deltas = 1;
  cfg[4].deltas = 2, cfg[4].n_fft = 1024, cfg[4].win_length = 1000, cfg[4].hop_length = 333;
  cfg[5].pitch = 1;
  cfg[6] = cfg[1], cfg[6].pitch = 1;
  for (int i = 0; i < 7; i++) {
    size_t whole = n;
    ft_frames ref = run_blocks(&cfg[i], x, n, &whole, 1, NULL);
    CHECK(ref.n == ser_feature_frames(&cfg[i], n), "%s: %zu frames, expected %zu", names[i], ref.n,
          ser_feature_frames(&cfg[i], n));
    CHECK(ref.n > 10, "%s: only %zu frames", names[i], ref.n);
    size_t ones = 1;
    ft_frames one = run_blocks(&cfg[i], x, n, &ones, 1, NULL);
    CHECK(same(&ref, &one), "%s: 1-sample blocks differ from one block", names[i]);
    ft_frames_free(&one);
    for (uint64_t seed = 1; seed <= 4; seed++) {
      ser_rng rng;
      ser_rng_seed(&rng, seed);
      ft_frames r = run_blocks(&cfg[i], x, n, NULL, 0, &rng);
      CHECK(same(&ref, &r), "%s: random blocks (seed %llu) differ", names[i], (unsigned long long)seed);
      ft_frames_free(&r);
    }
    size_t odd[] = {159, 161, 512, 7, 4096};
    ft_frames o = run_blocks(&cfg[i], x, n, odd, 5, NULL);
    CHECK(same(&ref, &o), "%s: blocks of 159/161/512/7/4096 differ", names[i]);
    ft_frames_free(&o);
    /* the clip function gives the same bits */
    float *clip = NULL;
    size_t frames = 0;
    ser_error e;
    CHECK(ser_features_clip(&cfg[i], x, n, &clip, &frames, &e) == 0, "%s: clip: %s", names[i], e.msg);
    CHECK(frames == ref.n && clip && !memcmp(clip, ref.data, sizeof(float) * frames * ref.dim),
          "%s: clip output differs from streaming", names[i]);
    free(clip);
    ft_frames_free(&ref);
  }
}

static void test_reuse(const float *x, size_t n) {
  ser_feature_params p;
  ser_feature_params_default(&p);
  p.deltas = 2;
  p.preemph = 0.9f;
  size_t whole = n;
  ft_frames ref = run_blocks(&p, x, n, &whole, 1, NULL);
  ser_error e;
  ser_mfcc *m = ser_mfcc_new(&p, &e);
  ft_frames c = {.dim = ser_mfcc_dim(m)};
  /* a partial stream, reset, then the real one: same as fresh */
  ser_mfcc_push(m, x + 1000, 20000, ft_collect, &c);
  ser_mfcc_reset(m);
  ft_frames_free(&c);
  c.dim = ser_mfcc_dim(m);
  ser_mfcc_push(m, x, n, ft_collect, &c);
  ser_mfcc_flush(m, ft_collect, &c);
  CHECK(same(&ref, &c), "reset does not forget the earlier stream");
  ft_frames_free(&c);
  c.dim = ser_mfcc_dim(m);
  /* after flush the extractor starts a new stream */
  ser_mfcc_push(m, x, n, ft_collect, &c);
  ser_mfcc_flush(m, ft_collect, &c);
  CHECK(same(&ref, &c), "a second stream after flush differs");
  ft_frames_free(&c);
  ft_frames_free(&ref);
  ser_mfcc_free(m);
}

/* One whole-clip extractor for many clips gives what a new one gives for each:
 * pieces of real speech in an order where a voiced piece (the pitch
 * tracker's held value) comes before others, with pitch + deltas and with the
 * paper preset (center, top_db), and an empty piece in between. */
static void test_clip_reuse(const float *x, size_t n) {
  ser_feature_params cfg[2];
  ser_feature_params_default(&cfg[0]);
  cfg[0].pitch = 1;
  cfg[0].deltas = 2;
  ser_feature_params_paper(&cfg[1]);
  const char *names[2] = {"pitch+deltas", "paper"};
  const size_t piece[][2] = {{n / 3, n - n / 3}, {0, 0}, {0, n / 2}, {n / 2, 7000}, {1000, n - 1000}, {n / 3, n - n / 3}};
  for (int i = 0; i < 2; i++) {
    ser_error e;
    ser_mfcc *m = ser_mfcc_clip_new(&cfg[i], &e);
    CHECK(m, "%s: ser_mfcc_clip_new: %s", names[i], e.msg);
    if (!m) continue;
    for (size_t k = 0; k < sizeof piece / sizeof piece[0]; k++) {
      const float *a = x + piece[k][0];
      size_t na = piece[k][1];
      float *ref = NULL, *got = NULL;
      size_t nr = 0, ng = 0;
      CHECK(ser_features_clip(&cfg[i], a, na, &ref, &nr, &e) == 0, "%s: piece %zu: %s", names[i], k, e.msg);
      CHECK(ser_mfcc_clip(m, a, na, &got, &ng, &e) == 0, "%s: piece %zu: reused: %s", names[i], k, e.msg);
      CHECK(nr == ng && (nr == 0 || !memcmp(ref, got, sizeof(float) * nr * ser_feature_dim(&cfg[i]))),
            "%s: piece %zu (%zu samples): the reused extractor differs from a new one (%zu / %zu frames)",
            names[i], k, na, ng, nr);
      CHECK(na == 0 || nr > 0, "%s: piece %zu: no frames", names[i], k);
      free(ref);
      free(got);
    }
    ser_mfcc_free(m);
  }
  ser_error e;
  ser_feature_params bad;
  ser_feature_params_default(&bad);
  bad.n_mfcc = 0;
  CHECK(!ser_mfcc_clip_new(&bad, &e) && strstr(e.msg, "n_mfcc"), "bad params: %s", e.msg);
}

static void test_edges(void) {
  ser_feature_params p;
  ser_feature_params_default(&p);
  ser_error e;
  float buf[2048] = {0};
  for (uint32_t d = 0; d <= 2; d++) {
    p.deltas = d;
    ser_mfcc *m = ser_mfcc_new(&p, &e);
    ft_frames c = {.dim = ser_mfcc_dim(m)};
    ser_mfcc_push(m, buf, 0, ft_collect, &c);
    ser_mfcc_flush(m, ft_collect, &c);
    CHECK(c.n == 0, "deltas %u: empty input gave %zu frames", d, c.n);
    ser_mfcc_push(m, buf, 511, ft_collect, &c);
    ser_mfcc_flush(m, ft_collect, &c);
    CHECK(c.n == 0, "deltas %u: 511 samples (< n_fft) gave %zu frames", d, c.n);
    ser_mfcc_push(m, buf, 512, ft_collect, &c);
    CHECK(d > 0 || c.n == 1, "512 samples: %zu frames before flush", c.n);
    ser_mfcc_flush(m, ft_collect, &c);
    CHECK(c.n == 1, "deltas %u: 512 samples gave %zu frames", d, c.n);
    /* one frame: deltas of a constant sequence are 0 */
    for (uint32_t i = p.n_mfcc; i < c.dim; i++)
      CHECK(c.data[i] == 0.0f, "deltas %u: single frame delta %u = %g", d, i, (double)c.data[i]);
    ft_frames_free(&c);
    ser_mfcc_free(m);
  }
  p.deltas = 0;
  float *out = (float *)1;
  size_t frames = 99;
  CHECK(ser_features_clip(&p, buf, 0, &out, &frames, &e) == 0 && out == NULL && frames == 0,
        "empty clip: %zu frames", frames);
  CHECK(ser_features_clip(&p, buf, 300, &out, &frames, &e) == 0 && out == NULL && frames == 0,
        "short clip: %zu frames", frames);
  p.center = 1;
  CHECK(ser_features_clip(&p, buf, 300, &out, &frames, &e) == 0 && frames == 2 && out,
        "short centred clip: %zu frames (expected 1 + 300/160 = 2)", frames);
  free(out);
}

static void test_silence_noise(void) {
  ser_feature_params p;
  ser_feature_params_default(&p);
  p.zcr_rms = 1;
  size_t n = 16000;
  float *x = calloc(n, sizeof(float));
  for (int lg = 0; lg < 2; lg++) {
    p.log = lg ? SER_LOG_LN : SER_LOG_DB;
    size_t whole = n;
    ft_frames c = run_blocks(&p, x, n, &whole, 1, NULL);
    CHECK(c.n == 97, "silence: %zu frames", c.n);
    /* constant log floor -> DCT-II ortho: c0 = floor * sqrt(n_mels), rest 0 */
    double floor_v = lg ? log(1e-6) : -100.0;
    float c0 = (float)(floor_v * sqrt(40.0));
    for (size_t t = 0; t < c.n; t++) {
      const float *r = c.data + t * c.dim;
      CHECK(fabsf(r[0] - c0) < 1e-3f, "silence: c0 %g, expected %g", (double)r[0], (double)c0);
      for (uint32_t i = 1; i < 40; i++) CHECK(fabsf(r[i]) < 1e-3f, "silence: c%u = %g", i, (double)r[i]);
      CHECK(r[40] == 0.0f && r[41] == 0.0f, "silence: zcr %g rms %g", (double)r[40], (double)r[41]);
      CHECK(fabsf(c.energy[t] + 100.0f) < 1e-4f, "silence: energy %g dB", (double)c.energy[t]);
    }
    ft_frames_free(&c);
  }
  /* full-scale noise and a full-scale square wave */
  ser_rng rng;
  ser_rng_seed(&rng, 7);
  for (size_t i = 0; i < n; i++) x[i] = 2.0f * ser_rng_uniform(&rng) - 1.0f;
  p.log = SER_LOG_DB;
  p.deltas = 2;
  size_t whole = n;
  ft_frames c = run_blocks(&p, x, n, &whole, 1, NULL);
  int finite = 1;
  for (size_t i = 0; i < c.n * c.dim; i++) finite &= isfinite(c.data[i]);
  CHECK(finite, "noise: non-finite output");
  for (size_t t = 0; t < c.n; t++) {
    CHECK(fabsf(c.energy[t] - (-4.77f)) < 0.5f, "noise: energy %g dB, expected about -4.77", (double)c.energy[t]);
    float zcr = c.data[t * c.dim + 120], rms = c.data[t * c.dim + 121];
    CHECK(zcr > 0.4f && zcr < 0.6f, "noise: zcr %g", (double)zcr);
    CHECK(fabsf(rms - 0.577f) < 0.05f, "noise: rms %g", (double)rms);
  }
  ft_frames_free(&c);
  for (size_t i = 0; i < n; i++) x[i] = (i / 8) % 2 ? 1.0f : -1.0f;
  c = run_blocks(&p, x, n, &whole, 1, NULL);
  finite = 1;
  for (size_t i = 0; i < c.n * c.dim; i++) finite &= isfinite(c.data[i]);
  CHECK(finite, "square wave: non-finite output");
  CHECK(c.n && fabsf(c.energy[0]) < 1e-3f, "square wave: energy %g dB, expected 0", c.n ? (double)c.energy[0] : 0.0);
  CHECK(c.n && fabsf(c.data[121] - 1.0f) < 1e-6f, "square wave: rms %g", c.n ? (double)c.data[121] : 0.0);
  CHECK(c.n && fabsf(c.data[120] - 49.0f / 400.0f) < 1e-6f, "square wave: zcr %g, expected 49/400", c.n ? (double)c.data[120] : 0.0);
  ft_frames_free(&c);
  /* finite but absurdly loud (power overflows float): output stays finite */
  for (size_t i = 0; i < n; i++) x[i] = (i % 3 ? 3e30f : -2e30f) * (float)(i % 7);
  p.log = SER_LOG_LN;
  c = run_blocks(&p, x, n, &whole, 1, NULL);
  finite = c.n == 97;
  for (size_t i = 0; i < c.n * c.dim; i++) finite &= isfinite(c.data[i]);
  for (size_t t = 0; t < c.n; t++) finite &= isfinite(c.energy[t]);
  CHECK(finite, "huge finite input: non-finite output");
  ft_frames_free(&c);
  /* the same with pitch, and at amplitudes where only the pitch FFTs overflow */
  p.pitch = 1;
  const float amps[] = {3e30f, 1e17f, 1e15f, 1e12f};
  for (int k = 0; k < 4; k++) {
    for (size_t i = 0; i < n; i++) x[i] = amps[k] * sinf(0.05f * (float)i) * (float)(1 + i % 3);
    c = run_blocks(&p, x, n, &whole, 1, NULL);
    finite = c.n == 97;
    for (size_t i = 0; i < c.n * c.dim; i++) finite &= isfinite(c.data[i]);
    CHECK(finite, "pitch, amplitude %g: non-finite output", (double)amps[k]);
    ft_frames_free(&c);
  }
  p.pitch = 0;
  free(x);
}

static void test_nonfinite(const float *speech, size_t n) {
  ser_feature_params p;
  ser_feature_params_default(&p);
  p.deltas = 1;
  p.preemph = 0.97f;
  float *x = malloc(sizeof(float) * n), *z = malloc(sizeof(float) * n);
  memcpy(x, speech, sizeof(float) * n);
  memcpy(z, speech, sizeof(float) * n);
  size_t pos[] = {0, 5000, 5001, 12345, n - 1};
  for (size_t i = 0; i < 5; i++) {
    x[pos[i]] = i % 3 == 0 ? NAN : i % 3 == 1 ? INFINITY : -INFINITY;
    z[pos[i]] = 0.0f;
  }
  ser_error e;
  ser_mfcc *m = ser_mfcc_new(&p, &e);
  ft_frames a = {.dim = ser_mfcc_dim(m)}, b = {.dim = ser_mfcc_dim(m)};
  for (size_t i = 0; i < n; i += 333) ser_mfcc_push(m, x + i, n - i < 333 ? n - i : 333, ft_collect, &a);
  ser_mfcc_flush(m, ft_collect, &a);
  CHECK(ser_mfcc_nonfinite(m) == 5, "counted %llu non-finite samples, expected 5",
        (unsigned long long)ser_mfcc_nonfinite(m));
  ser_mfcc_free(m);
  size_t whole = n;
  b = run_blocks(&p, z, n, &whole, 1, NULL);
  int finite = 1;
  for (size_t i = 0; i < a.n * a.dim; i++) finite &= isfinite(a.data[i]);
  CHECK(finite, "NaN/Inf input: non-finite output");
  CHECK(same(&a, &b), "NaN/Inf input: output differs from the same input with zeros");
  float *out = NULL;
  size_t frames = 0;
  CHECK(ser_features_clip(&p, x, n, &out, &frames, &e) == 0 && frames == a.n &&
            !memcmp(out, a.data, sizeof(float) * frames * a.dim),
        "NaN/Inf input: clip output differs from streaming");
  free(out);
  ft_frames_free(&a);
  ft_frames_free(&b);
  free(x);
  free(z);
}

typedef void (*mutate_fn)(ser_feature_params *);
#define MUT(name, body) static void name(ser_feature_params *p) { body; }
MUT(m_rate0, p->sample_rate = 0)
MUT(m_rate_hi, p->sample_rate = 192001)
MUT(m_nmels_hi, p->n_mels = 258)
MUT(m_nmels0, p->n_mels = 0)
MUT(m_fmax_hi, p->fmax = 8000.5f)
MUT(m_fmin_ge, (p->fmin = 4000.0f, p->fmax = 4000.0f))
MUT(m_fmin_neg, p->fmin = -1.0f)
MUT(m_fmin_nan, p->fmin = NAN)
MUT(m_hop0, p->hop_length = 0)
MUT(m_win_hi, p->win_length = 513)
MUT(m_win0, p->win_length = 0)
MUT(m_nfft_small, p->n_fft = 8)
MUT(m_nmfcc_hi, p->n_mfcc = 41)
MUT(m_nmfcc0, p->n_mfcc = 0)
MUT(m_dw_even, (p->deltas = 1, p->delta_width = 8))
MUT(m_dw_small, (p->deltas = 2, p->delta_width = 1))
MUT(m_deltas3, p->deltas = 3)
MUT(m_window, p->window = 2)
MUT(m_scale, p->mel_scale = 7)
MUT(m_norm, p->mel_norm = 2)
MUT(m_log, p->log = 2)
MUT(m_preemph, p->preemph = 1.0f)
MUT(m_preemph_neg, p->preemph = -0.5f)
MUT(m_center, p->center = 2)
MUT(m_topdb, p->top_db = -1.0f)
MUT(m_topdb_ln, (p->top_db = 80.0f, p->log = SER_LOG_LN))
MUT(m_zcr, p->zcr_rms = 5)

static void test_params(void) {
  static const struct {
    mutate_fn fn;
    const char *field;
  } cases[] = {
      {m_rate0, "sample_rate"}, {m_rate_hi, "sample_rate"}, {m_nmels_hi, "n_mels"},
      {m_nmels0, "n_mels"}, {m_fmax_hi, "fmax"}, {m_fmin_ge, "fmin"}, {m_fmin_neg, "fmin"},
      {m_fmin_nan, "fmin"}, {m_hop0, "hop_length"}, {m_win_hi, "win_length"},
      {m_win0, "win_length"}, {m_nfft_small, "n_fft"}, {m_nmfcc_hi, "n_mfcc"},
      {m_nmfcc0, "n_mfcc"}, {m_dw_even, "delta_width"}, {m_dw_small, "delta_width"},
      {m_deltas3, "deltas"}, {m_window, "window"}, {m_scale, "mel_scale"}, {m_norm, "mel_norm"},
      {m_log, "log"}, {m_preemph, "preemph"}, {m_preemph_neg, "preemph"}, {m_center, "center"},
      {m_topdb, "top_db"}, {m_topdb_ln, "top_db"}, {m_zcr, "zcr_rms"},
  };
  ser_feature_params p;
  ser_error e;
  ser_feature_params_default(&p);
  CHECK(ser_feature_params_check(&p, &e) == 0, "defaults refused: %s", e.msg);
  CHECK(ser_feature_dim(&p) == 40, "default dim %u", ser_feature_dim(&p));
  ser_feature_params_paper(&p);
  CHECK(ser_feature_params_check(&p, &e) == 0, "paper preset refused: %s", e.msg);
  CHECK(ser_feature_dim(&p) == 22, "paper dim %u", ser_feature_dim(&p));
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    ser_feature_params_default(&p);
    cases[i].fn(&p);
    memset(&e, 0, sizeof e);
    int rc = ser_feature_params_check(&p, &e);
    size_t fl = strlen(cases[i].field);
    CHECK(rc < 0 && !strncmp(e.msg, cases[i].field, fl) && e.msg[fl] == ':',
          "case %zu: expected an error naming %s, got rc %d '%s'", i, cases[i].field, rc, e.msg);
    memset(&e, 0, sizeof e);
    ser_mfcc *m = ser_mfcc_new(&p, &e);
    CHECK(m == NULL && !strncmp(e.msg, cases[i].field, fl), "case %zu: ser_mfcc_new accepted it ('%s')", i, e.msg);
    ser_mfcc_free(m);
    float *out = NULL;
    size_t fr;
    float x[600] = {0};
    CHECK(ser_features_clip(&p, x, 600, &out, &fr, &e) < 0 && out == NULL, "case %zu: clip accepted it", i);
  }
  /* fine for a clip, not for a stream */
  ser_feature_params_default(&p);
  p.center = 1;
  CHECK(ser_feature_params_check(&p, &e) == 0, "center refused for clips: %s", e.msg);
  CHECK(ser_mfcc_new(&p, &e) == NULL && !strncmp(e.msg, "center:", 7), "stream with center: '%s'", e.msg);
  ser_feature_params_default(&p);
  p.top_db = 80.0f;
  CHECK(ser_mfcc_new(&p, &e) == NULL && !strncmp(e.msg, "top_db:", 7), "stream with top_db: '%s'", e.msg);
  /* fmax = Nyquist exactly and n_mels = all bins are fine */
  ser_feature_params_default(&p);
  p.fmax = 8000.0f;
  p.n_mels = 257;
  p.n_mfcc = 13;
  ser_mfcc *m = ser_mfcc_new(&p, &e);
  CHECK(m != NULL, "fmax 8000, n_mels 257 refused: %s", e.msg);
  ser_mfcc_free(m);
}

/* threads creating, using and freeing extractors of several FFT sizes */
typedef struct job {
  const float *x;
  size_t n;
  const ft_frames *ref; /* per configuration */
  int ok;
  int id;
} job;

static void cfg_of(int k, ser_feature_params *p) {
  ser_feature_params_default(p);
  if (k == 1) p->n_fft = 1024, p->deltas = 1;
  if (k == 2) p->n_fft = 2048, p->win_length = 2048, p->hop_length = 512, p->n_mels = 64, p->n_mfcc = 20;
}

static void *worker(void *arg) {
  job *j = arg;
  j->ok = 1;
  ser_rng rng;
  ser_rng_seed(&rng, 100 + (uint64_t)j->id);
  for (int it = 0; it < 6; it++) {
    int k = (j->id + it) % 3;
    ser_feature_params p;
    cfg_of(k, &p);
    ft_frames c = run_blocks(&p, j->x, j->n, NULL, 0, &rng);
    if (!same(&c, &j->ref[k])) j->ok = 0;
    ft_frames_free(&c);
  }
  return NULL;
}

static void test_threads(const float *x, size_t n) {
  ft_frames ref[3];
  for (int k = 0; k < 3; k++) {
    ser_feature_params p;
    cfg_of(k, &p);
    ref[k] = run_blocks(&p, x, n, &n, 1, NULL);
  }
  enum { NT = 6 };
  pthread_t th[NT];
  job jobs[NT];
  for (int i = 0; i < NT; i++) {
    jobs[i] = (job){.x = x, .n = n, .ref = ref, .id = i};
    CHECK(pthread_create(&th[i], NULL, worker, &jobs[i]) == 0, "pthread_create");
  }
  for (int i = 0; i < NT; i++) {
    pthread_join(th[i], NULL);
    CHECK(jobs[i].ok, "thread %d: output differs from the single-threaded reference", i);
  }
  for (int k = 0; k < 3; k++) ft_frames_free(&ref[k]);
}

int main(void) {
  size_t n = 0;
  float *x = ft_dataset_wav(CLIP, &n);
  CHECK(x && n > 16000, "%s: not loaded", CLIP);
  if (!x) return 1;
  test_blocks(x, n);
  test_reuse(x, n);
  test_clip_reuse(x, n);
  test_edges();
  test_silence_noise();
  test_nonfinite(x, n);
  test_params();
  test_threads(x, n);
  free(x);
  return ft_finish("test_stream");
}
