/* The .sermodel reader and writer: round trips, and every kind of bad file
 * (truncated, corrupt, wrong version, bad checksum, oversized counts, shapes
 * that do not chain) gives the right error, never a crash. */
#include <math.h>
#include <unistd.h>

#include "net_test.h"
#include "ser.h"

/* ---- byte-level helpers (independent of the library's own code) ---- */
static uint32_t crc32_ref(const uint8_t *p, size_t n) {
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; i++) {
    c ^= p[i];
    for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
  }
  return ~c;
}
static uint32_t get32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static void set32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void set64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
/* Offset of section `tag`'s header, or 0. */
static size_t find_sec(const uint8_t *b, size_t n, const char *tag) {
  size_t off = 12;
  while (off + 12 <= n) {
    uint64_t len = get32(b + off + 4) | (uint64_t)get32(b + off + 8) << 32;
    if (!memcmp(b + off, tag, 4)) return off;
    off += 12 + len;
  }
  return 0;
}
/* Recompute the END checksum (END is the last 16 bytes). */
static void refix(uint8_t *b, size_t n) { set32(b + n - 4, crc32_ref(b, n - 16)); }

static uint8_t *model_bytes(const char *name, size_t *n) {
  char path[4400];
  snprintf(path, sizeof path, "%s/%s", fixture_dir(), name);
  uint8_t *b = read_all(path, n);
  if (!b) {
    fprintf(stderr, "cannot read %s\n", path);
    exit(1);
  }
  return b;
}

/* Expect reading (b, n) to fail with a message containing `want`. */
static void expect_fail(const uint8_t *b, size_t n, const char *want, const char *what) {
  ser_model_spec s;
  ser_error e = {{0}};
  int r = ser_model_spec_read_mem(b, n, &s, &e);
  CHECK(r < 0, "%s: accepted", what);
  CHECK(strstr(e.msg, want) != NULL, "%s: message '%s' lacks '%s'", what, e.msg, want);
  ser_model *m = ser_model_load_mem(b, n, &e);
  CHECK(m == NULL, "%s: load_mem accepted", what);
  ser_model_unref(m);
}

static uint32_t feat_dim(const ser_feature_params *f) {
  return f->n_mfcc * (1 + f->deltas) + (f->zcr_rms ? 2 : 0) + (f->pitch ? 2 : 0);
}

static int spec_equal(const ser_model_spec *a, const ser_model_spec *b) {
  if (a->arch != b->arch || memcmp(&a->feat, &b->feat, sizeof a->feat) || a->n_labels != b->n_labels ||
      a->in_ch != b->in_ch || a->in_len != b->in_len || a->clip_samples != b->clip_samples ||
      a->n_layers != b->n_layers || a->n_meta != b->n_meta || !a->norm_mean != !b->norm_mean)
    return 0;
  for (uint32_t i = 0; i < a->n_labels; i++)
    if (strcmp(a->labels[i], b->labels[i])) return 0;
  uint32_t d = feat_dim(&a->feat);
  if (a->norm_mean && (memcmp(a->norm_mean, b->norm_mean, d * 4) || memcmp(a->norm_std, b->norm_std, d * 4)))
    return 0;
  if (!a->spk_mean != !b->spk_mean || memcmp(&a->spk, &b->spk, sizeof a->spk)) return 0;
  if (a->spk_mean && (memcmp(a->spk_mean, b->spk_mean, d * 4) || memcmp(a->spk_std, b->spk_std, d * 4)))
    return 0;
  for (uint32_t i = 0; i < a->n_layers; i++) {
    const ser_layer *x = &a->layers[i], *y = &b->layers[i];
    if (x->kind != y->kind || x->in_ch != y->in_ch || x->out_ch != y->out_ch || x->kernel != y->kernel ||
        x->stride != y->stride || x->padding != y->padding || x->dilation != y->dilation ||
        x->reduction != y->reduction || x->mode != y->mode || x->eps != y->eps || x->p != y->p ||
        x->n_params != y->n_params || (x->n_params && memcmp(x->params, y->params, x->n_params * 4)))
      return 0;
  }
  for (uint32_t i = 0; i < a->n_meta; i++)
    if (strcmp(a->meta_keys[i], b->meta_keys[i]) || strcmp(a->meta_values[i], b->meta_values[i])) return 0;
  if (a->n_extra != b->n_extra) return 0;
  for (uint32_t k = 1; k <= a->n_extra; k++) { /* an ensemble's further networks */
    ser_model_spec va, vb;
    ser_model_spec_net_view(a, k, &va);
    ser_model_spec_net_view(b, k, &vb);
    if (!spec_equal(&va, &vb)) return 0;
  }
  return 1;
}

