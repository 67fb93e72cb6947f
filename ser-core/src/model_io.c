/* The .sermodel file: reader and writer. Byte-level format in
 * docs/model-format.md. Every count and size is checked against the bytes
 * that remain and against fixed limits before anything is allocated. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model_internal.h"

#define MAGIC "SERMODEL"
#define FORMAT_VERSION 1u
#define HDR_SIZE 12u     /* magic + version */
#define SEC_HDR 12u      /* tag + u64 length */
#define LAYER_REC 48u    /* fixed part of a layer record */
#define FEAT_REC 72u     /* 18 fields */
#define ARCH_REC 16u

/* ---- CRC-32 (IEEE 802.3, as zlib.crc32), slicing by 8 ---- */
static uint32_t crc_table[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    crc_table[0][i] = c;
  }
  for (uint32_t i = 0; i < 256; i++)
    for (int t = 1; t < 8; t++) crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xff];
}

static uint32_t crc32_update(uint32_t crc, const uint8_t *p, size_t n) {
  pthread_once(&crc_once, crc_init);
  const uint32_t(*T)[256] = (const uint32_t(*)[256])crc_table;
  crc = ~crc;
  for (; n >= 8; n -= 8, p += 8) {
    uint32_t a = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
    uint32_t b = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;
    crc = T[7][a & 0xff] ^ T[6][(a >> 8) & 0xff] ^ T[5][(a >> 16) & 0xff] ^ T[4][a >> 24] ^ T[3][b & 0xff] ^
          T[2][(b >> 8) & 0xff] ^ T[1][(b >> 16) & 0xff] ^ T[0][b >> 24];
  }
  for (; n; n--, p++) crc = T[0][(crc ^ *p) & 0xff] ^ (crc >> 8);
  return ~crc;
}

/* ---- little-endian helpers ---- */
static uint32_t rd32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }
static float rdf(const uint8_t *p) {
  uint32_t u = rd32(p);
  float f;
  memcpy(&f, &u, 4);
  return f;
}

/* ---- reader ---- */
typedef struct {
  const uint8_t *p;
  size_t n, off;
} cur;

static size_t left(const cur *c) { return c->n - c->off; }

typedef struct {
  const char *name;
  ser_error *err;
} ctx;

#define FAIL(...) (rfail(x, __VA_ARGS__))
__attribute__((format(printf, 2, 3))) static int rfail(const ctx *x, const char *fmt, ...) {
  char buf[SER_ERR_LEN];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return ser_fail(x->err, "%s: %s", x->name, buf);
}

static int get_u32(const ctx *x, cur *c, const char *what, uint32_t *v) {
  if (left(c) < 4) return FAIL("truncated: %s needs 4 bytes but %zu remain", what, left(c));
  *v = rd32(c->p + c->off);
  c->off += 4;
  return 0;
}

/* u32 length + bytes; 1..maxlen bytes, no NUL. */
static int get_str(const ctx *x, cur *c, const char *what, uint32_t idx, uint32_t maxlen, int allow_empty,
                   char **out) {
  uint32_t len = 0;
  char w[64];
  snprintf(w, sizeof w, "%s %u", what, idx);
  if (get_u32(x, c, w, &len)) return -1;
  if (len > maxlen) return FAIL("%s: length %u is more than the limit %u", w, len, maxlen);
  if (!len && !allow_empty) return FAIL("%s: empty", w);
  if (len > left(c)) return FAIL("truncated: %s declares %u bytes but %zu remain", w, len, left(c));
  if (memchr(c->p + c->off, 0, len)) return FAIL("%s: contains a NUL byte", w);
  char *s = malloc((size_t)len + 1);
  if (!s) return FAIL("out of memory");
  memcpy(s, c->p + c->off, len);
  s[len] = 0;
  c->off += len;
  *out = s;
  return 0;
}

