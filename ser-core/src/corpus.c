/* Emotional speech corpora: labels from the corpora's file-name conventions
 * or from CSV manifests, label mapping, speaker-independent splits.
 * See docs/data-and-augmentation.md. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ser/corpus.h"

#include "csv.h"

const char *const ser_canonical_labels[9] = {
  "neutral", "calm", "happy", "sad", "angry", "fearful", "disgusted", "surprised", "boredom"};

/* ---- small string helpers ---- */

static char *xstrdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

static char *xstrndup(const char *s, size_t n) {
  char *d = malloc(n + 1);
  if (d) {
    memcpy(d, s, n);
    d[n] = 0;
  }
  return d;
}

static char *join_prefix(const char *prefix, const char *s, size_t n) {
  size_t p = strlen(prefix);
  char *d = malloc(p + 1 + n + 1);
  if (!d) return NULL;
  memcpy(d, prefix, p);
  d[p] = ':';
  memcpy(d + p + 1, s, n);
  d[p + 1 + n] = 0;
  return d;
}

static int ieq(const char *a, const char *b) {
  for (; *a && *b; a++, b++)
    if (tolower((unsigned char)*a) != tolower((unsigned char)*b)) return 0;
  return *a == *b;
}

static int ieqn(const char *a, size_t n, const char *b) {
  size_t i;
  for (i = 0; i < n && b[i]; i++)
    if (tolower((unsigned char)a[i]) != tolower((unsigned char)b[i])) return 0;
  return i == n && b[i] == 0;
}

static int all_digits(const char *s, size_t n) {
  if (!n) return 0;
  for (size_t i = 0; i < n; i++)
    if (!isdigit((unsigned char)s[i])) return 0;
  return 1;
}

static int all_alpha(const char *s, size_t n) {
  if (!n) return 0;
  for (size_t i = 0; i < n; i++)
    if (!isalpha((unsigned char)s[i])) return 0;
  return 1;
}

/* ---- labels ---- */

static const struct {
  const char *name, *canon;
} synonyms[] = {
  {"neutral", "neutral"}, {"neu", "neutral"}, {"neutrality", "neutral"},
  {"calm", "calm"},
  {"happy", "happy"}, {"happiness", "happy"}, {"joy", "happy"}, {"joyful", "happy"},
  {"hap", "happy"}, {"gio", "happy"},
  {"sad", "sad"}, {"sadness", "sad"}, {"tri", "sad"},
  {"angry", "angry"}, {"anger", "angry"}, {"ang", "angry"}, {"rab", "angry"},
  {"fearful", "fearful"}, {"fear", "fearful"}, {"fea", "fearful"}, {"afraid", "fearful"},
  {"scared", "fearful"}, {"pau", "fearful"},
  {"disgusted", "disgusted"}, {"disgust", "disgusted"}, {"dis", "disgusted"},
  {"surprised", "surprised"}, {"surprise", "surprised"}, {"sur", "surprised"}, {"sor", "surprised"},
  {"ps", "surprised"}, {"pleasant surprise", "surprised"}, {"pleasant_surprise", "surprised"},
  {"pleasant-surprise", "surprised"}, {"pleasant surprised", "surprised"},
  {"pleasant_surprised", "surprised"}, {"pleasantly surprised", "surprised"},
  {"boredom", "boredom"}, {"bored", "boredom"},
};

const char *ser_label_canonical(const char *label) {
  if (!label) return NULL;
  for (size_t i = 0; i < sizeof synonyms / sizeof synonyms[0]; i++)
    if (ieq(label, synonyms[i].name)) return synonyms[i].canon;
  return NULL;
}

static const char *canonical_n(const char *s, size_t n) {
  for (size_t i = 0; i < sizeof synonyms / sizeof synonyms[0]; i++)
    if (ieqn(s, n, synonyms[i].name)) return synonyms[i].canon;
  return NULL;
}

int ser_label_map(const char *label, const char *const *labels, uint32_t n_labels) {
  if (!label || !labels) return -1;
  /* 1. exact (case-insensitive) match */
  for (uint32_t i = 0; i < n_labels; i++)
    if (labels[i] && ieq(label, labels[i])) return (int)i;
  /* 2. same canonical label */
  const char *c = ser_label_canonical(label);
  if (!c) return -1;
  for (uint32_t i = 0; i < n_labels; i++) {
    const char *li = labels[i] ? ser_label_canonical(labels[i]) : NULL;
    if (li && strcmp(li, c) == 0) return (int)i;
  }
  /* 3. calm counts as neutral when the set has no calm */
  if (strcmp(c, "calm") == 0) return ser_label_map("neutral", labels, n_labels);
  return -1;
}