static void test_round_trip(void) {
  static const char *names[] = {"temporal.sermodel", "conv.sermodel", "pools.sermodel", "attention.sermodel",
                                "paper.sermodel", "temporal_maxpool.sermodel"};
  for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
    size_t n;
    uint8_t *b = model_bytes(names[k], &n);
    ser_model_spec s, s2;
    ser_error e = {{0}};
    CHECK(ser_model_spec_read_mem(b, n, &s, &e) == 0, "%s: %s", names[k], e.msg);
    void *out = NULL;
    size_t on = 0;
    CHECK(ser_model_spec_write_mem(&s, &out, &on, &e) == 0, "%s: write: %s", names[k], e.msg);
    /* the C writer and the Python exporter produce identical bytes */
    CHECK(on == n && !memcmp(out, b, n), "%s: rewritten bytes differ (%zu vs %zu)", names[k], on, n);
    CHECK(ser_model_spec_read_mem(out, on, &s2, &e) == 0, "%s: reread: %s", names[k], e.msg);
    CHECK(spec_equal(&s, &s2), "%s: round trip changed the spec", names[k]);
    ser_model_spec_clear(&s2);
    /* copy, metadata */
    CHECK(ser_model_spec_copy(&s2, &s, &e) == 0, "copy: %s", e.msg);
    CHECK(spec_equal(&s, &s2), "%s: copy differs", names[k]);
    CHECK(ser_model_spec_set_meta(&s2, "name", "renamed") == 0, "set_meta replace");
    CHECK(ser_model_spec_set_meta(&s2, "corpus", "EMO-DB") == 0, "set_meta add");
    CHECK(s2.n_meta == s.n_meta + 1, "meta count %u", s2.n_meta);
    /* through a file */
    char path[64];
    snprintf(path, sizeof path, "/tmp/ser-test-format-%d.sermodel", (int)getpid());
    CHECK(ser_model_spec_write(&s2, path, &e) == 0, "write file: %s", e.msg);
    ser_model *m = ser_model_load(path, &e);
    CHECK(m != NULL, "load written: %s", e.msg);
    if (m) {
      CHECK(ser_model_meta(m, "name") && !strcmp(ser_model_meta(m, "name"), "renamed"), "meta name");
      CHECK(ser_model_meta(m, "corpus") && !strcmp(ser_model_meta(m, "corpus"), "EMO-DB"), "meta corpus");
      CHECK(ser_model_meta(m, "nonexistent") == NULL, "absent meta");
      CHECK(spec_equal(ser_model_get_spec(m), &s2), "loaded spec differs");
      uint64_t np = 0;
      for (uint32_t i = 0; i < s.n_layers; i++) np += s.layers[i].n_params;
      CHECK(ser_model_n_params(m) == np, "n_params %llu vs %llu", (unsigned long long)ser_model_n_params(m),
            (unsigned long long)np);
      ser_model_unref(m);
    }
    unlink(path);
    ser_model_spec_clear(&s2);
    CHECK(s2.n_layers == 0 && s2.layers == NULL, "clear leaves it zeroed");
    ser_model_spec_clear(&s);
    free(out);
    free(b);
  }
}