static int read_arch(const ctx *x, cur *c, ser_model_spec *s) {
  if (left(c) < ARCH_REC) return FAIL("section ARCH: %zu bytes, needs %u", left(c), ARCH_REC);
  s->arch = rd32(c->p + c->off);
  s->in_ch = rd32(c->p + c->off + 4);
  s->in_len = rd32(c->p + c->off + 8);
  s->clip_samples = rd32(c->p + c->off + 12);
  if (s->arch > SER_ARCH_PAPER)
    return FAIL("section ARCH: unknown architecture %u (0 temporal, 1 paper)", s->arch);
  return 0; /* later fields (a newer writer) are skipped */
}

static int read_feat(const ctx *x, cur *c, ser_model_spec *s) {
  if (left(c) < FEAT_REC) return FAIL("section FEAT: %zu bytes, needs %u", left(c), FEAT_REC);
  const uint8_t *p = c->p + c->off;
  ser_feature_params *f = &s->feat;
  f->sample_rate = rd32(p + 0);
  f->win_length = rd32(p + 4);
  f->hop_length = rd32(p + 8);
  f->n_fft = rd32(p + 12);
  f->window = rd32(p + 16);
  f->n_mels = rd32(p + 20);
  f->fmin = rdf(p + 24);
  f->fmax = rdf(p + 28);
  f->mel_scale = rd32(p + 32);
  f->mel_norm = rd32(p + 36);
  f->log = rd32(p + 40);
  f->n_mfcc = rd32(p + 44);
  f->preemph = rdf(p + 48);
  f->deltas = rd32(p + 52);
  f->delta_width = rd32(p + 56);
  f->center = rd32(p + 60);
  f->top_db = rdf(p + 64);
  f->zcr_rms = rd32(p + 68);
  f->pitch = left(c) >= FEAT_REC + 4 ? rd32(p + 72) : 0; /* written only when set */
  return 0;
}

static int read_labels(const ctx *x, cur *c, ser_model_spec *s) {
  uint32_t n = 0;
  if (get_u32(x, c, "label count", &n)) return -1;
  if (n < 1 || n > SER_MAX_LABELS) return FAIL("section LABL: %u labels, expected 1..%u", n, SER_MAX_LABELS);
  if ((uint64_t)n * 5 > left(c))
    return FAIL("truncated: %u labels need at least %u bytes but %zu remain", n, n * 5, left(c));
  s->labels = calloc(n, sizeof *s->labels);
  if (!s->labels) return FAIL("out of memory");
  s->n_labels = n;
  for (uint32_t i = 0; i < n; i++)
    if (get_str(x, c, "label", i, SER_MAX_LABEL_LEN, 0, &s->labels[i])) return -1;
  return 0;
}

static int read_floats(const ctx *x, cur *c, uint32_t n, const char *what, float **out) {
  if ((uint64_t)n * 4 > left(c))
    return FAIL("truncated: %s declares %u floats but %zu bytes remain", what, n, left(c));
  float *v = ser_alloc_weights((size_t)n * sizeof *v);
  if (!v) return FAIL("out of memory for %u floats (%s)", n, what);
  for (uint32_t i = 0; i < n; i++) v[i] = rdf(c->p + c->off + 4 * (size_t)i);
  c->off += 4 * (size_t)n;
  *out = v;
  return 0;
}

static int read_norm(const ctx *x, cur *c, ser_model_spec *s) {
  uint32_t n = 0;
  if (get_u32(x, c, "normalisation size", &n)) return -1;
  uint32_t fdim = ser_spec_feature_dim(&s->feat);
  if (n != fdim)
    return FAIL("section NORM: %u statistics but the features have %u values per frame", n, fdim);
  if (read_floats(x, c, n, "NORM mean", &s->norm_mean)) return -1;
  return read_floats(x, c, n, "NORM std", &s->norm_std);
}

/* SPKN: u32 n, f32 memory_s, prior_s, gate_db, then n prior means and n stds */
static int read_spkn(const ctx *x, cur *c, ser_model_spec *s) {
  uint32_t n = 0;
  if (get_u32(x, c, "speaker normalisation size", &n)) return -1;
  uint32_t fdim = ser_spec_feature_dim(&s->feat);
  if (n != fdim)
    return FAIL("section SPKN: %u statistics but the features have %u values per frame", n, fdim);
  if (left(c) < 12) return FAIL("truncated: section SPKN has no room for its 3 parameters");
  s->spk.memory_s = rdf(c->p + c->off);
  s->spk.prior_s = rdf(c->p + c->off + 4);
  s->spk.gate_db = rdf(c->p + c->off + 8);
  c->off += 12;
  if (read_floats(x, c, n, "SPKN prior mean", &s->spk_mean)) return -1;
  return read_floats(x, c, n, "SPKN prior std", &s->spk_std);
}