size_t ser_corpus_map_labels(const ser_corpus *c, const char *const *labels,
                             uint32_t n_labels, int *label_index) {
  size_t kept = 0;
  for (size_t i = 0; i < c->n; i++) {
    label_index[i] = ser_label_map(c->items[i].label, labels, n_labels);
    if (label_index[i] >= 0) kept++;
  }
  return kept;
}

/* ---- file names ---- */

static int set_out(char **corpus, char **speaker, char **label, const char *cname,
                   const char *spk, size_t spk_len, const char *lab) {
  char *co = xstrdup(cname), *sp = join_prefix(cname, spk, spk_len), *la = xstrdup(lab);
  if (!co || !sp || !la) {
    free(co);
    free(sp);
    free(la);
    return -1;
  }
  *corpus = co;
  *speaker = sp;
  *label = la;
  return 0;
}

/* splits s[0..n) at sep into at most max fields; returns the count (or
 * max + 1 if there are more). */
static int split_fields(const char *s, size_t n, char sep, const char **f, size_t *len, int max) {
  int k = 0;
  size_t start = 0;
  for (size_t i = 0; i <= n; i++) {
    if (i == n || s[i] == sep) {
      if (k == max) return max + 1;
      f[k] = s + start;
      len[k] = i - start;
      k++;
      start = i + 1;
    }
  }
  return k;
}

static int parse_emodb(const char *s, size_t n, char **co, char **sp, char **la) {
  /* 03a01Fa: speaker(2) text(a|b + 2 digits) emotion version */
  static const char letters[] = "WLEAFTN";
  static const char *const labs[] = {"angry", "boredom", "disgusted", "fearful", "happy", "sad", "neutral"};
  if (n != 7 || !all_digits(s, 2) || (s[2] != 'a' && s[2] != 'b') || !all_digits(s + 3, 2) ||
      !islower((unsigned char)s[6]))
    return 1;
  const char *p = strchr(letters, s[5]);
  if (!p || !s[5]) return 1;
  return set_out(co, sp, la, "emodb", s, 2, labs[p - letters]);
}

static int parse_ravdess(const char *s, size_t n, char **co, char **sp, char **la) {
  static const char *const labs[] = {"neutral", "calm", "happy", "sad", "angry", "fearful", "disgusted", "surprised"};
  const char *f[8];
  size_t len[8];
  if (split_fields(s, n, '-', f, len, 7) != 7) return 1;
  for (int i = 0; i < 7; i++)
    if (len[i] != 2 || !all_digits(f[i], 2)) return 1;
  int emo = (f[2][0] - '0') * 10 + (f[2][1] - '0');
  if (emo < 1 || emo > 8) return 1;
  return set_out(co, sp, la, "ravdess", f[6], 2, labs[emo - 1]);
}

static int parse_cremad(const char *s, size_t n, char **co, char **sp, char **la) {
  /* 1001_DFA_ANG_XX */
  static const char *const codes[] = {"ANG", "DIS", "FEA", "HAP", "NEU", "SAD"};
  static const char *const labs[] = {"angry", "disgusted", "fearful", "happy", "neutral", "sad"};
  const char *f[5];
  size_t len[5];
  if (split_fields(s, n, '_', f, len, 4) != 4) return 1;
  if (!all_digits(f[0], len[0]) || len[0] < 3 || !all_alpha(f[1], len[1]) || len[2] != 3 ||
      !all_alpha(f[3], len[3]) || len[3] > 2)
    return 1;
  for (int i = 0; i < 6; i++)
    if (ieqn(f[2], 3, codes[i])) return set_out(co, sp, la, "cremad", f[0], len[0], labs[i]);
  return 1;
}

