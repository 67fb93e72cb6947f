/* libFuzzer target: `ser eval --from-predictions` (ser-core/cli/eval_report.c
 * and the CSV reader, src/csv.c) on arbitrary prediction files. An input is
 * cut at lines "#FILE" into up to 3 files; the second is given as FILE@2, so
 * inputs reach joining, averaging and the weight check, and the report, the
 * JSON and the --predictions writer run on whatever is accepted. Any exit status is fine;
 * a crash, leak, hang or undefined behaviour is not. Built and run by
 * tests/fuzz/run.sh. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static char dir[64], path[3][96], weighted[96], json[96];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  strcpy(dir, "/tmp/ser-fuzz-pred-XXXXXX");
  if (!mkdtemp(dir)) abort();
  for (int k = 0; k < 3; k++) snprintf(path[k], sizeof path[k], "%s/p%d.csv", dir, k);
  snprintf(weighted, sizeof weighted, "%s@2", path[1]);
  snprintf(json, sizeof json, "%s/report.json", dir);
  return 0;
}

static const uint8_t *cut(const uint8_t *d, size_t n, size_t *len) {
  static const char mark[] = "\n#FILE\n";
  for (size_t i = 0; i + sizeof mark - 1 <= n; i++)
    if (!memcmp(d + i, mark, sizeof mark - 1)) {
      *len = i;
      return d + i + sizeof mark - 1;
    }
  *len = n;
  return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {
  int nfiles = 0;
  const uint8_t *p = d;
  size_t left = n;
  while (p && nfiles < 3) {
    size_t len;
    const uint8_t *next = cut(p, left, &len);
    FILE *f = fopen(path[nfiles], "wb");
    if (!f) abort();
    if (len && fwrite(p, 1, len, f) != len) abort();
    fclose(f);
    nfiles++;
    if (next) left -= (size_t)(next - p);
    p = next;
  }
  char *argv[10] = {"eval", "--from-predictions", "--predictions", "/dev/null", "--json", json, path[0]};
  int argc = 7;
  if (nfiles > 1) argv[argc++] = weighted;
  if (nfiles > 2) argv[argc++] = path[2];
  cmd_eval_predictions(argc, argv);
  return 0;
}
