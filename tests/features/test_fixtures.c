/* Every reference fixture (torchaudio / librosa formulas, made by
 * tests/make_feature_fixtures.py) against ser_features_clip() and, where the
 * configuration streams, against the streaming extractor: within 1e-3. */
#include "ftest.h"

#define TOL 1e-3f

static void compare(const char *what, const float *got, size_t gr, size_t gc, const float *want,
                    size_t wr, size_t wc) {
  CHECK(gr == wr && gc == wc, "%s: shape (%zu, %zu), reference (%zu, %zu)", what, gr, gc, wr, wc);
  if (gr != wr || gc != wc) return;
  float worst = 0.0f;
  size_t at = 0;
  for (size_t i = 0; i < gr * gc; i++) {
    float d = fabsf(got[i] - want[i]);
    if (!(d <= worst)) {
      worst = d;
      at = i;
    }
  }
  CHECK(worst <= TOL, "%s: max |diff| %g at frame %zu column %zu (%g vs %g)", what, (double)worst,
        at / gc, at % gc, (double)got[at], (double)want[at]);
  printf("  %-22s (%3zu, %3zu) max |diff| %.2e\n", what, gr, gc, (double)worst);
}

int main(void) {
  char path[4096], line[4096];
  const char *src = ft_env("SER_SOURCE_ROOT");
  snprintf(path, sizeof path, "%s/tests/fixtures/features/manifest.txt", src);
  FILE *mf = fopen(path, "r");
  CHECK(mf != NULL, "%s: cannot open", path);
  if (!mf) return 1;
  int checked = 0, streamed = 0;
  const char *needed[] = {"default_", "slaney_", "hamming_", "mels64_", "deltas_", "deltas2_",
                          "preemph_", "ln_", "paper_", "nfft1024_"};
  int seen[sizeof needed / sizeof needed[0]] = {0};
  while (fgets(line, sizeof line, mf)) {
    if (line[0] == '#' || line[0] == '\n') continue;
    char *save = NULL;
    char *name = strtok_r(line, " \n", &save);
    char *input = strtok_r(NULL, " \n", &save);
    if (!name || !input) continue;
    ser_feature_params p;
    ser_feature_params_default(&p);
    for (char *kv; (kv = strtok_r(NULL, " \n", &save));) {
      char *eq = strchr(kv, '=');
      CHECK(eq && ft_set_param(&p, (*eq = 0, kv), eq + 1) == 0, "%s: bad manifest entry %s", name, kv);
    }
    size_t n = 0, r1, c1;
    float *x = NULL;
    if (!strncmp(input, "dataset:", 8)) {
      x = ft_dataset_wav(input + 8, &n);
    } else if (!strncmp(input, "samples:", 8)) {
      snprintf(path, sizeof path, "%s/tests/fixtures/features/%s", src, input + 8);
      x = ft_load_npy(path, &n, &c1);
    }
    CHECK(x != NULL, "%s: input %s not readable", name, input);
    snprintf(path, sizeof path, "%s/tests/fixtures/features/%s.npy", src, name);
    float *want = ft_load_npy(path, &r1, &c1);
    CHECK(want != NULL, "%s: fixture missing", path);
    if (!x || !want) {
      free(x), free(want);
      continue;
    }
    ser_error e = {{0}};
    float *got = NULL;
    size_t frames = 0;
    int rc = ser_features_clip(&p, x, n, &got, &frames, &e);
    CHECK(rc == 0, "%s: ser_features_clip: %s", name, e.msg);
    if (rc == 0) {
      compare(name, got, frames, ser_feature_dim(&p), want, r1, c1);
      CHECK(frames == ser_feature_frames(&p, n), "%s: %zu frames, ser_feature_frames says %zu", name,
            frames, ser_feature_frames(&p, n));
      checked++;
      for (size_t i = 0; i < sizeof needed / sizeof needed[0]; i++)
        if (!strncmp(name, needed[i], strlen(needed[i]))) seen[i] = 1;
    }
    if (!p.center && !(p.top_db > 0.0f)) {
      ser_mfcc *m = ser_mfcc_new(&p, &e);
      CHECK(m != NULL, "%s: ser_mfcc_new: %s", name, e.msg);
      if (m) {
        ft_frames c = {.dim = ser_mfcc_dim(m)};
        ser_mfcc_push(m, x, n, ft_collect, &c);
        ser_mfcc_flush(m, ft_collect, &c);
        char what[256];
        snprintf(what, sizeof what, "%s stream", name);
        compare(what, c.data, c.n, c.dim, want, r1, c1);
        /* same code path: bit-identical to the clip function */
        CHECK(c.n == frames && got && !memcmp(c.data, got, sizeof(float) * frames * c.dim),
              "%s: streaming and clip outputs differ", name);
        streamed++;
        ft_frames_free(&c);
        ser_mfcc_free(m);
      }
    }
    free(got);
    free(x);
    free(want);
  }
  fclose(mf);
  for (size_t i = 0; i < sizeof needed / sizeof needed[0]; i++)
    CHECK(seen[i], "no fixture for configuration %s", needed[i]);
  CHECK(checked >= 20 && streamed >= 18, "only %d fixtures checked (%d streamed)", checked, streamed);
  printf("%d fixtures, %d streamed\n", checked, streamed);
  return ft_finish("test_fixtures");
}
