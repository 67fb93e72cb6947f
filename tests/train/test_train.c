/* Training on real speech (EMO-DB, read directly from its WAV files):
 *  1. a small model trained a few epochs on 6 speakers, 4 classes, is
 *     clearly above chance on 2 speakers it never saw (UA >= 1.5 x chance);
 *  2. the written model, loaded by the inference code (ser_model_load +
 *     ser_net_forward, batch norm folded), gives the same probabilities as
 *     the training net in eval mode;
 *  3. the same seed gives bit-identical weights (2 threads);
 *  4. train N epochs == train N/2 (--stop-after), resume, N/2 more;
 *  5. distillation: with soft targets that name another class than the
 *     label (a fixed permutation) and distill_alpha 1, the network learns
 *     the soft targets, not the labels; bad soft targets are refused;
 *  6. class weights on the labels of EMO-DB (its 7 classes) + RAVDESS: by
 *     class, EMO-DB's boredom (a class RAVDESS lacks) outweighs EMO-DB's
 *     neutral; by corpus, every class of a corpus weighs the same there.
 * Sizes shrink under sanitizers (SER_TRAIN_TINY=1 or ASan builds). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ser.h"

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

/* Minimal RIFF/WAVE reader: 16-bit PCM mono (EMO-DB's format). */
static float *read_wav(const char *path, size_t *n, uint32_t *rate) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  unsigned char h[12];
  float *x = NULL;
  uint16_t fmt = 0, ch = 0, bits = 0;
  *rate = 0;
  if (fread(h, 1, 12, f) != 12 || memcmp(h, "RIFF", 4) || memcmp(h + 8, "WAVE", 4)) goto out;
  for (;;) {
    unsigned char c[8];
    if (fread(c, 1, 8, f) != 8) break;
    uint32_t len = c[4] | c[5] << 8 | c[6] << 16 | (uint32_t)c[7] << 24;
    if (!memcmp(c, "fmt ", 4)) {
      unsigned char b[16];
      if (len < 16 || fread(b, 1, 16, f) != 16) break;
      fmt = b[0] | b[1] << 8;
      ch = b[2] | b[3] << 8;
      *rate = b[4] | b[5] << 8 | b[6] << 16 | (uint32_t)b[7] << 24;
      bits = b[14] | b[15] << 8;
      fseek(f, (long)(len - 16 + (len & 1)), SEEK_CUR);
    } else if (!memcmp(c, "data", 4)) {
      if (fmt != 1 || ch != 1 || bits != 16) break;
      size_t cnt = len / 2;
      int16_t *s = malloc(cnt * 2);
      x = malloc(cnt * sizeof(float));
      if (!s || !x || fread(s, 2, cnt, f) != cnt) {
        free(s);
        free(x);
        x = NULL;
        break;
      }
      for (size_t i = 0; i < cnt; i++) x[i] = s[i] / 32768.f;
      free(s);
      *n = cnt;
      break;
    } else {
      fseek(f, (long)(len + (len & 1)), SEEK_CUR);
    }
  }
out:
  fclose(f);
  return x;
}

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
}

static int load(const char *root, const char *const *spk, int nspk, set *s) {
  ser_corpus c;
  ser_error err;
  char dir[4096];
  snprintf(dir, sizeof dir, "%s/emodb/wav", root);
  if (ser_corpus_scan_dir(dir, &c, &err) < 0) {
    printf("cannot scan %s: %s\n", dir, err.msg);
    return -1;
  }
  s->c = calloc(c.n, sizeof *s->c);
  s->a = calloc(c.n, sizeof *s->a);
  s->n = 0;
  for (size_t i = 0; i < c.n; i++) {
    int keep = 0;
    for (int k = 0; k < nspk; k++) keep |= !strcmp(c.items[i].speaker, spk[k]);
    int li = ser_label_map(c.items[i].label, labels, 4);
    if (!keep || li < 0) continue;
    size_t n = 0;
    uint32_t rate = 0;
    float *x = read_wav(c.items[i].path, &n, &rate);
    if (!x || rate != 16000) {
      printf("cannot read %s\n", c.items[i].path);
      free(x);
      continue;
    }
    s->a[s->n] = x;
    s->c[s->n].audio = x;
    s->c[s->n].n = n;
    s->c[s->n].label = (uint32_t)li;
    s->c[s->n].speaker = (uint32_t)(c.items[i].speaker[7] - '0');
    s->n++;
  }
  ser_corpus_free(&c);
  return 0;
}

