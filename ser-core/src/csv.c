/* ser-core: a small CSV reader (see csv.h). */
#include "csv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* appends ch to the growing field buffer; -1 when out of memory */
static int put(char **buf, size_t *bl, size_t *bcap, char ch) {
  if (*bl + 1 >= *bcap) {
    size_t cap = *bcap ? *bcap * 2 : 64;
    char *nb = realloc(*buf, cap);
    if (!nb) return -1;
    *buf = nb;
    *bcap = cap;
  }
  (*buf)[(*bl)++] = ch;
  return 0;
}

void ser_csv_init(ser_csv *r, const char *text, size_t len) {
  r->s = text;
  r->end = text + len;
  r->line = 1;
  if (len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3)) r->s += 3; /* UTF-8 byte order mark */
}

int ser_csv_record(ser_csv *r, const char *file, char ***f, int *nf, int *rec_line, ser_error *err) {
  *f = NULL;
  *nf = 0;
  while (r->s < r->end && (*r->s == '\n' || *r->s == '\r')) {
    if (*r->s == '\n') r->line++;
    r->s++;
  }
  if (r->s >= r->end) return 0;
  *rec_line = r->line;
  int cap = 0;
  char *buf = NULL;
  size_t bl = 0, bcap = 0;
  const char *why = "out of memory"; /* what a jump to fail reports */
  for (;;) {
    /* one field */
    bl = 0;
    int quoted = 0;
    if (r->s < r->end && *r->s == '"') {
      quoted = 1;
      r->s++;
      for (;;) {
        if (r->s >= r->end) {
          why = "unterminated quoted field";
          goto fail;
        }
        char ch = *r->s++;
        if (ch == '"') {
          if (r->s < r->end && *r->s == '"') r->s++;
          else break;
        }
        if (ch == '\n') r->line++;
        if (put(&buf, &bl, &bcap, ch) < 0) goto fail;
      }
    }
    while (r->s < r->end && *r->s != ',' && *r->s != '\n' && *r->s != '\r') {
      char ch = *r->s++;
      if (quoted) {
        if (ch == ' ' || ch == '\t') continue;
        why = "text after a closing quote";
        goto fail;
      }
      if (put(&buf, &bl, &bcap, ch) < 0) goto fail;
    }
    if (!quoted) { /* trim spaces of unquoted fields */
      size_t a = 0;
      while (a < bl && (buf[a] == ' ' || buf[a] == '\t')) a++;
      while (bl > a && (buf[bl - 1] == ' ' || buf[bl - 1] == '\t')) bl--;
      if (a) memmove(buf, buf + a, bl - a);
      bl -= a;
    }
    if (*nf == cap) {
      cap = cap ? cap * 2 : 8;
      char **nfp = realloc(*f, (size_t)cap * sizeof **f);
      if (!nfp) goto fail;
      *f = nfp;
    }
    (*f)[*nf] = strndup(buf ? buf : "", bl);
    if (!(*f)[*nf]) goto fail;
    (*nf)++;
    if (r->s < r->end && *r->s == ',') {
      r->s++;
      continue;
    }
    break;
  }
  if (r->s < r->end && *r->s == '\r') r->s++;
  if (r->s < r->end && *r->s == '\n') {
    r->s++;
    r->line++;
  }
  free(buf);
  return 1;
fail:
  free(buf);
  ser_csv_fields_free(*f, *nf);
  *f = NULL;
  *nf = 0;
  return ser_fail(err, "%s:%d: %s", file, *rec_line, why);
}

void ser_csv_fields_free(char **f, int nf) {
  if (!f) return;
  for (int i = 0; i < nf; i++) free(f[i]);
  free(f);
}

char *ser_read_file(const char *path, size_t *n, ser_error *err) {
  FILE *fp = fopen(path, "rb");
  if (!fp) {
    ser_fail(err, "%s: %s", path, strerror(errno));
    return NULL;
  }
  size_t cap = 1 << 16, len = 0;
  char *buf = malloc(cap);
  while (buf) {
    size_t got = fread(buf + len, 1, cap - len, fp);
    len += got;
    if (len < cap) break;
    cap *= 2;
    char *nb = realloc(buf, cap);
    if (!nb) {
      free(buf);
      buf = NULL;
    } else {
      buf = nb;
    }
  }
  int bad = ferror(fp);
  fclose(fp);
  if (!buf) {
    ser_fail(err, "%s: out of memory", path);
    return NULL;
  }
  if (bad) {
    free(buf);
    ser_fail(err, "%s: read error", path);
    return NULL;
  }
  *n = len;
  return buf;
}