static void test_bad_files(void) {
  size_t n;
  uint8_t *orig = model_bytes("temporal.sermodel", &n);
  uint8_t *b = malloc(n + 64);
  ser_error e;
#define RESET() memcpy(b, orig, n)

  expect_fail(orig, 0, "too short", "empty");
  expect_fail(orig, 7, "too short", "7 bytes");
  RESET();
  b[0] = 'X';
  expect_fail(b, n, "bad magic", "magic");
  RESET();
  set32(b + 8, 2);
  expect_fail(b, n, "unsupported format version 2", "version");
  RESET();
  b[n / 2] ^= 0x40;
  expect_fail(b, n, "checksum mismatch", "flipped bit");
  RESET();
  set32(b + n - 4, get32(b + n - 4) ^ 1);
  expect_fail(b, n, "checksum mismatch", "bad checksum");

  /* every truncation point fails cleanly */
  for (size_t cut = 0; cut < n; cut += (cut < 400 || cut > n - 400) ? 1 : 97) {
    ser_model_spec s;
    e.msg[0] = 0;
    int r = ser_model_spec_read_mem(orig, cut, &s, &e);
    CHECK(r < 0 && (strstr(e.msg, "truncated") || strstr(e.msg, "too short")),
          "cut at %zu: r=%d '%s'", cut, r, e.msg);
    if (r == 0) ser_model_spec_clear(&s);
  }
  size_t lay = find_sec(orig, n, "LAYR");
  CHECK(lay > 0, "no LAYR");
  expect_fail(orig, lay + 200, "truncated: section LAYR declares", "cut inside LAYR");

  /* a section length beyond the file */
  RESET();
  set64(b + lay + 4, 0xFFFFFFFFFFFFull);
  expect_fail(b, n, "truncated: section LAYR declares 281474976710655 bytes", "huge section");

  /* oversized counts with a correct checksum */
  size_t lab = find_sec(orig, n, "LABL");
  RESET();
  set32(b + lab + 12, 1000);
  refix(b, n);
  expect_fail(b, n, "1000 labels, expected 1..64", "label count");
  RESET();
  set32(b + lab + 16, 1000); /* length of label 0 */
  refix(b, n);
  expect_fail(b, n, "label 0: length 1000 is more than the limit 64", "label length");
  RESET();
  set32(b + lay + 12, 100000);
  refix(b, n);
  expect_fail(b, n, "100000 layers, expected 1..256", "layer count");
  RESET();
  set32(b + lay + 12 + 4 + 44, 0xFFFFFFFFu); /* layer 0 n_params */
  refix(b, n);
  expect_fail(b, n, "layer 0 (conv1d): declares 4294967295 weights but its shape needs", "n_params");
  RESET();
  set32(b + lay + 12 + 4 + 8, 65537); /* layer 0 out_ch */
  refix(b, n);
  expect_fail(b, n, "layer 0 (conv1d): 13 -> 65537 channels, the limits are 65536 -> 65536", "channels");
  RESET();
  set32(b + lay + 12 + 4 + 12, 5000); /* layer 0 kernel */
  refix(b, n);
  expect_fail(b, n, "kernel 5000 is more than the limit 4096", "kernel");
  RESET();
  set32(b + lay + 12 + 4, 99); /* layer 0 kind */
  refix(b, n);
  expect_fail(b, n, "layer 0: unknown layer kind 99", "kind");
  /* a layer that declares more weights than remain: layer 0 as a big conv */
  RESET();
  set32(b + lay + 12 + 4 + 4, 4096);  /* in_ch */
  set32(b + lay + 12 + 4 + 8, 256);   /* out_ch */
  set32(b + lay + 12 + 4 + 12, 1);    /* kernel */
  set32(b + lay + 12 + 4 + 44, 4096 * 256 + 256);
  refix(b, n);
  expect_fail(b, n, "truncated: layer 0 (conv1d) declares 1048832 weights but", "weights beyond the end");
  /* shapes that do not chain: layer 0 as conv with 12 inputs (the file has 13) */
  RESET();
  set32(b + lay + 12 + 4 + 4, 12);
  set32(b + lay + 12 + 4 + 44, 12 * 16 * 5 + 16);
  {
    /* shrink the section: drop 16*5 floats of layer 0 */
    size_t cut_at = lay + 12 + 4 + 48, drop = 16 * 5 * 4;
    memmove(b + cut_at, b + cut_at + drop, n - cut_at - drop);
    uint64_t len = get32(b + lay + 4);
    set64(b + lay + 4, len - drop);
    refix(b, n - drop);
    expect_fail(b, n - drop, "layer 0 (conv1d): in_ch 12 but its input has 13 channels", "chain");
  }
  /* non-finite weight */
  RESET();
  set32(b + lay + 12 + 4 + 48, 0x7FC00000u);
  refix(b, n);
  expect_fail(b, n, "layer 0 (conv1d): parameter 0 is not finite", "NaN weight");
  /* missing section (renamed) and duplicate section */
  RESET();
  memcpy(b + lab, "XABL", 4);
  refix(b, n);
  expect_fail(b, n, "section LABL is missing", "missing labels");
  size_t meta = find_sec(orig, n, "META");
  CHECK(meta > 0, "no META");
  RESET();
  memcpy(b + meta, "LABL", 4);
  refix(b, n);
  expect_fail(b, n, "section LABL appears twice", "duplicate");
  /* trailing bytes after END */
  RESET();
  b[n] = 0;
  expect_fail(b, n + 1, "unexpected bytes after the END section", "trailing");
  /* no END */
  RESET();
  expect_fail(b, n - 16, "no END section", "no end");
  /* an unknown section is skipped: insert "XTRA" with 5 bytes before END */
  RESET();
  {
    size_t body = n - 16;
    memcpy(b + body, "XTRA", 4);
    set64(b + body + 4, 5);
    memcpy(b + body + 12, "hello", 5);
    memcpy(b + body + 17, orig + n - 16, 16);
    refix(b, n + 17);
    ser_model_spec s;
    CHECK(ser_model_spec_read_mem(b, n + 17, &s, &e) == 0, "unknown section: %s", e.msg);
    ser_model_spec_clear(&s);
  }
  /* every single-byte corruption of the first 600 bytes, with a fixed
   * checksum: no crash, and either a clean error or a valid model */
  for (size_t i = 12; i < 600 && i < n - 16; i++) {
    RESET();
    b[i] ^= 0xA5;
    refix(b, n);
    ser_model *m = ser_model_load_mem(b, n, &e);
    if (m) {
      ser_net *nn = ser_net_new(m, 64, &e);
      static float x[64 * 64], p[64];
      if (nn) CHECK(ser_net_forward(nn, x, 64, p, &e) == 0, "forward on mutated model: %s", e.msg);
      ser_net_free(nn);
      ser_model_unref(m);
    }
  }
  /* file errors name the file */
  ser_model_spec s;
  CHECK(ser_model_spec_read("/nonexistent/x.sermodel", &s, &e) < 0 && strstr(e.msg, "/nonexistent/x.sermodel"),
        "missing file: %s", e.msg);
  char path[64];
  snprintf(path, sizeof path, "/tmp/ser-test-trunc-%d.sermodel", (int)getpid());
  FILE *f = fopen(path, "wb");
  fwrite(orig, 1, lay + 100, f);
  fclose(f);
  CHECK(ser_model_load(path, &e) == NULL && strstr(e.msg, path) && strstr(e.msg, "truncated"), "named: %s",
        e.msg);
  unlink(path);
  CHECK(ser_model_load("/tmp", &e) == NULL, "a directory is not a model");
  free(b);
  free(orig);
}