/* One network's layer list (LAYR, or one of ENSM's). pfx starts every
 * message ("" for LAYR, "section ENSM: network 2: " for the others);
 * *total counts weights over all networks. */
static int read_layer_list(const ctx *x, cur *c, const char *pfx, ser_layer_list *out, uint64_t *total) {
  uint32_t n = 0;
  char what[96];
  snprintf(what, sizeof what, "%slayer count", pfx);
  if (get_u32(x, c, what, &n)) return -1;
  if (n < 1 || n > SER_MAX_LAYERS)
    return FAIL("%s%u layers, expected 1..%u", *pfx ? pfx : "section LAYR: ", n, SER_MAX_LAYERS);
  if ((uint64_t)n * LAYER_REC > left(c))
    return FAIL("%struncated: %u layers need at least %u bytes but %zu remain", pfx, n, n * LAYER_REC, left(c));
  out->layers = calloc(n, sizeof *out->layers);
  if (!out->layers) return FAIL("out of memory");
  out->n_layers = n;
  for (uint32_t i = 0; i < n; i++) {
    ser_layer *l = &out->layers[i];
    if (left(c) < LAYER_REC)
      return FAIL("%struncated: layer %u needs %u bytes but %zu remain", pfx, i, LAYER_REC, left(c));
    const uint8_t *p = c->p + c->off;
    l->kind = rd32(p);
    l->in_ch = rd32(p + 4);
    l->out_ch = rd32(p + 8);
    l->kernel = rd32(p + 12);
    l->stride = rd32(p + 16);
    l->padding = rd32(p + 20);
    l->dilation = rd32(p + 24);
    l->reduction = rd32(p + 28);
    l->mode = rd32(p + 32);
    l->eps = rdf(p + 36);
    l->p = rdf(p + 40);
    l->n_params = rd32(p + 44);
    c->off += LAYER_REC;
    const char *kn = ser_layer_kind_name(l->kind);
    if (l->kind < SER_L_CONV1D || l->kind > SER_L_SOFTMAX)
      return FAIL("%slayer %u: unknown layer kind %u", pfx, i, l->kind);
    /* a dense layer's input is a flattened tensor (the paper network's is
     * 256 x 2376), so it may be as wide as any tensor */
    uint32_t max_in = l->kind == SER_L_DENSE ? SER_MAX_TENSOR : SER_MAX_CH;
    if (l->in_ch > max_in || l->out_ch > SER_MAX_CH)
      return FAIL("%slayer %u (%s): %u -> %u channels, the limits are %u -> %u", pfx, i, kn, l->in_ch, l->out_ch,
                  max_in, SER_MAX_CH);
    if (l->kernel > SER_MAX_KERNEL)
      return FAIL("%slayer %u (%s): kernel %u is more than the limit %u", pfx, i, kn, l->kernel, SER_MAX_KERNEL);
    uint32_t want = ser_layer_param_count(l);
    if (want > SER_MAX_PARAMS)
      return FAIL("%slayer %u (%s): its shape needs %u weights, more than the limit %u", pfx, i, kn, want, SER_MAX_PARAMS);
    if (l->n_params != want)
      return FAIL("%slayer %u (%s): declares %u weights but its shape needs %u", pfx, i, kn, l->n_params, want);
    *total += want;
    if (*total > SER_MAX_PARAMS)
      return FAIL("%slayer %u (%s): more than %u weights in total", pfx, i, kn, SER_MAX_PARAMS);
    if ((uint64_t)l->n_params * 4 > left(c))
      return FAIL("%struncated: layer %u (%s) declares %u weights but %zu bytes remain", pfx, i, kn, l->n_params,
                  left(c));
    if (l->n_params) {
      snprintf(what, sizeof what, "%slayer %u", pfx, i);
      if (read_floats(x, c, l->n_params, what, &l->params)) return -1;
    }
  }
  return 0;
}