static int parse_emovo(const char *s, size_t n, char **co, char **sp, char **la) {
  /* dis-f1-b1: emotion-speaker-sentence */
  static const char *const codes[] = {"dis", "gio", "neu", "pau", "rab", "sor", "tri"};
  static const char *const labs[] = {"disgusted", "happy", "neutral", "fearful", "angry", "surprised", "sad"};
  const char *f[4];
  size_t len[4];
  if (split_fields(s, n, '-', f, len, 3) != 3) return 1;
  if (len[0] != 3 || len[1] != 2 || (tolower((unsigned char)f[1][0]) != 'f' &&
                                     tolower((unsigned char)f[1][0]) != 'm') ||
      !isdigit((unsigned char)f[1][1]) || len[2] < 2 || !isalpha((unsigned char)f[2][0]) ||
      !isdigit((unsigned char)f[2][len[2] - 1]))
    return 1;
  char spk[2] = {(char)tolower((unsigned char)f[1][0]), f[1][1]};
  for (int i = 0; i < 7; i++)
    if (ieqn(f[0], 3, codes[i])) return set_out(co, sp, la, "emovo", spk, 2, labs[i]);
  return 1;
}

/* TESS emotion words (file names use "ps"; folders spell it out) */
static const char *tess_label(const char *s, size_t n) {
  const char *c = canonical_n(s, n);
  if (c && strcmp(c, "calm") != 0 && strcmp(c, "boredom") != 0) return c;
  return NULL;
}

static int parse_tess(const char *s, size_t n, const char *dir, char **co, char **sp, char **la) {
  /* OAF_back_angry in folder OAF_angry (or YAF_pleasant_surprised) */
  if (n < 5 || s[3] != '_' || !(ieqn(s, 3, "OAF") || ieqn(s, 3, "YAF"))) return 1;
  const char *lab = NULL;
  const char *u = s + n;
  while (u > s + 4 && u[-1] != '_') u--;
  if (u > s + 4) lab = tess_label(u, (size_t)(s + n - u)); /* last field of 3 or more */
  if (!lab && dir && strlen(dir) > 4 && dir[3] == '_' && (ieqn(dir, 3, "OAF") || ieqn(dir, 3, "YAF")))
    lab = tess_label(dir + 4, strlen(dir + 4));
  if (!lab) return 1;
  char spk[3] = {(char)toupper((unsigned char)s[0]), 'A', 'F'};
  return set_out(co, sp, la, "tess", spk, 3, lab);
}

static const char *savee_label(const char *s, size_t n) {
  /* a d f h n sa su followed by digits */
  static const char *const codes[] = {"sa", "su", "a", "d", "f", "h", "n"};
  static const char *const labs[] = {"sad", "surprised", "angry", "disgusted", "fearful", "happy", "neutral"};
  for (int i = 0; i < 7; i++) {
    size_t l = strlen(codes[i]);
    if (n > l && strncmp(s, codes[i], l) == 0 && all_digits(s + l, n - l)) return labs[i];
  }
  return NULL;
}

static int is_savee_speaker(const char *s, size_t n) {
  return n == 2 && isupper((unsigned char)s[0]) && isupper((unsigned char)s[1]);
}

static int parse_savee(const char *s, size_t n, const char *dir, char **co, char **sp, char **la) {
  const char *lab;
  if (n > 3 && s[2] == '_' && is_savee_speaker(s, 2) && (lab = savee_label(s + 3, n - 3)))
    return set_out(co, sp, la, "savee", s, 2, lab);
  if (dir && is_savee_speaker(dir, strlen(dir)) && (lab = savee_label(s, n)))
    return set_out(co, sp, la, "savee", dir, 2, lab);
  return 1;
}

static const char *const audio_ext[] = {".wav", ".flac", ".ogg", ".mp3"};

static int is_audio(const char *name) {
  const char *dot = strrchr(name, '.');
  if (!dot || dot == name) return 0;
  for (size_t i = 0; i < sizeof audio_ext / sizeof audio_ext[0]; i++)
    if (ieq(dot, audio_ext[i])) return 1;
  return 0;
}

int ser_corpus_parse_name(const char *basename, const char *dir_hint,
                          char **corpus, char **speaker, char **label) {
  if (!basename || !corpus || !speaker || !label) return -1;
  const char *slash = strrchr(basename, '/');
  if (slash) basename = slash + 1;
  size_t n = strlen(basename);
  const char *dot = strrchr(basename, '.');
  if (dot && dot != basename) n = (size_t)(dot - basename);
  int r;
  if ((r = parse_ravdess(basename, n, corpus, speaker, label)) <= 0 ||
      (r = parse_emodb(basename, n, corpus, speaker, label)) <= 0 ||
      (r = parse_emovo(basename, n, corpus, speaker, label)) <= 0 ||
      (r = parse_cremad(basename, n, corpus, speaker, label)) <= 0 ||
      (r = parse_tess(basename, n, dir_hint, corpus, speaker, label)) <= 0 ||
      (r = parse_savee(basename, n, dir_hint, corpus, speaker, label)) <= 0)
    return r < 0 ? -1 : 0;
  return -1;
}