/* A spec built in C: checks that ser_model_spec_check catches bad specs. */
static void test_spec_check(void) {
  size_t n;
  uint8_t *orig = model_bytes("conv.sermodel", &n);
  ser_model_spec s;
  ser_error e;
  CHECK(ser_model_spec_read_mem(orig, n, &s, &e) == 0, "%s", e.msg);
  CHECK(ser_model_spec_check(&s, &e) == 0, "valid: %s", e.msg);
  ser_model_spec c;
#define MUTATE(stmt, want) MUTATE_UNDO(stmt, want, (void)0)
#define MUTATE_UNDO(stmt, want, undo)                                           \
  do {                                                                          \
    ser_model_spec_copy(&c, &s, NULL);                                          \
    stmt;                                                                       \
    e.msg[0] = 0;                                                               \
    CHECK(ser_model_spec_check(&c, &e) < 0 && strstr(e.msg, want), "%s: '%s'", #stmt, e.msg); \
    ser_model *mm = ser_model_from_spec(&c, &e);                                \
    CHECK(mm == NULL, "from_spec accepted %s", #stmt);                          \
    ser_model_unref(mm);                                                        \
    void *d = NULL;                                                             \
    size_t dn;                                                                  \
    CHECK(ser_model_spec_write_mem(&c, &d, &dn, &e) < 0, "writer accepted %s", #stmt); \
    free(d);                                                                    \
    undo;                                                                       \
    ser_model_spec_clear(&c);                                                   \
  } while (0)
  MUTATE(c.arch = 7, "architecture: 7");
  MUTATE(c.in_ch = 9, "in_ch: 9 but the feature parameters give 8");
  MUTATE_UNDO(c.n_labels = 0, "labels: 0 labels", c.n_labels = s.n_labels);
  MUTATE(c.labels[1][0] = 0, "label 1: empty");
  MUTATE(strcpy(c.labels[1], c.labels[0]), "appears twice");
  MUTATE(c.labels[1][0] = '1', "label 1: '1lass1' is not a usable name");
  MUTATE(c.labels[0][2] = ' ', "label 0: 'cl ss0' is not a usable name");
  MUTATE(c.layers[0].stride = 0, "layer 0 (conv1d): stride 0");
  MUTATE(c.layers[0].dilation = 0, "layer 0 (conv1d): dilation 0");
  MUTATE(c.layers[0].n_params--, "layer 0 (conv1d): has");
  MUTATE(c.layers[1].eps = 0, "layer 1 (batchnorm): eps");
  MUTATE(c.layers[4].padding = 2, "layer 4 (avgpool): padding 2 is more than half");
  MUTATE(c.layers[c.n_layers - 1].kind = SER_L_RELU, "the last layer must be softmax");
  MUTATE(c.in_len = 3, "in_len: default window of 3 frames is shorter than the minimum 5");
  MUTATE(c.feat.n_mfcc = 0, "features:");
  /* the feature extractor's own rules, which the loader used to leave to the first classification */
  MUTATE(c.feat.fmin = -1.0f, "features: fmin: -1 Hz must be finite and >= 0");
  {
    float *m = calloc(8, 4), *sd = calloc(8, 4);
    for (int i = 0; i < 8; i++) sd[i] = 1.0f;
    sd[3] = 0.0f;
    MUTATE((c.norm_mean = m, c.norm_std = sd), "normalisation: std[3]");
  }
  ser_model_spec_clear(&s);
  free(orig);
}

/* A dense layer fed by a flatten may be wider than the channel limit (the
 * paper network's is 256 x 2376): such a model writes, reads back and runs. */
static void test_wide_dense(void) {
  ser_model_spec s;
  memset(&s, 0, sizeof s);
  ser_feature_params_default(&s.feat);
  s.arch = SER_ARCH_PAPER;
  s.in_ch = 1;
  s.in_ch = 1;
  s.in_len = 300;
  static char l0[] = "a", l1[] = "b";
  char *labels[] = {l0, l1};
  s.n_labels = 2;
  s.labels = labels;
  ser_layer layers[4];
  memset(layers, 0, sizeof layers);
  layers[0] = (ser_layer){.kind = SER_L_CONV1D, .in_ch = 1, .out_ch = 256, .kernel = 1, .stride = 1, .dilation = 1};
  layers[1] = (ser_layer){.kind = SER_L_FLATTEN};
  layers[2] = (ser_layer){.kind = SER_L_DENSE, .in_ch = 256 * 300, .out_ch = 2};
  layers[3] = (ser_layer){.kind = SER_L_SOFTMAX};
  for (int i = 0; i < 4; i++) {
    layers[i].n_params = ser_layer_param_count(&layers[i]);
    layers[i].params = layers[i].n_params ? calloc(layers[i].n_params, sizeof(float)) : NULL;
    for (uint32_t k = 0; k < layers[i].n_params; k++) layers[i].params[k] = (float)((k * 2654435761u) % 1000) * 1e-6f;
  }
  s.n_layers = 4;
  s.layers = layers;
  ser_error e = {{0}};
  void *buf = NULL;
  size_t n = 0;
  CHECK(ser_model_spec_write_mem(&s, &buf, &n, &e) == 0, "write: %s", e.msg);
  ser_model *m = buf ? ser_model_load_mem(buf, n, &e) : NULL;
  CHECK(m != NULL, "a 76800-wide dense layer is refused: %s", e.msg);
  if (m) {
    ser_net *net = ser_net_new(m, 300, &e);
    CHECK(net != NULL, "net: %s", e.msg);
    float x[300], p[2];
    for (int i = 0; i < 300; i++) x[i] = (float)i / 300.0f;
    if (net) CHECK(ser_net_forward(net, x, 300, p, &e) == 0 && fabsf(p[0] + p[1] - 1.0f) < 1e-5f, "forward: %s", e.msg);
    ser_net_free(net);
    ser_model_unref(m);
  }
  free(buf);
  for (int i = 0; i < 4; i++) free(layers[i].params);
}

static void test_default_model(void) {
  ser_error e;
  ser_model *m = ser_model_default(&e);
  CHECK(m != NULL, "default: %s", e.msg);
  if (!m) return;
  static const char *labels[] = {"neutral", "happy", "sad", "angry", "fearful", "disgusted", "surprised"};
  CHECK(ser_model_n_labels(m) == 7, "labels %u", ser_model_n_labels(m));
  for (uint32_t i = 0; i < 7 && i < ser_model_n_labels(m); i++)
    CHECK(!strcmp(ser_model_label(m, i), labels[i]), "label %u is %s", i, ser_model_label(m, i));
  CHECK(ser_model_label(m, 7) == NULL, "label 7");
  CHECK(ser_model_arch(m) == SER_ARCH_TEMPORAL, "arch");
  CHECK(ser_model_features(m)->sample_rate == 16000, "rate");
  const ser_model_spec *s = ser_model_get_spec(m);
  CHECK(s->in_ch == feat_dim(ser_model_features(m)), "in_ch %u", s->in_ch);
  CHECK(ser_model_window_samples(m) == (uint64_t)(s->in_len - 1) * 160 + 512, "window samples");
  CHECK(ser_model_min_frames(m) >= 1 && ser_model_min_frames(m) <= s->in_len, "min frames");
  double f1 = ser_model_flops(m, 300), f2 = ser_model_flops(m, 600);
  CHECK(f1 > 1e6 && f2 > 1.8 * f1, "flops %g %g", f1, f2);
  /* the network runs and gives a distribution */
  ser_net *n = ser_net_new(m, s->in_len, &e);
  CHECK(n != NULL, "net: %s", e.msg);
  if (n) {
    float *x = calloc((size_t)s->in_len * s->in_ch, 4), p[7];
    ser_rng r;
    ser_rng_seed(&r, 1);
    for (size_t i = 0; i < (size_t)s->in_len * s->in_ch; i++) x[i] = ser_rng_normal(&r);
    CHECK(ser_net_forward(n, x, s->in_len, p, &e) == 0, "forward: %s", e.msg);
    double sum = 0;
    for (int i = 0; i < 7; i++) sum += p[i];
    CHECK(fabs(sum - 1) < 1e-5, "sum %g", sum);
    CHECK(ser_net_forward(n, x, s->in_len + 1, p, &e) < 0 && strstr(e.msg, "maximum"), "over max: %s", e.msg);
    free(x);
    ser_net_free(n);
  }
  ser_model_unref(m);
}

/* The speaker normaliser's section (SPKN): written, read back, and every
 * field's bad value refused with a correct checksum. */
static void test_speaker_section(void) {
  size_t n0;
  uint8_t *orig = model_bytes("conv.sermodel", &n0);
  ser_model_spec s, back;
  ser_error e;
  CHECK(ser_model_spec_read_mem(orig, n0, &s, &e) == 0, "conv.sermodel: %s", e.msg);
  uint32_t d = feat_dim(&s.feat);
  s.spk_mean = malloc(d * sizeof(float));
  s.spk_std = malloc(d * sizeof(float));
  for (uint32_t i = 0; i < d; i++) s.spk_mean[i] = 0.5f * (float)i - 3, s.spk_std[i] = 1.0f + (float)i;
  s.spk = (ser_spknorm_params){90, 3, -50};
  void *buf;
  size_t n;
  CHECK(ser_model_spec_write_mem(&s, &buf, &n, &e) == 0, "write: %s", e.msg);
  CHECK(ser_model_spec_read_mem(buf, n, &back, &e) == 0, "read: %s", e.msg);
  CHECK(spec_equal(&s, &back), "SPKN round trip differs");
  ser_model_spec_clear(&back);
  uint8_t *b = malloc(n);
  size_t at = find_sec(buf, n, "SPKN");
  CHECK(at > 0, "no SPKN section");
#define SPKN_RESET() memcpy(b, buf, n)
  SPKN_RESET();
  set32(b + at + 12, d + 1); /* count */
  refix(b, n);
  char want[128];
  snprintf(want, sizeof want, "section SPKN: %u statistics but the features have %u", d + 1, d);
  expect_fail(b, n, want, "SPKN count");
  SPKN_RESET();
  set32(b + at + 16, 0xBF800000u); /* memory_s = -1 */
  refix(b, n);
  expect_fail(b, n, "speaker normaliser: memory -1 s", "SPKN memory");
  SPKN_RESET();
  set32(b + at + 24, 0x7FC00000u); /* gate_db = NaN */
  refix(b, n);
  expect_fail(b, n, "speaker normaliser: gate", "SPKN gate");
  SPKN_RESET();
  set32(b + at + 28 + 4 * d + 4 * 2, 0); /* prior std[2] = 0 */
  refix(b, n);
  expect_fail(b, n, "speaker normalisation: prior std[2] must be positive", "SPKN std");
  SPKN_RESET();
  set32(b + at + 4, 12); /* the count and 8 bytes: too short for the 3 parameters */
  memmove(b + at + 24, b + at + 28 + 8 * d, n - (at + 28 + 8 * d));
  size_t m = n - (4 + 8 * d);
  refix(b, m);
  expect_fail(b, m, "truncated: section SPKN has no room for its 3 parameters", "SPKN short");
  /* a paper model may not carry one */
  s.arch = SER_ARCH_PAPER;
  s.in_ch = 1;
  CHECK(ser_model_spec_check(&s, &e) < 0 && strstr(e.msg, "only temporal models"), "paper + SPKN: '%s'", e.msg);
#undef SPKN_RESET
  free(b);
  free(buf);
  free(orig);
  ser_model_spec_clear(&s);
}

/* the pitch field: written (FEAT grows to 76 bytes) only when set, read
 * back, 0 when absent, checked */
static void test_pitch_field(void) {
  size_t n0;
  uint8_t *orig = model_bytes("temporal.sermodel", &n0);
  ser_model_spec s, back;
  ser_error e;
  CHECK(ser_model_spec_read_mem(orig, n0, &s, &e) == 0, "temporal.sermodel: %s", e.msg);
  size_t at0 = find_sec(orig, n0, "FEAT");
  CHECK(at0 && get32(orig + at0 + 4) == 72 && s.feat.pitch == 0, "a model without pitch: FEAT %u bytes",
        at0 ? get32(orig + at0 + 4) : 0);
  uint32_t d = feat_dim(&s.feat);
  s.feat.pitch = 1;
  s.feat.n_mfcc -= 2; /* the same values per frame, so the network still fits */
  CHECK(feat_dim(&s.feat) == d, "dim");
  void *buf;
  size_t n;
  CHECK(ser_model_spec_write_mem(&s, &buf, &n, &e) == 0, "write: %s", e.msg);
  size_t at = find_sec(buf, n, "FEAT");
  CHECK(n == n0 + 4 && at && get32((uint8_t *)buf + at + 4) == 76 && get32((uint8_t *)buf + at + 12 + 72) == 1,
        "FEAT with pitch: %zu bytes in all (was %zu)", n, n0);
  CHECK(ser_model_spec_read_mem(buf, n, &back, &e) == 0, "read: %s", e.msg);
  CHECK(back.feat.pitch == 1 && spec_equal(&s, &back), "pitch round trip differs");
  ser_model_spec_clear(&back);
  ser_model *m = ser_model_load_mem(buf, n, &e);
  CHECK(m != NULL, "load with pitch: %s", e.msg);
  if (m) {
    CHECK(ser_model_get_spec(m)->feat.pitch == 1, "loaded model lost pitch");
    ser_model_unref(m);
  }
  uint8_t *b = malloc(n);
  memcpy(b, buf, n);
  set32(b + at + 12 + 72, 2);
  refix(b, n);
  expect_fail(b, n, "features: an enumerated parameter is out of range", "FEAT pitch = 2");
  free(b);
  free(buf);
  free(orig);
  ser_model_spec_clear(&s);
}

/* Ensembles: networks 2.. in the ENSM section; scores are the mean. */
static void scale_params(ser_model_spec *s, float f) {
  for (uint32_t i = 0; i < s->n_layers; i++)
    for (uint32_t k = 0; k < s->layers[i].n_params; k++) s->layers[i].params[k] *= f;
}

static void test_ensemble(void) {
  size_t n0;
  uint8_t *orig = model_bytes("temporal.sermodel", &n0);
  ser_model_spec a, b, c, back;
  ser_error e = {{0}};
  CHECK(ser_model_spec_read_mem(orig, n0, &a, &e) == 0, "temporal.sermodel: %s", e.msg);
  CHECK(ser_model_spec_copy(&b, &a, &e) == 0 && ser_model_spec_copy(&c, &a, &e) == 0, "copy: %s", e.msg);
  scale_params(&b, 0.8f); /* batch norm variances stay positive */
  scale_params(&c, 1.25f);
  ser_model *m1 = ser_model_from_spec(&a, &e), *m2 = ser_model_from_spec(&b, &e), *m3 = ser_model_from_spec(&c, &e);
  CHECK(m1 && m2 && m3, "members: %s", e.msg);
  uint64_t np1 = m1 ? ser_model_n_params(m1) : 0;
  double fl1 = m1 ? ser_model_flops(m1, 300) : 0;
  CHECK(ser_model_spec_n_nets(&a) == 1 && m1 && ser_model_n_nets(m1) == 1 && ser_model_net(m1, 0) == m1 &&
            ser_model_net(m1, 1) == NULL,
        "one network");
  /* add_nets moves b's network (and c's) into a */
  CHECK(ser_model_spec_add_nets(&a, &b, &e) == 0, "add b: %s", e.msg);
  CHECK(b.layers == NULL && b.n_layers == 0 && a.n_extra == 1, "b's network moved");
  CHECK(ser_model_spec_add_nets(&a, &c, &e) == 0, "add c: %s", e.msg);
  CHECK(ser_model_spec_n_nets(&a) == 3 && ser_model_spec_check(&a, &e) == 0, "3 networks: %s", e.msg);
  ser_model_spec_clear(&b);
  ser_model_spec_clear(&c);
  /* round trip: one ENSM section after LAYR, two networks in it */
  void *buf = NULL;
  size_t n = 0;
  CHECK(ser_model_spec_write_mem(&a, &buf, &n, &e) == 0, "write: %s", e.msg);
  size_t at = find_sec(buf, n, "ENSM"), lay = find_sec(buf, n, "LAYR");
  uint32_t lay_len = lay ? get32((uint8_t *)buf + lay + 4) : 0;
  CHECK(at && lay && at > lay && get32((uint8_t *)buf + at + 12) == 2 &&
            get32((uint8_t *)buf + at + 4) == 4 + 2 * (lay_len),
        "ENSM section: count 2, two LAYR bodies");
  CHECK(n == n0 + 12 + 4 + 2 * (size_t)lay_len, "file size %zu", n);
  CHECK(ser_model_spec_read_mem(buf, n, &back, &e) == 0, "read: %s", e.msg);
  CHECK(spec_equal(&a, &back), "ensemble round trip differs");
  ser_model_spec_clear(&back);
  ser_model *m = ser_model_load_mem(buf, n, &e);
  CHECK(m != NULL, "load: %s", e.msg);
  if (m && m1 && m2 && m3) {
    CHECK(ser_model_n_nets(m) == 3 && ser_model_net(m, 3) == NULL, "n_nets %u", ser_model_n_nets(m));
    CHECK(ser_model_n_params(m) == 3 * np1, "n_params %llu, 3 x %llu", (unsigned long long)ser_model_n_params(m),
          (unsigned long long)np1);
    CHECK(fabs(ser_model_flops(m, 300) - 3 * fl1) < 1e-6 * fl1, "flops %g vs 3 x %g", ser_model_flops(m, 300), fl1);
    /* ser_net_forward of the ensemble = the mean of its networks', each run alone */
    const uint32_t T = 120, d = a.in_ch, L = a.n_labels;
    float *x = malloc((size_t)T * d * sizeof *x), p[64], q[3][64];
    for (uint32_t i = 0; i < T * d; i++) x[i] = sinf(0.37f * (float)i) + 0.3f * cosf(0.011f * (float)i * i);
    ser_net *ne = ser_net_new(m, T, &e);
    ser_model *ms[3] = {m1, m2, m3};
    CHECK(ne && ser_net_forward(ne, x, T, p, &e) == 0, "ensemble forward: %s", e.msg);
    float diff = 0, spread = 0;
    for (int k = 0; k < 3; k++) {
      ser_net *nk = ser_net_new(ser_model_net(m, (uint32_t)k), T, &e), *rk = ser_net_new(ms[k], T, &e);
      float r[64];
      CHECK(nk && rk && ser_net_forward(nk, x, T, q[k], &e) == 0 && ser_net_forward(rk, x, T, r, &e) == 0,
            "network %d: %s", k, e.msg);
      for (uint32_t j = 0; j < L; j++) diff = fmaxf(diff, fabsf(q[k][j] - r[j])); /* ser_model_net(m, k) is member k */
      ser_net_free(nk);
      ser_net_free(rk);
    }
    for (uint32_t j = 0; j < L; j++) {
      float mean = (q[0][j] + q[1][j] + q[2][j]) / 3;
      diff = fmaxf(diff, fabsf(p[j] - mean));
      spread = fmaxf(spread, fabsf(q[0][j] - q[1][j]));
    }
    CHECK(diff < 1e-6f && spread > 1e-3f, "ensemble = mean of members: diff %g, members differ by %g", diff, spread);
    /* layer ranges run one network at a time */
    float out[4096];
    uint32_t oc, ot;
    CHECK(ne && ser_net_n_layers(ne) == 0 &&
              ser_net_forward_layers(ne, 0, 1, x, d, T, out, 4096, &oc, &ot, &e) < 0 && strstr(e.msg, "ensemble"),
          "layer range on an ensemble: %s", e.msg);
    ser_net_free(ne);
    free(x);
    ser_model_unref(m);
  }
  /* a reader without ENSM skips it (an unknown tag) and runs network 1 alone */
  uint8_t *u = malloc(n);
  memcpy(u, buf, n);
  memcpy(u + at, "ENSX", 4);
  refix(u, n);
  m = ser_model_load_mem(u, n, &e);
  CHECK(m && ser_model_n_nets(m) == 1 && ser_model_n_params(m) == np1, "unknown tag skipped: %s", e.msg);
  ser_model_unref(m);
  /* bad ENSM counts (the section holds 2 further networks) */
  static const struct {
    uint32_t count;
    const char *msg, *what;
  } bad_counts[] = {
      {0, "section ENSM: 0 further networks", "ENSM count 0"},
      {16, "section ENSM: 16 further networks, expected 1..15", "ENSM count 16"},
      {3, "section ENSM: network 4: ", "ENSM count 3 with 2 networks"},
      {1, "section ENSM: ", "ENSM count 1 with 2 networks"},
  };
  for (size_t i = 0; i < sizeof bad_counts / sizeof bad_counts[0]; i++) {
    memcpy(u, buf, n);
    set32(u + at + 12, bad_counts[i].count);
    refix(u, n);
    expect_fail(u, n, bad_counts[i].msg, bad_counts[i].what);
  }
  /* network 3's dense layer gives 3 outputs, not the labels' count */
  ser_model_spec bad;
  CHECK(ser_model_spec_copy(&bad, &a, &e) == 0, "copy: %s", e.msg);
  ser_layer_list *l3 = &bad.extra[1];
  for (uint32_t i = l3->n_layers; i-- > 0;)
    if (l3->layers[i].kind == SER_L_DENSE) {
      l3->layers[i].out_ch = 3;
      l3->layers[i].n_params = ser_layer_param_count(&l3->layers[i]);
      break;
    }
  CHECK(ser_model_spec_check(&bad, &e) < 0 && strstr(e.msg, "network 3 of 3: layers: the network gives 3 x 1"),
        "a member with the wrong outputs: %s", e.msg);
  ser_model_spec_clear(&bad);
  /* members must share features, labels and normalisation */
  CHECK(ser_model_spec_read_mem(orig, n0, &b, &e) == 0, "reread: %s", e.msg);
  free(b.labels[0]);
  b.labels[0] = strdup("other");
  CHECK(ser_model_spec_add_nets(&a, &b, &e) < 0 && strstr(e.msg, "different labels") && b.layers,
        "labels differ: %s", e.msg);
  free(b.labels[0]);
  b.labels[0] = strdup(a.labels[0]);
  if (b.norm_mean) {
    b.norm_mean[0] += 1;
    CHECK(ser_model_spec_add_nets(&a, &b, &e) < 0 && strstr(e.msg, "NORM"), "NORM differs: %s", e.msg);
    b.norm_mean[0] -= 1;
  }
  b.feat.fmin += 1;
  CHECK(ser_model_spec_add_nets(&a, &b, &e) < 0 && strstr(e.msg, "feature parameters"), "FEAT differs: %s", e.msg);
  ser_model_spec_clear(&b);
  free(u);
  free(buf);
  free(orig);
  ser_model_unref(m1);
  ser_model_unref(m2);
  ser_model_unref(m3);
  ser_model_spec_clear(&a);
}

int main(void) {
  test_round_trip();
  test_ensemble();
  test_pitch_field();
  test_bad_files();
  test_spec_check();
  test_default_model();
  test_wide_dense();
  test_speaker_section();
  return finish("test_format");
}