static int read_layers(const ctx *x, cur *c, ser_model_spec *s, uint64_t *total) {
  ser_layer_list l = {0, NULL};
  int r = read_layer_list(x, c, "", &l, total);
  s->layers = l.layers;
  s->n_layers = l.n_layers;
  return r;
}

/* ENSM: u32 n, then n layer lists as in LAYR (the ensemble's networks 2..n+1) */
static int read_ensemble(const ctx *x, cur *c, ser_model_spec *s, uint64_t *total) {
  uint32_t n = 0;
  if (get_u32(x, c, "network count", &n)) return -1;
  if (n < 1 || n > SER_MAX_NETS - 1)
    return FAIL("section ENSM: %u further networks, expected 1..%u", n, SER_MAX_NETS - 1);
  if ((uint64_t)n * (4 + LAYER_REC) > left(c))
    return FAIL("truncated: section ENSM: %u networks need at least %u bytes but %zu remain", n,
                n * (4 + LAYER_REC), left(c));
  s->extra = calloc(n, sizeof *s->extra);
  if (!s->extra) return FAIL("out of memory");
  s->n_extra = n;
  for (uint32_t k = 0; k < n; k++) {
    char pfx[64];
    snprintf(pfx, sizeof pfx, "section ENSM: network %u: ", k + 2);
    if (read_layer_list(x, c, pfx, &s->extra[k], total)) return -1;
  }
  return 0;
}

static int read_meta(const ctx *x, cur *c, ser_model_spec *s) {
  uint32_t n = 0;
  if (get_u32(x, c, "metadata count", &n)) return -1;
  if (n > SER_MAX_META) return FAIL("section META: %u entries, the limit is %u", n, SER_MAX_META);
  if ((uint64_t)n * 8 > left(c))
    return FAIL("truncated: %u metadata entries need at least %u bytes but %zu remain", n, n * 8, left(c));
  if (left(c) > (size_t)SER_MAX_META_BYTES + 8ull * n + 4)
    return FAIL("section META: %zu bytes, the limit is %u", left(c), SER_MAX_META_BYTES);
  if (!n) return 0;
  s->meta_keys = calloc(n, sizeof(char *));
  s->meta_values = calloc(n, sizeof(char *));
  if (!s->meta_keys || !s->meta_values) return FAIL("out of memory");
  s->n_meta = n;
  for (uint32_t i = 0; i < n; i++) {
    if (get_str(x, c, "metadata key", i, SER_MAX_META_KEY, 0, &s->meta_keys[i])) return -1;
    if (get_str(x, c, "metadata value", i, SER_MAX_META_BYTES, 1, &s->meta_values[i])) return -1;
    for (uint32_t j = 0; j < i; j++)
      if (!strcmp(s->meta_keys[i], s->meta_keys[j]))
        return FAIL("metadata key %u: '%s' appears twice", i, s->meta_keys[i]);
  }
  return 0;
}

static void tagname(const uint8_t *p, char out[16]) {
  for (int i = 0; i < 4; i++)
    if (p[i] < 0x20 || p[i] >= 0x7f) {
      snprintf(out, 16, "0x%02x%02x%02x%02x", p[0], p[1], p[2], p[3]);
      return;
    }
  memcpy(out, p, 4);
  out[4] = 0;
}

enum { S_ARCH, S_FEAT, S_LABL, S_NORM, S_SPKN, S_LAYR, S_ENSM, S_META, S_N };
static const char *const sec_tags[S_N] = {"ARCH", "FEAT", "LABL", "NORM", "SPKN", "LAYR", "ENSM", "META"};