static int tiny;

static int build(ser_model_spec *spec, const set *tr, uint64_t seed) {
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
  if (ser_arch_build(&a, &fp, labels, 4, seed, spec, &err) < 0) {
    printf("build: %s\n", err.msg);
    return -1;
  }
  if (ser_train_norm_stats(spec, tr->c, tr->n, &err) < 0) {
    printf("norm: %s\n", err.msg);
    return -1;
  }
  return 0;
}

static void opts(ser_train_options *o, uint32_t epochs) {
  ser_train_options_default(o);
  o->epochs = epochs;
  o->batch = 16;
  o->lr = 3e-3f;
  o->warmup_epochs = 1;
  o->threads = 2;
  o->seed = 7;
  o->aug.p_shift = 0;
}

static size_t flat_params(const ser_model_spec *s, float **out) {
  size_t n = 0;
  for (uint32_t i = 0; i < s->n_layers; i++) n += s->layers[i].n_params;
  float *v = malloc((n + 1) * sizeof(float));
  size_t k = 0;
  for (uint32_t i = 0; i < s->n_layers; i++) {
    if (s->layers[i].n_params) memcpy(v + k, s->layers[i].params, s->layers[i].n_params * sizeof(float));
    k += s->layers[i].n_params;
  }
  *out = v;
  return n;
}

static int same_params(const ser_model_spec *a, const ser_model_spec *b) {
  float *x, *y;
  size_t n = flat_params(a, &x), m = flat_params(b, &y);
  int same = n == m && !memcmp(x, y, n * sizeof(float));
  free(x);
  free(y);
  return same;
}

/* 6. class weights (balanced 1 and 2) on the real label counts of EMO-DB's 7
 * classes plus RAVDESS (calm as neutral, surprised dropped): groups 0 and 1 */
