/* Checks on output paths, made before any work: an output must not be one of
 * the inputs (writing it would destroy them) and must be writable, so that a
 * long training or evaluation is not lost at the end. And CSV fields. */
#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

int cli_output_ok(const char *cmd, const char *opt, const char *path, const char *const *inputs, int n_inputs) {
  if (!path || !strcmp(path, "-")) return 0; /* stdout */
  if (!*path) {
    fprintf(stderr, "ser %s: %s: an empty path\n", cmd, opt);
    return -1;
  }
  struct stat so;
  if (stat(path, &so) == 0) {
    if (S_ISDIR(so.st_mode)) {
      fprintf(stderr, "ser %s: %s %s: is a folder, not a file\n", cmd, opt, path);
      return -1;
    }
    for (int i = 0; i < n_inputs; i++) {
      struct stat si;
      if (inputs[i] && stat(inputs[i], &si) == 0 && si.st_dev == so.st_dev && si.st_ino == so.st_ino) {
        fprintf(stderr, "ser %s: %s %s: is also an input (%s); refusing to overwrite it\n", cmd, opt, path,
                inputs[i]);
        return -1;
      }
    }
    if (access(path, W_OK) != 0) {
      fprintf(stderr, "ser %s: %s %s: cannot write: %s\n", cmd, opt, path, strerror(errno));
      return -1;
    }
    return 0;
  }
  char *copy = strdup(path);
  if (!copy) return 0;
  const char *dir = dirname(copy);
  struct stat sd;
  int rc = 0;
  if (stat(dir, &sd) != 0 || !S_ISDIR(sd.st_mode)) {
    fprintf(stderr, "ser %s: %s %s: the folder %s does not exist\n", cmd, opt, path, dir);
    rc = -1;
  } else if (access(dir, W_OK | X_OK) != 0) {
    fprintf(stderr, "ser %s: %s %s: cannot write in %s: %s\n", cmd, opt, path, dir, strerror(errno));
    rc = -1;
  }
  free(copy);
  return rc;
}

void cli_csv_str(FILE *o, const char *s) {
  if (!strpbrk(s, ",\"\n\r")) {
    fputs(s, o);
    return;
  }
  fputc('"', o);
  for (; *s; s++) {
    if (*s == '"') fputc('"', o);
    fputc(*s, o);
  }
  fputc('"', o);
}
