/* Decoded-audio cache for training: each file is decoded once through
 * GStreamer at a given rate and kept as raw float32 in the cache folder,
 * keyed by absolute path, size, mtime and rate. A missing, stale or corrupt
 * entry is simply decoded again (and rewritten). Format of an entry:
 * "SERPCM01", u32 rate, u32 0, u64 key, u64 n, n float32, u64 checksum. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "train_common.h"

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
  const unsigned char *b = p;
  for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ULL;
  return h;
}

const char *tc_default_cache_dir(char *buf, size_t len) {
  const char *x = getenv("XDG_CACHE_HOME");
  const char *home = getenv("HOME");
  if (x && *x) snprintf(buf, len, "%s/seremotion", x);
  else if (home && *home) snprintf(buf, len, "%s/.cache/seremotion", home);
  else return NULL;
  return buf;
}

static int mkdirs(const char *dir) {
  char tmp[PATH_MAX];
  snprintf(tmp, sizeof tmp, "%s", dir);
  for (char *p = tmp + 1; *p; p++)
    if (*p == '/') {
      *p = 0;
      if (mkdir(tmp, 0777) != 0 && errno != EEXIST) return -1;
      *p = '/';
    }
  if (mkdir(tmp, 0777) != 0 && errno != EEXIST) return -1;
  return 0;
}

static int read_entry(const char *file, uint64_t key, uint32_t rate, float **out, size_t *n) {
  FILE *f = fopen(file, "rb");
  if (!f) return -1;
  char magic[8];
  uint32_t r = 0, z = 0;
  uint64_t k = 0, cnt = 0, sum = 0;
  int ok = fread(magic, 1, 8, f) == 8 && !memcmp(magic, "SERPCM01", 8) && fread(&r, 4, 1, f) == 1 &&
           fread(&z, 4, 1, f) == 1 && fread(&k, 8, 1, f) == 1 && fread(&cnt, 8, 1, f) == 1 && r == rate &&
           k == key && cnt < ((uint64_t)1 << 34);
  if (ok) {
    struct stat st;
    ok = fstat(fileno(f), &st) == 0 && (uint64_t)st.st_size == 40 + cnt * 4;
  }
  float *x = NULL;
  if (ok) {
    x = malloc(cnt ? cnt * sizeof(float) : 1);
    ok = x && fread(x, sizeof(float), cnt, f) == cnt && fread(&sum, 8, 1, f) == 1 &&
         sum == fnv(0xcbf29ce484222325ULL, x, cnt * sizeof(float));
  }
  fclose(f);
  if (!ok) {
    free(x);
    return -1;
  }
  *out = x;
  *n = cnt;
  return 0;
}

static void write_entry(const char *file, uint64_t key, uint32_t rate, const float *x, size_t n) {
  char tmp[PATH_MAX + 16];
  snprintf(tmp, sizeof tmp, "%s.%ld.tmp", file, (long)getpid());
  FILE *f = fopen(tmp, "wb");
  if (!f) return;
  uint32_t z = 0;
  uint64_t cnt = n, sum = fnv(0xcbf29ce484222325ULL, x, n * sizeof(float));
  int ok = fwrite("SERPCM01", 1, 8, f) == 8 && fwrite(&rate, 4, 1, f) == 1 && fwrite(&z, 4, 1, f) == 1 &&
           fwrite(&key, 8, 1, f) == 1 && fwrite(&cnt, 8, 1, f) == 1 &&
           fwrite(x, sizeof(float), n, f) == n && fwrite(&sum, 8, 1, f) == 1;
  if (fclose(f) != 0) ok = 0;
  if (!ok || rename(tmp, file) != 0) unlink(tmp);
}

int tc_cache_decode(const char *cache_dir, const char *path, uint32_t rate, float **out, size_t *n,
                    char *err, size_t errlen) {
  *out = NULL;
  *n = 0;
  struct stat st;
  if (stat(path, &st) != 0) {
    snprintf(err, errlen, "%s: %s", path, strerror(errno));
    return -1;
  }
  char abs[PATH_MAX];
  if (!realpath(path, abs)) snprintf(abs, sizeof abs, "%s", path);
  uint64_t key = fnv(0xcbf29ce484222325ULL, abs, strlen(abs));
  uint64_t meta[4] = {(uint64_t)st.st_size, (uint64_t)st.st_mtim.tv_sec, (uint64_t)st.st_mtim.tv_nsec, rate};
  key = fnv(key, meta, sizeof meta);
  char file[PATH_MAX];
  file[0] = 0;
  if (cache_dir) {
    snprintf(file, sizeof file, "%s/%016llx.f32", cache_dir, (unsigned long long)key);
    if (read_entry(file, key, rate, out, n) == 0) return 0;
  }
  if (ser_decode_file(path, rate, out, n, err, errlen) < 0) return -1;
  if (cache_dir && mkdirs(cache_dir) == 0) write_entry(file, key, rate, *out, *n);
  return 0;
}