static void test_class_weights(const char *root) {
  const char *lab7[] = {"neutral", "happy", "sad", "angry", "fearful", "disgusted", "boredom"};
  const char *dirs[] = {"emodb", "ravdess16k"};
  ser_clip *c = NULL;
  size_t n = 0, cnt[2][7] = {{0}};
  for (uint32_t g = 0; g < 2; g++) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", root, dirs[g]);
    ser_corpus co;
    ser_error err;
    if (ser_corpus_scan_dir(path, &co, &err) < 0) {
      CHECK(0, "%s", err.msg);
      return;
    }
    ser_clip *c2 = realloc(c, (n + co.n) * sizeof *c);
    if (!c2) break;
    c = c2;
    for (size_t i = 0; i < co.n; i++) {
      int k = ser_label_map(co.items[i].label, lab7, 7);
      if (k < 0) continue;
      memset(&c[n], 0, sizeof c[n]);
      c[n].label = (uint32_t)k;
      c[n].group = g;
      cnt[g][k]++;
      n++;
    }
    ser_corpus_free(&co);
  }
  CHECK(cnt[0][6] == 81 && cnt[0][0] == 79 && cnt[1][6] == 0 && cnt[1][0] == 240, "counts: emodb boredom %zu "
        "neutral %zu, ravdess boredom %zu neutral %zu", cnt[0][6], cnt[0][0], cnt[1][6], cnt[1][0]);
  float *w = malloc((n ? n : 1) * sizeof *w);
  double sum[3][2][7] = {{{0}}}; /* balanced 0..2, group, class */
  for (int b = 0; b < 3 && w; b++) {
    CHECK(ser_train_class_weights(c, n, 7, b, w) == 0, "class weights %d", b);
    for (size_t i = 0; i < n; i++) {
      sum[b][c[i].group][c[i].label] += w[i];
      if (b == 0) CHECK(w[i] == 1.f, "balanced 0: weight %g", w[i]);
    }
  }
  /* by class: every class the same total over both corpora ... */
  double t0 = sum[1][0][0] + sum[1][1][0];
  for (int k = 1; k < 7; k++)
    CHECK(fabs(sum[1][0][k] + sum[1][1][k] - t0) < 1e-3 * t0, "by class: class %d total %g, neutral %g", k,
          sum[1][0][k] + sum[1][1][k], t0);
  /* ... so on EMO-DB's voices boredom weighs over 4 times neutral */
  CHECK(sum[1][0][6] > 4 * sum[1][0][0], "by class: EMO-DB boredom %g vs neutral %g", sum[1][0][6], sum[1][0][0]);
  /* by corpus: within each corpus its classes the same total, the corpus its size */
  for (int g = 0; g < 2; g++) {
    double tot = 0, first = g ? sum[2][1][0] : sum[2][0][0];
    for (int k = 0; k < 7; k++) {
      tot += sum[2][g][k];
      if (cnt[g][k]) CHECK(fabs(sum[2][g][k] - first) < 1e-3 * first, "by corpus %d: class %d %g vs %g", g, k,
                           sum[2][g][k], first);
    }
    size_t ng = 0;
    for (int k = 0; k < 7; k++) ng += cnt[g][k];
    CHECK(fabs(tot - (double)ng) < 1e-3 * (double)ng, "by corpus %d: total %g, %zu clips", g, tot, ng);
  }
  printf("class weights: EMO-DB boredom/neutral %.2f by class, %.2f by corpus\n", sum[1][0][6] / sum[1][0][0],
         sum[2][0][6] / sum[2][0][0]);
  /* a label out of range is refused */
  if (n) {
    c[0].label = 7;
    CHECK(ser_train_class_weights(c, n, 7, 1, w) < 0, "label 7 of 7 accepted");
  }
  free(w);
  free(c);
}

