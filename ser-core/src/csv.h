/* ser-core internal: a small CSV reader (RFC 4180 quoting: "a,b", "say ""hi""";
 * spaces around unquoted fields trimmed; blank lines skipped) for corpus
 * manifests and the CLI's prediction files. */
#ifndef SER_CSV_H
#define SER_CSV_H

#include <stddef.h>

#include "ser/common.h"

typedef struct {
  const char *s, *end; /* the unread text */
  int line;            /* 1-based line of s */
} ser_csv;

/* Reads text[0..len) from its first line, after a UTF-8 byte order mark if any. */
void ser_csv_init(ser_csv *r, const char *text, size_t len);
/* Reads one record; its fields are malloc'd into *f (n in *nf, free with
 * ser_csv_fields_free). Returns 1 if a record was read, 0 at the end, -1 on
 * error (the message names file and line). *rec_line: the record's first line. */
int ser_csv_record(ser_csv *r, const char *file, char ***f, int *nf, int *rec_line, ser_error *err);
void ser_csv_fields_free(char **f, int nf);
/* The whole file, malloc'd (*n bytes, not NUL-terminated); NULL with a message
 * naming the file. */
char *ser_read_file(const char *path, size_t *n, ser_error *err);

#endif