static int parse(const ctx *x, const uint8_t *p, size_t n, ser_model_spec *s) {
  if (n < HDR_SIZE) return FAIL("too short to be a model file (%zu bytes)", n);
  if (memcmp(p, MAGIC, 8)) return FAIL("not a .sermodel file (bad magic)");
  uint32_t ver = rd32(p + 8);
  if (ver != FORMAT_VERSION)
    return FAIL("unsupported format version %u (this build reads version %u)", ver, FORMAT_VERSION);
  /* pass 1: walk the sections, find END, verify the checksum */
  size_t off = HDR_SIZE, sec_off[S_N], sec_len[S_N];
  int seen[S_N] = {0}, have_end = 0;
  while (off < n) {
    if (n - off < SEC_HDR)
      return FAIL("truncated: section header at byte %zu needs %u bytes but %zu remain", off, SEC_HDR, n - off);
    char tn[16];
    tagname(p + off, tn);
    uint64_t len = rd64(p + off + 4);
    size_t body = off + SEC_HDR;
    if (len > n - body)
      return FAIL("truncated: section %s declares %llu bytes but %zu remain", tn, (unsigned long long)len,
                  n - body);
    if (!memcmp(p + off, "END ", 4)) {
      if (len != 4) return FAIL("section END: %llu bytes, expected 4", (unsigned long long)len);
      uint32_t want = rd32(p + body), got = crc32_update(0, p, off);
      if (want != got)
        return FAIL("checksum mismatch (file says %08x, contents give %08x): the file is corrupt", want, got);
      if (body + 4 != n) return FAIL("%zu unexpected bytes after the END section", n - body - 4);
      have_end = 1;
      break;
    }
    for (int k = 0; k < S_N; k++)
      if (!memcmp(p + off, sec_tags[k], 4)) {
        if (seen[k]) return FAIL("section %s appears twice", sec_tags[k]);
        seen[k] = 1;
        sec_off[k] = body;
        sec_len[k] = (size_t)len;
      }
    /* unknown sections are skipped */
    off = body + (size_t)len;
  }
  if (!have_end) return FAIL("truncated: no END section (the file was cut short?)");
  static const int required[] = {S_ARCH, S_FEAT, S_LABL, S_LAYR};
  for (size_t k = 0; k < sizeof required / sizeof required[0]; k++)
    if (!seen[required[k]]) return FAIL("section %s is missing", sec_tags[required[k]]);
  /* pass 2: the sections, each within its own bounds */
  uint64_t total = 0; /* weights over all networks */
  for (int k = 0; k < S_N; k++) {
    if (!seen[k]) continue;
    cur c = {p + sec_off[k], sec_len[k], 0};
    int r;
    switch (k) {
    case S_ARCH: r = read_arch(x, &c, s); c.off = c.n; break;
    case S_FEAT: r = read_feat(x, &c, s); c.off = c.n; break;
    case S_LABL: r = read_labels(x, &c, s); break;
    case S_NORM: r = read_norm(x, &c, s); break;
    case S_SPKN: r = read_spkn(x, &c, s); break;
    case S_LAYR: r = read_layers(x, &c, s, &total); break;
    case S_ENSM: r = read_ensemble(x, &c, s, &total); break;
    default: r = read_meta(x, &c, s); break;
    }
    if (r) return -1;
    if (c.off != c.n) return FAIL("section %s: %zu unexpected bytes at its end", sec_tags[k], c.n - c.off);
  }
  ser_error e;
  if (ser_model_spec_check(s, &e)) return FAIL("%s", e.msg);
  return 0;
}

int ser_model_spec_read_named(const void *data, size_t size, const char *name, ser_model_spec *out,
                              ser_error *err) {
  ctx x = {name ? name : "model data", err};
  ser_model_spec s;
  memset(&s, 0, sizeof s);
  memset(out, 0, sizeof *out);
  if (!data && size) return rfail(&x, "no data");
  if (parse(&x, data, size, &s)) {
    ser_model_spec_clear(&s);
    return -1;
  }
  *out = s;
  return 0;
}

int ser_model_spec_read_mem(const void *data, size_t size, ser_model_spec *out, ser_error *err) {
  return ser_model_spec_read_named(data, size, "model data", out, err);
}

#define MAX_FILE ((size_t)SER_MAX_PARAMS * 4 + 64 * 1024 * 1024)