/* ---- corpus container ---- */

static void item_free(ser_corpus_item *it) {
  free(it->path);
  free(it->speaker);
  free(it->label);
  free(it->corpus);
}

void ser_corpus_free(ser_corpus *c) {
  if (!c) return;
  for (size_t i = 0; i < c->n; i++) item_free(&c->items[i]);
  free(c->items);
  memset(c, 0, sizeof *c);
}

typedef struct {
  ser_corpus c;
  size_t cap;
} builder;

static int push(builder *b, ser_corpus_item *it) {
  if (b->c.n == b->cap) {
    size_t nc = b->cap ? b->cap * 2 : 256;
    ser_corpus_item *ni = realloc(b->c.items, nc * sizeof *ni);
    if (!ni) return -1;
    b->c.items = ni;
    b->cap = nc;
  }
  b->c.items[b->c.n++] = *it;
  return 0;
}

static int cmp_item(const void *a, const void *b) {
  return strcmp(((const ser_corpus_item *)a)->path, ((const ser_corpus_item *)b)->path);
}

static void sort_items(ser_corpus *c) {
  if (c->n > 1) qsort(c->items, c->n, sizeof *c->items, cmp_item);
}

/* ---- file identity ---- */

/* a path's file by device and inode: "a.wav", "./a.wav" and a link to it are
 * one file */
typedef struct {
  dev_t dev;
  ino_t ino;
  size_t idx;
} file_id;

static int cmp_file_id(const void *a, const void *b) {
  const file_id *x = a, *y = b;
  if (x->dev != y->dev) return x->dev < y->dev ? -1 : 1;
  if (x->ino != y->ino) return x->ino < y->ino ? -1 : 1;
  return (x->idx > y->idx) - (x->idx < y->idx);
}

/* the paths that can be stat'ed, sorted by file then index (so the runs of
 * one file are in list order); NULL when out of memory */
static file_id *file_ids(const char *const *paths, size_t n, size_t *m) {
  file_id *ids = malloc((n ? n : 1) * sizeof *ids);
  if (!ids) return NULL;
  size_t k = 0;
  struct stat st;
  for (size_t i = 0; i < n; i++)
    if (paths[i] && stat(paths[i], &st) == 0) ids[k++] = (file_id){st.st_dev, st.st_ino, i};
  qsort(ids, k, sizeof *ids, cmp_file_id);
  *m = k;
  return ids;
}

static int same_file(const file_id *a, const file_id *b) { return a->dev == b->dev && a->ino == b->ino; }

int ser_files_repeated(const char *const *paths, size_t n, size_t *first, size_t *again) {
  if (n < 2) return 0;
  size_t m = 0;
  file_id *ids = file_ids(paths, n, &m);
  if (!ids) return -1;
  int found = 0;
  for (size_t i = 1; i < m; i++) /* i - 1 starts a run of one file: its first two entries */
    if (same_file(&ids[i], &ids[i - 1]) && (i == 1 || !same_file(&ids[i - 1], &ids[i - 2])) &&
        (!found || ids[i].idx < *again)) {
      *first = ids[i - 1].idx;
      *again = ids[i].idx;
      found = 1;
    }
  free(ids);
  return found;
}

/* ---- directory scan ---- */

static char *path_join(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  int slash = la > 0 && a[la - 1] != '/';
  char *d = malloc(la + slash + lb + 1);
  if (!d) return NULL;
  memcpy(d, a, la);
  if (slash) d[la] = '/';
  memcpy(d + la + slash, b, lb + 1);
  return d;
}