int main(void) {
  const char *root = getenv("SER_DATASETS");
  if (!root) {
    printf("SER_DATASETS not set\n");
    return 1;
  }
  tiny = SANITIZED || getenv("SER_TRAIN_TINY") != NULL;
  test_class_weights(root);
  const char *trs[] = {"emodb:03", "emodb:08", "emodb:09", "emodb:10", "emodb:11", "emodb:12"};
  const char *tes[] = {"emodb:13", "emodb:14"};
  set tr, te;
  if (load(root, trs, 6, &tr) < 0 || load(root, tes, 2, &te) < 0) return 1;
  printf("train %zu clips (6 speakers), test %zu clips (2 other speakers), %s net\n", tr.n, te.n,
         tiny ? "tiny" : "small");
  CHECK(tr.n > 100 && te.n > 30, "expected EMO-DB clips, got %zu / %zu", tr.n, te.n);
  ser_error err;
  char tmpl[] = "/tmp/ser-train-test-XXXXXX";
  char *dir = mkdtemp(tmpl);
  if (!dir) return 1;

  /* 1. above chance on unseen speakers */
  ser_model_spec spec;
  if (build(&spec, &tr, 1) < 0) return 1;
  ser_train_options o;
  opts(&o, tiny ? 6 : 12);
  ser_train_result res;
  int rc = ser_train(&spec, tr.c, tr.n, NULL, 0, &o, &res, &err);
  CHECK(rc == 0, "train: %s", err.msg);
  ser_tnet *ev = ser_tnet_new(&spec, 1, spec.in_len, &err);
  uint32_t tot[4] = {0}, ok[4] = {0};
  float probs[4];
  for (size_t i = 0; i < te.n; i++) {
    if (ser_train_classify_clip(ev, te.c[i].audio, te.c[i].n, probs, &err) < 0) {
      CHECK(0, "classify: %s", err.msg);
      break;
    }
    uint32_t am = 0;
    for (uint32_t k = 1; k < 4; k++)
      if (probs[k] > probs[am]) am = k;
    tot[te.c[i].label]++;
    ok[te.c[i].label] += am == te.c[i].label;
  }
  double ua = 0;
  for (int k = 0; k < 4; k++) ua += tot[k] ? (double)ok[k] / tot[k] / 4 : 0;
  printf("unseen speakers: UA %.1f%% (chance 25%%) after %u epochs, %.1f s, loss %.3f\n", 100 * ua,
         res.epochs_run, res.seconds, res.final_loss);
  CHECK(ua >= 0.375, "UA %.3f below 1.5 x chance", ua);

  /* 2. inference code == training net in eval mode */
  char path[4200];
  snprintf(path, sizeof path, "%s/m.sermodel", dir);
  ser_model_spec_set_meta(&spec, "name", "test");
  CHECK(ser_model_spec_write(&spec, path, &err) == 0, "write: %s", err.msg);
  ser_model *m = ser_model_load(path, &err);
  CHECK(m != NULL, "load: %s", err.msg);
  if (m) {
    ser_net *net = ser_net_new(m, spec.in_len * 2, &err);
    CHECK(net != NULL, "net: %s", err.msg);
    double worst = 0;
    for (size_t i = 0; net && i < te.n; i += 7) {
      float *x = NULL;
      uint32_t nf = 0;
      if (ser_train_clip_input(&spec, te.c[i].audio, te.c[i].n, spec.in_len, &x, &nf, &err) < 0) break;
      uint32_t T = nf < spec.in_len * 2 ? nf : spec.in_len * 2;
      float pa[4], pb[4];
      ser_tnet *ev2 = ser_tnet_new(&spec, 1, T, &err);
      ser_tnet_forward(ev2, x, 1, T, 0, NULL, pa, &err);
      ser_tnet_free(ev2);
      if (ser_net_forward(net, x, T, pb, &err) < 0) {
        CHECK(0, "ser_net_forward: %s", err.msg);
        free(x);
        break;
      }
      for (int k = 0; k < 4; k++) worst = fmax(worst, fabs((double)pa[k] - pb[k]));
      free(x);
    }
    printf("inference vs training net (eval mode): max |p diff| %.2e\n", worst);
    CHECK(worst < 1e-4, "probabilities differ by %g", worst);
    ser_net_free(net);
    ser_model_unref(m);
  }
  ser_tnet_free(ev);
  ser_model_spec_clear(&spec);

  /* 3. reproducible with a seed; 4. resume == uninterrupted */
  uint32_t E = tiny ? 2 : 4;
  ser_model_spec a, b, c;
  build(&a, &tr, 3);
  build(&b, &tr, 3);
  build(&c, &tr, 3);
  opts(&o, E);
  /* a validation set exercises best-epoch bookkeeping across the resume */
  set va = te;
  va.n = te.n / 2;
  CHECK(ser_train(&a, tr.c, tr.n, va.c, va.n, &o, NULL, &err) == 0, "train a: %s", err.msg);
  CHECK(ser_train(&b, tr.c, tr.n, va.c, va.n, &o, NULL, &err) == 0, "train b: %s", err.msg);
  CHECK(same_params(&a, &b), "same seed, different weights");
  printf("same seed twice: %s\n", same_params(&a, &b) ? "identical weights" : "DIFFERENT");
  char ck[4200];
  snprintf(ck, sizeof ck, "%s/ckpt", dir);
  o.checkpoint_dir = ck;
  o.stop_after = E / 2;
  CHECK(ser_train(&c, tr.c, tr.n, va.c, va.n, &o, &res, &err) == 0, "train c: %s", err.msg);
  CHECK(res.epochs_run == E / 2, "stopped after %u epochs, wanted %u", res.epochs_run, E / 2);
  ser_model_spec_clear(&c);
  build(&c, &tr, 99); /* different init: everything must come from the checkpoint */
  o.stop_after = 0;
  o.resume = 1;
  CHECK(ser_train(&c, tr.c, tr.n, va.c, va.n, &o, &res, &err) == 0, "resume: %s", err.msg);
  CHECK(res.epochs_run == E, "resumed run ended at epoch %u", res.epochs_run);
  CHECK(same_params(&a, &c), "resume differs from an uninterrupted run");
  printf("%u epochs == %u + resume + %u: %s\n", E, E / 2, E - E / 2, same_params(&a, &c) ? "identical" : "DIFFERENT");
  /* a corrupt state file is refused with a message */
  char st[4300];
  snprintf(st, sizeof st, "%s/last.state", ck);
  FILE *f = fopen(st, "r+b");
  if (f) {
    fseek(f, 60, SEEK_SET);
    fputc(0x5a, f);
    fclose(f);
  }
  ser_model_spec_clear(&c);
  build(&c, &tr, 3);
  o.epochs = E + 1;
  rc = ser_train(&c, tr.c, tr.n, va.c, va.n, &o, &res, &err);
  CHECK(rc < 0 && strstr(err.msg, "last.state"), "corrupt state accepted (%s)", rc < 0 ? err.msg : "ok");
  printf("corrupt state: %s\n", rc < 0 ? err.msg : "ACCEPTED");
  ser_model_spec_clear(&a);
  ser_model_spec_clear(&b);
  ser_model_spec_clear(&c);

  /* 5. soft (teacher) targets are what the network learns */
  {
    static const float onehot[4][4] = {{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 1}};
    ser_clip *sc = malloc(tr.n * sizeof *sc);
    for (size_t i = 0; i < tr.n; i++) sc[i] = tr.c[i], sc[i].soft = onehot[(tr.c[i].label + 1) % 4];
    ser_model_spec d;
    build(&d, &tr, 4);
    opts(&o, tiny ? 6 : 12);
    o.distill_alpha = 1;
    rc = ser_train(&d, sc, tr.n, NULL, 0, &o, &res, &err);
    CHECK(rc == 0, "train with soft targets: %s", err.msg);
    ser_tnet *dv = ser_tnet_new(&d, 1, d.in_len, &err);
    size_t as_soft = 0, as_label = 0;
    for (size_t i = 0; dv && rc == 0 && i < tr.n; i++) {
      if (ser_train_classify_clip(dv, tr.c[i].audio, tr.c[i].n, probs, &err) < 0) break;
      uint32_t am = 0;
      for (uint32_t k = 1; k < 4; k++)
        if (probs[k] > probs[am]) am = k;
      as_soft += am == (tr.c[i].label + 1) % 4;
      as_label += am == tr.c[i].label;
    }
    printf("soft targets (label + 1), alpha 1: training clips classified as their soft target %.1f%%, as their "
           "label %.1f%%\n", 100.0 * as_soft / tr.n, 100.0 * as_label / tr.n);
    CHECK(as_soft > tr.n / 2 && as_label < tr.n / 4, "soft targets not learned: %zu as soft, %zu as label of %zu",
          as_soft, as_label, tr.n);
    ser_tnet_free(dv);
    /* bad soft targets: named clip and value */
    float bad[4] = {0.5f, NAN, 0.5f, 0};
    sc[3].soft = bad;
    rc = ser_train(&d, sc, tr.n, NULL, 0, &o, &res, &err);
    CHECK(rc < 0 && strstr(err.msg, "training clip 3") && strstr(err.msg, "soft target 1"), "NaN soft target: %s",
          rc < 0 ? err.msg : "accepted");
    bad[1] = 0.2f;
    rc = ser_train(&d, sc, tr.n, NULL, 0, &o, &res, &err);
    CHECK(rc < 0 && strstr(err.msg, "training clip 3") && strstr(err.msg, "sum to 1.2"), "soft targets summing to "
          "1.2: %s", rc < 0 ? err.msg : "accepted");
    printf("bad soft targets: %s\n", rc < 0 ? err.msg : "ACCEPTED");
    ser_model_spec_clear(&d);
    free(sc);
  }
  char cmd[4400];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) printf("could not remove %s\n", dir);
  set_free(&tr);
  set_free(&te);
  printf("%s\n", failures ? "FAILED" : "all training tests passed");
  return failures ? 1 : 0;
}