int ser_model_spec_read(const char *path, ser_model_spec *out, ser_error *err) {
  memset(out, 0, sizeof *out);
  if (!path) return ser_fail(err, "model: no path");
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ser_fail(err, "%s: %s", path, strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return ser_fail(err, "%s: not a regular file", path);
  }
  if ((unsigned long long)st.st_size > MAX_FILE) {
    close(fd);
    return ser_fail(err, "%s: %lld bytes is larger than any valid model", path, (long long)st.st_size);
  }
  size_t sz = (size_t)st.st_size;
  /* read, not mapped: a file cut short while mapped would kill the process
   * with SIGBUS; a big buffer sits on huge pages (few page faults) */
  uint8_t *buf = ser_alloc_weights(sz);
  if (!buf) {
    close(fd);
    return ser_fail(err, "%s: out of memory (%zu bytes)", path, sz);
  }
  size_t got = 0;
  while (got < sz) {
    ssize_t k = read(fd, buf + got, sz - got);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) break;
    got += (size_t)k;
  }
  close(fd);
  if (got != sz) {
    free(buf);
    return ser_fail(err, "%s: read error (%zu of %zu bytes)", path, got, sz);
  }
  int r = ser_model_spec_read_named(buf, got, path, out, err);
  free(buf);
  return r;
}

/* ---- writer ---- */
typedef struct {
  uint8_t *p;
  size_t n, cap;
  int oom;
} wbuf;