static int scan_rec(builder *b, const char *dir, const char *dir_name, int depth, ser_error *err) {
  if (depth > 32) return ser_fail(err, "%s: folders nested too deeply (symlink loop?)", dir);
  DIR *d = opendir(dir);
  if (!d) return ser_fail(err, "%s: %s", dir, strerror(errno));
  int rc = 0;
  struct dirent *e;
  while (rc == 0 && (e = readdir(d))) {
    if (e->d_name[0] == '.') continue; /* . .. and hidden files */
    char *p = path_join(dir, e->d_name);
    if (!p) {
      rc = ser_fail(err, "%s: out of memory", dir);
      break;
    }
    struct stat st;
    if (stat(p, &st) != 0) { /* dangling symlink etc.: not audio we can read */
      b->c.n_ignored++;
      free(p);
      continue;
    }
    if (S_ISDIR(st.st_mode)) {
      rc = scan_rec(b, p, e->d_name, depth + 1, err);
      free(p);
      continue;
    }
    if (!S_ISREG(st.st_mode) || !is_audio(e->d_name)) {
      b->c.n_ignored++;
      free(p);
      continue;
    }
    ser_corpus_item it = {p, NULL, NULL, NULL};
    if (ser_corpus_parse_name(e->d_name, dir_name, &it.corpus, &it.speaker, &it.label) != 0) {
      b->c.n_skipped++;
      free(p);
      continue;
    }
    if (push(b, &it) != 0) {
      item_free(&it);
      rc = ser_fail(err, "%s: out of memory", dir);
    }
  }
  closedir(d);
  return rc;
}

static const char *base_name(const char *p) {
  const char *s = strrchr(p, '/');
  return s ? s + 1 : p;
}

int ser_corpus_scan_dir(const char *dir, ser_corpus *c, ser_error *err) {
  builder b;
  memset(&b, 0, sizeof b);
  memset(c, 0, sizeof *c);
  if (!dir || !*dir) return ser_fail(err, "corpus: empty folder name");
  struct stat st;
  if (stat(dir, &st) != 0) return ser_fail(err, "%s: %s", dir, strerror(errno));
  if (!S_ISDIR(st.st_mode)) return ser_fail(err, "%s: not a folder", dir);
  /* the folder's own name is the hint for files directly inside it */
  char *trim = xstrdup(dir);
  if (!trim) return ser_fail(err, "%s: out of memory", dir);
  size_t l = strlen(trim);
  while (l > 1 && trim[l - 1] == '/') trim[--l] = 0;
  int rc = scan_rec(&b, dir, base_name(trim), 0, err);
  free(trim);
  if (rc == 0 && b.c.n == 0)
    rc = ser_fail(err, "%s: no audio files with a recognised corpus name (%zu audio files not recognised)",
                  dir, b.c.n_skipped);
  if (rc != 0) {
    ser_corpus_free(&b.c);
    return -1;
  }
  sort_items(&b.c);
  *c = b.c;
  return 0;
}

/* ---- CSV manifest (the reader: csv.c) ---- */