static void put(wbuf *b, const void *d, size_t n) {
  if (b->oom) return;
  if (b->n + n > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->n + n) cap *= 2;
    uint8_t *q = realloc(b->p, cap);
    if (!q) {
      b->oom = 1;
      return;
    }
    b->p = q;
    b->cap = cap;
  }
  memcpy(b->p + b->n, d, n);
  b->n += n;
}
static void put32(wbuf *b, uint32_t v) {
  uint8_t q[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
  put(b, q, 4);
}
static void putf(wbuf *b, float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  put32(b, u);
}
static void putstr(wbuf *b, const char *s) {
  uint32_t n = (uint32_t)strlen(s);
  put32(b, n);
  put(b, s, n);
}
/* u32 n, then n layer records (LAYR, and each network of ENSM) */
static void put_layers(wbuf *b, const ser_layer *L, uint32_t n) {
  put32(b, n);
  for (uint32_t i = 0; i < n; i++) {
    const ser_layer *l = &L[i];
    put32(b, l->kind);
    put32(b, l->in_ch);
    put32(b, l->out_ch);
    put32(b, l->kernel);
    put32(b, l->stride);
    put32(b, l->padding);
    put32(b, l->dilation);
    put32(b, l->reduction);
    put32(b, l->mode);
    putf(b, l->eps);
    putf(b, l->p);
    put32(b, l->n_params);
    for (uint32_t k = 0; k < l->n_params; k++) putf(b, l->params[k]);
  }
}

/* Starts a section; returns the offset of its length field. */
static size_t sec_begin(wbuf *b, const char *tag) {
  put(b, tag, 4);
  size_t at = b->n;
  put32(b, 0);
  put32(b, 0);
  return at;
}
static void sec_end(wbuf *b, size_t at) {
  if (b->oom) return;
  uint64_t len = b->n - at - 8;
  for (int i = 0; i < 8; i++) b->p[at + i] = (uint8_t)(len >> (8 * i));
}

/* Serialise into a malloc'd buffer. */
int ser_model_spec_write_mem(const ser_model_spec *s, void **data, size_t *size, ser_error *err) {
  *data = NULL;
  *size = 0;
  if (ser_model_spec_check(s, err)) return -1;
  wbuf b = {0};
  put(&b, MAGIC, 8);
  put32(&b, FORMAT_VERSION);
  size_t at = sec_begin(&b, "ARCH");
  put32(&b, s->arch);
  put32(&b, s->in_ch);
  put32(&b, s->in_len);
  put32(&b, s->clip_samples);
  sec_end(&b, at);
  const ser_feature_params *f = &s->feat;
  at = sec_begin(&b, "FEAT");
  put32(&b, f->sample_rate);
  put32(&b, f->win_length);
  put32(&b, f->hop_length);
  put32(&b, f->n_fft);
  put32(&b, f->window);
  put32(&b, f->n_mels);
  putf(&b, f->fmin);
  putf(&b, f->fmax);
  put32(&b, f->mel_scale);
  put32(&b, f->mel_norm);
  put32(&b, f->log);
  put32(&b, f->n_mfcc);
  putf(&b, f->preemph);
  put32(&b, f->deltas);
  put32(&b, f->delta_width);
  put32(&b, f->center);
  putf(&b, f->top_db);
  put32(&b, f->zcr_rms);
  if (f->pitch) put32(&b, f->pitch); /* absent = 0: models without pitch keep their 72 bytes */
  sec_end(&b, at);
  at = sec_begin(&b, "LABL");
  put32(&b, s->n_labels);
  for (uint32_t i = 0; i < s->n_labels; i++) putstr(&b, s->labels[i]);
  sec_end(&b, at);
  if (s->norm_mean) {
    uint32_t d = ser_spec_feature_dim(f);
    at = sec_begin(&b, "NORM");
    put32(&b, d);
    for (uint32_t i = 0; i < d; i++) putf(&b, s->norm_mean[i]);
    for (uint32_t i = 0; i < d; i++) putf(&b, s->norm_std[i]);
    sec_end(&b, at);
  }
  if (s->spk_mean) {
    uint32_t d = ser_spec_feature_dim(f);
    at = sec_begin(&b, "SPKN");
    put32(&b, d);
    putf(&b, s->spk.memory_s);
    putf(&b, s->spk.prior_s);
    putf(&b, s->spk.gate_db);
    for (uint32_t i = 0; i < d; i++) putf(&b, s->spk_mean[i]);
    for (uint32_t i = 0; i < d; i++) putf(&b, s->spk_std[i]);
    sec_end(&b, at);
  }
  at = sec_begin(&b, "LAYR");
  put_layers(&b, s->layers, s->n_layers);
  sec_end(&b, at);
  if (s->n_extra) {
    at = sec_begin(&b, "ENSM");
    put32(&b, s->n_extra);
    for (uint32_t k = 0; k < s->n_extra; k++) put_layers(&b, s->extra[k].layers, s->extra[k].n_layers);
    sec_end(&b, at);
  }
  if (s->n_meta) {
    at = sec_begin(&b, "META");
    put32(&b, s->n_meta);
    for (uint32_t i = 0; i < s->n_meta; i++) {
      putstr(&b, s->meta_keys[i]);
      putstr(&b, s->meta_values[i]);
    }
    sec_end(&b, at);
  }
  if (!b.oom) {
    uint32_t crc = crc32_update(0, b.p, b.n);
    at = sec_begin(&b, "END ");
    put32(&b, crc);
    sec_end(&b, at);
  }
  if (b.oom) {
    free(b.p);
    return ser_fail(err, "model: out of memory while writing");
  }
  *data = b.p;
  *size = b.n;
  return 0;
}

int ser_model_spec_write(const ser_model_spec *s, const char *path, ser_error *err) {
  void *data;
  size_t size;
  ser_error e;
  if (ser_model_spec_write_mem(s, &data, &size, &e))
    return ser_fail(err, "%s: %s", path ? path : "model", e.msg);
  if (!path) {
    free(data);
    return ser_fail(err, "model: no path to write to");
  }
  /* write to a temporary file, then rename: never leave a half-written model */
  size_t pl = strlen(path);
  char *tmp = malloc(pl + 16);
  if (!tmp) {
    free(data);
    return ser_fail(err, "%s: out of memory", path);
  }
  snprintf(tmp, pl + 16, "%s.tmp", path);
  FILE *f = fopen(tmp, "wb");
  if (!f) {
    int e2 = errno;
    free(data);
    free(tmp);
    return ser_fail(err, "%s: cannot write: %s", path, strerror(e2));
  }
  size_t put_n = fwrite(data, 1, size, f);
  int bad = put_n != size || fflush(f) != 0;
  bad |= fclose(f) != 0;
  free(data);
  if (bad || rename(tmp, path) != 0) {
    int e2 = errno;
    remove(tmp);
    free(tmp);
    return ser_fail(err, "%s: write failed: %s", path, strerror(e2));
  }
  free(tmp);
  return 0;
}