int ser_corpus_load_manifest(const char *csv, ser_corpus *c, ser_error *err) {
  int *lines = NULL; /* the line of each item, in row order */
  size_t lines_cap = 0;
  builder b;
  memset(&b, 0, sizeof b);
  memset(c, 0, sizeof *c);
  if (!csv || !*csv) return ser_fail(err, "manifest: empty file name");
  size_t len = 0;
  char *text = ser_read_file(csv, &len, err);
  if (!text) return -1;
  /* folder of the manifest, for relative paths */
  char *folder = NULL;
  const char *sl = strrchr(csv, '/');
  folder = sl ? xstrndup(csv, (size_t)(sl - csv) + 1) : xstrdup("");
  ser_csv r;
  ser_csv_init(&r, text, len);
  char **f = NULL;
  int nf = 0, line = 1, rc = 0;
  int col_path = -1, col_spk = -1, col_lab = -1, col_emo = -1, ncols = 0;
  if (!folder) {
    rc = ser_fail(err, "%s: out of memory", csv);
    goto done;
  }
  int got = ser_csv_record(&r, csv, &f, &nf, &line, err);
  if (got < 0) {
    rc = -1;
    goto done;
  }
  if (got == 0) {
    rc = ser_fail(err, "%s: empty file (expected a header line with path,speaker,label)", csv);
    goto done;
  }
  ncols = nf;
  for (int i = 0; i < nf; i++) {
    const char *h = f[i];
    if (col_path < 0 && (ieq(h, "path") || ieq(h, "file") || ieq(h, "filename"))) col_path = i;
    else if (col_spk < 0 && (ieq(h, "speaker") || ieq(h, "actor"))) col_spk = i;
    else if (col_lab < 0 && ieq(h, "label")) col_lab = i;
    else if (col_emo < 0 && ieq(h, "emotion")) col_emo = i;
  }
  ser_csv_fields_free(f, nf);
  f = NULL;
  if (col_lab < 0) col_lab = col_emo;
  if (col_path < 0 || col_spk < 0 || col_lab < 0) {
    rc = ser_fail(err, "%s:%d: header has no '%s' column (expected path,speaker,label; 'emotion' may stand for label)",
                  csv, line, col_path < 0 ? "path" : col_spk < 0 ? "speaker" : "label");
    goto done;
  }
  for (;;) {
    got = ser_csv_record(&r, csv, &f, &nf, &line, err);
    if (got < 0) {
      rc = -1;
      goto done;
    }
    if (got == 0) break;
    if (nf != ncols) {
      rc = ser_fail(err, "%s:%d: %d fields, the header has %d", csv, line, nf, ncols);
      goto done;
    }
    const char *p = f[col_path], *s = f[col_spk], *l = f[col_lab];
    if (!*p || !*s || !*l) {
      rc = ser_fail(err, "%s:%d: empty %s", csv, line, !*p ? "path" : !*s ? "speaker" : "label");
      goto done;
    }
    ser_corpus_item it = {NULL, NULL, NULL, NULL};
    it.path = p[0] == '/' ? xstrdup(p) : path_join(folder, p);
    if (!it.path) {
      rc = ser_fail(err, "%s:%d: out of memory", csv, line);
      goto done;
    }
    struct stat st;
    if (stat(it.path, &st) != 0 || !S_ISREG(st.st_mode)) {
      rc = ser_fail(err, "%s:%d: %s: %s", csv, line, p,
                    stat(it.path, &st) != 0 ? strerror(errno) : "not a regular file");
      free(it.path);
      goto done;
    }
    /* corpus and speaker prefix from the file name when it is recognised */
    char *nco = NULL, *nsp = NULL, *nla = NULL;
    const char *cname = "manifest";
    const char *pb = base_name(it.path);
    char *dirhint = NULL;
    if (pb > it.path + 1) {
      const char *e = pb - 1, *a = e;
      while (a > it.path && a[-1] != '/') a--;
      dirhint = xstrndup(a, (size_t)(e - a));
    }
    if (ser_corpus_parse_name(pb, dirhint, &nco, &nsp, &nla) == 0) cname = nco;
    free(dirhint);
    it.corpus = xstrdup(cname);
    it.speaker = strchr(s, ':') ? xstrdup(s) : join_prefix(cname, s, strlen(s));
    const char *canon = ser_label_canonical(l);
    if (canon) {
      it.label = xstrdup(canon);
    } else {
      it.label = xstrdup(l);
      for (char *q = it.label; q && *q; q++) *q = (char)tolower((unsigned char)*q);
    }
    free(nco);
    free(nsp);
    free(nla);
    if (b.c.n == lines_cap) {
      size_t nc = lines_cap ? lines_cap * 2 : 256;
      int *nl = realloc(lines, nc * sizeof *nl);
      if (!nl) {
        item_free(&it);
        rc = ser_fail(err, "%s:%d: out of memory", csv, line);
        goto done;
      }
      lines = nl;
      lines_cap = nc;
    }
    lines[b.c.n] = line;
    if (!it.corpus || !it.speaker || !it.label || push(&b, &it) != 0) {
      item_free(&it);
      rc = ser_fail(err, "%s:%d: out of memory", csv, line);
      goto done;
    }
    ser_csv_fields_free(f, nf);
    f = NULL;
  }
  if (b.c.n == 0) rc = ser_fail(err, "%s: no rows after the header", csv);
  /* a file listed twice would count twice in training, or land in a fold's
   * training and test sets under two speakers: refuse it */
  if (rc == 0 && b.c.n > 1) {
    const char **paths = malloc(b.c.n * sizeof *paths);
    size_t i0 = 0, i1 = 0;
    for (size_t i = 0; paths && i < b.c.n; i++) paths[i] = b.c.items[i].path;
    int r = paths ? ser_files_repeated(paths, b.c.n, &i0, &i1) : -1;
    free(paths);
    if (r < 0) {
      rc = ser_fail(err, "%s: out of memory", csv);
    } else if (r > 0) {
      const ser_corpus_item *a = &b.c.items[i0], *d = &b.c.items[i1];
      rc = ser_fail(err, "%s:%d: file listed again (first on line %d%s): %s", csv, lines[i1], lines[i0],
                    strcmp(a->speaker, d->speaker) != 0 || strcmp(a->label, d->label) != 0
                        ? ", there with another speaker or label"
                        : "",
                    d->path);
    }
  }
done:
  free(lines);
  ser_csv_fields_free(f, nf);
  free(folder);
  free(text);
  if (rc != 0) {
    ser_corpus_free(&b.c);
    return -1;
  }
  sort_items(&b.c);
  *c = b.c;
  return 0;
}

int ser_corpus_load(const char *path, ser_corpus *c, ser_error *err) {
  struct stat st;
  if (!path || !*path) {
    memset(c, 0, sizeof *c);
    return ser_fail(err, "corpus: empty path");
  }
  if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) return ser_corpus_scan_dir(path, c, err);
  return ser_corpus_load_manifest(path, c, err);
}

int ser_corpus_merge(ser_corpus *dst, ser_corpus *src, ser_error *err) {
  if (src->n == 0) return 0;
  size_t n = dst->n + src->n, m = 0;
  /* the same file by another name (device and inode) is dropped too */
  const char **paths = malloc(n * sizeof *paths);
  unsigned char *drop = calloc(n, 1);
  file_id *ids = NULL;
  if (paths) {
    for (size_t i = 0; i < n; i++) paths[i] = i < dst->n ? dst->items[i].path : src->items[i - dst->n].path;
    ids = file_ids(paths, n, &m);
  }
  ser_corpus_item *ni = ids && drop ? realloc(dst->items, n * sizeof *ni) : NULL;
  free(paths);
  if (!ni) {
    free(ids);
    free(drop);
    return ser_fail(err, "corpus: out of memory");
  }
  for (size_t i = 1; i < m; i++)
    if (same_file(&ids[i], &ids[i - 1])) drop[ids[i].idx] = 1; /* keeps the first in dst-then-src order */
  free(ids);
  dst->items = ni;
  size_t w = dst->n;
  for (size_t i = 0; i < src->n; i++) {
    if (drop[dst->n + i]) item_free(&src->items[i]);
    else dst->items[w++] = src->items[i];
  }
  free(drop);
  dst->n = w;
  dst->n_skipped += src->n_skipped;
  dst->n_ignored += src->n_ignored;
  free(src->items);
  memset(src, 0, sizeof *src);
  sort_items(dst);
  /* paths that could not be stat'ed: drop repeats of the same string (keep the first) */
  w = 0;
  for (size_t i = 0; i < dst->n; i++) {
    if (w > 0 && strcmp(dst->items[w - 1].path, dst->items[i].path) == 0) {
      item_free(&dst->items[i]);
      continue;
    }
    dst->items[w++] = dst->items[i];
  }
  dst->n = w;
  return 0;
}

/* ---- speaker-independent splits ---- */

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* sorted distinct speakers; returns count, fills spk_index[i] for each item */
static long speaker_index(const ser_corpus *c, int *spk_index) {
  const char **sp = malloc(c->n * sizeof *sp);
  if (!sp) return -1;
  for (size_t i = 0; i < c->n; i++) sp[i] = c->items[i].speaker;
  qsort(sp, c->n, sizeof *sp, cmp_str);
  size_t u = 0;
  for (size_t i = 0; i < c->n; i++)
    if (u == 0 || strcmp(sp[u - 1], sp[i]) != 0) sp[u++] = sp[i];
  for (size_t i = 0; i < c->n; i++) {
    const char *key = c->items[i].speaker;
    const char **hit = bsearch(&key, sp, u, sizeof *sp, cmp_str);
    spk_index[i] = (int)(hit - sp);
  }
  free(sp);
  return (long)u;
}

int ser_split_loso(const ser_corpus *c, int *fold, uint32_t *n_folds) {
  if (!c || c->n == 0 || !fold) return -1;
  long u = speaker_index(c, fold);
  if (u <= 0) return -1;
  if (n_folds) *n_folds = (uint32_t)u;
  return 0;
}

int ser_split_kfold_speakers(const ser_corpus *c, uint32_t k, int *fold) {
  if (!c || c->n == 0 || !fold || k == 0) return -1;
  long u = speaker_index(c, fold);
  if (u <= 0 || (unsigned long)u < k) return -1;
  for (size_t i = 0; i < c->n; i++) fold[i] = (int)((uint32_t)fold[i] % k);
  return 0;
}
