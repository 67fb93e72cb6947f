/* `ser features` end to end: WAV (fast path and GStreamer path) and FLAC
 * input from the datasets, npy header and shape, csv, stdout, presets,
 * multi-channel and float WAV, exit codes and error messages. */
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "ftest.h"

static char tmp[256];
static const char *ser;

/* run a shell command; returns the exit status, stderr in *errtext */
static int run(const char *cmd, char *errtext, size_t errlen) {
  char full[8192];
  snprintf(full, sizeof full, "%s 2>%s/stderr.txt", cmd, tmp);
  int st = system(full);
  if (errtext) {
    errtext[0] = 0;
    char p[512];
    snprintf(p, sizeof p, "%s/stderr.txt", tmp);
    FILE *f = fopen(p, "r");
    if (f) {
      size_t k = fread(errtext, 1, errlen - 1, f);
      errtext[k] = 0;
      fclose(f);
    }
  }
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static float *lib_features(const ser_feature_params *p, const float *x, size_t n, size_t *frames) {
  float *out = NULL;
  ser_error e;
  if (ser_features_clip(p, x, n, &out, frames, &e) < 0) {
    fprintf(stderr, "ser_features_clip: %s\n", e.msg);
    return NULL;
  }
  return out;
}

static void expect_equal(const char *what, const char *npy, const float *want, size_t frames, uint32_t dim) {
  size_t r = 0, c = 0;
  float *got = ft_load_npy(npy, &r, &c);
  CHECK(got != NULL, "%s: %s not a valid npy", what, npy);
  if (!got) return;
  CHECK(r == frames && c == dim, "%s: shape (%zu, %zu), expected (%zu, %u)", what, r, c, frames, dim);
  if (r == frames && c == dim && want) {
    float worst = 0.0f;
    for (size_t i = 0; i < r * c; i++) worst = fmaxf(worst, fabsf(got[i] - want[i]));
    CHECK(worst == 0.0f, "%s: differs from the library by up to %g", what, (double)worst);
  }
  free(got);
}

static void write_wav(const char *path, const float *x, size_t n, int channels, int fmt) {
  /* fmt 16: S16, 32: S32, 3: F32 */
  FILE *f = fopen(path, "wb");
  int bytes = fmt == 16 ? 2 : 4;
  uint32_t data = (uint32_t)(n * channels * bytes);
  uint16_t tag = fmt == 3 ? 3 : 1, ch = (uint16_t)channels, bits = (uint16_t)(bytes * 8),
           align = (uint16_t)(channels * bytes);
  uint32_t rate = 16000, br = rate * align, fl = 16, riff = 36 + data;
  fwrite("RIFF", 1, 4, f), fwrite(&riff, 4, 1, f), fwrite("WAVEfmt ", 1, 8, f), fwrite(&fl, 4, 1, f);
  fwrite(&tag, 2, 1, f), fwrite(&ch, 2, 1, f), fwrite(&rate, 4, 1, f), fwrite(&br, 4, 1, f);
  fwrite(&align, 2, 1, f), fwrite(&bits, 2, 1, f);
  /* an extra chunk the reader must skip */
  fwrite("LIST", 1, 4, f);
  uint32_t ll = 3;
  fwrite(&ll, 4, 1, f), fwrite("abc\0", 1, 4, f);
  fwrite("data", 1, 4, f), fwrite(&data, 4, 1, f);
  for (size_t i = 0; i < n; i++)
    for (int c = 0; c < channels; c++) {
      float v = x[i];
      if (fmt == 16) {
        int16_t s = (int16_t)lrintf(v * 32768.0f);
        fwrite(&s, 2, 1, f);
      } else if (fmt == 32) {
        int32_t s = (int32_t)((int64_t)lrintf(v * 32768.0f) * 65536);
        fwrite(&s, 4, 1, f);
      } else {
        fwrite(&v, 4, 1, f);
      }
    }
  fclose(f);
}

int main(void) {
  ser = ft_env("SER");
  const char *ds = ft_env("SER_DATASETS");
  snprintf(tmp, sizeof tmp, "/tmp/ser-features-test-XXXXXX");
  if (!mkdtemp(tmp)) return 1;
  char cmd[4096], err[8192], wavp[1024], flacp[1024], out[512], out2[512];
  snprintf(wavp, sizeof wavp, "%s/emodb/wav/03a01Fa.wav", ds);
  snprintf(flacp, sizeof flacp, "%s/ravdess16k/Actor_01/03-01-05-01-02-01-01.flac", ds);
  snprintf(out, sizeof out, "%s/out.npy", tmp);
  snprintf(out2, sizeof out2, "%s/out2.npy", tmp);

  ser_feature_params p;
  ser_feature_params_default(&p);
  size_t n = 0, frames = 0;
  uint32_t rate = 0;
  float *x = ft_load_wav(wavp, &n, &rate);
  CHECK(x && rate == 16000, "%s: not loaded", wavp);
  if (!x) return 1;
  float *want = lib_features(&p, x, n, &frames);

  /* WAV, fast path */
  snprintf(cmd, sizeof cmd, "'%s' features -o '%s' '%s'", ser, out, wavp);
  CHECK(run(cmd, err, sizeof err) == 0, "wav: exit status: %s", err);
  expect_equal("wav fast path", out, want, frames, 40);
  /* same file through GStreamer: the same samples, the same bits */
  snprintf(cmd, sizeof cmd, "SER_FEATURES_NO_FASTPATH=1 '%s' features -o '%s' '%s'", ser, out2, wavp);
  CHECK(run(cmd, err, sizeof err) == 0, "wav via GStreamer: %s", err);
  expect_equal("wav via GStreamer", out2, want, frames, 40);
  /* npy header: NPY v1.0, 64-byte aligned */
  FILE *f = fopen(out, "rb");
  unsigned char hdr[128] = {0};
  size_t hk = f ? fread(hdr, 1, sizeof hdr, f) : 0;
  if (f) fclose(f);
  CHECK(hk == 128 && !memcmp(hdr, "\x93NUMPY\x01\x00", 8), "npy magic/version");
  size_t hl = hdr[8] | (size_t)hdr[9] << 8;
  CHECK((10 + hl) % 64 == 0 && hl <= 118 && hdr[10 + hl - 1] == '\n', "npy header length %zu", hl);
  char shape[64];
  snprintf(shape, sizeof shape, "'shape': (%zu, 40)", frames);
  CHECK(strstr((char *)hdr + 10, shape) != NULL, "npy header lacks %s", shape);

  /* -o naming the input itself: refused before anything is written, the input intact */
  {
    char same[512], cp[2048];
    snprintf(same, sizeof same, "%s/same.wav", tmp);
    snprintf(cp, sizeof cp, "cp '%s' '%s'", wavp, same);
    CHECK(system(cp) == 0, "cp");
    snprintf(cmd, sizeof cmd, "'%s' features --format csv -o '%s' '%s'", ser, same, same);
    CHECK(run(cmd, err, sizeof err) == 2, "-o = input: not refused: %s", err);
    CHECK(strstr(err, "is also an input") != NULL, "-o = input: unclear message: %s", err);
    snprintf(cp, sizeof cp, "cmp -s '%s' '%s'", wavp, same);
    CHECK(system(cp) == 0, "-o = input: the input WAV was changed");
  }

  /* stdout = -o */
  snprintf(cmd, sizeof cmd, "'%s' features '%s' > '%s'", ser, wavp, out2);
  CHECK(run(cmd, err, sizeof err) == 0, "stdout: %s", err);
  expect_equal("stdout", out2, want, frames, 40);

  /* csv: one frame a line, dim values, same numbers */
  char csvp[512];
  snprintf(csvp, sizeof csvp, "%s/out.csv", tmp);
  snprintf(cmd, sizeof cmd, "'%s' features --format csv -o '%s' '%s'", ser, csvp, wavp);
  CHECK(run(cmd, err, sizeof err) == 0, "csv: %s", err);
  f = fopen(csvp, "r");
  size_t lines = 0, bad = 0;
  char line[16384];
  while (f && fgets(line, sizeof line, f)) {
    size_t vals = 0;
    for (char *s = line, *e; *s && *s != '\n'; s = *e == ',' ? e + 1 : e) {
      float v = strtof(s, &e);
      if (e == s) break;
      if (lines < frames && fabsf(v - want[lines * 40 + vals]) > 1e-5f * fmaxf(1.0f, fabsf(v))) bad++;
      vals++;
    }
    if (vals != 40) bad++;
    lines++;
  }
  if (f) fclose(f);
  CHECK(lines == frames && bad == 0, "csv: %zu lines (want %zu), %zu bad values", lines, frames, bad);

  /* deltas option */
  ser_feature_params pd = p;
  pd.deltas = 2;
  pd.n_mfcc = 13;
  size_t fd;
  float *wd = lib_features(&pd, x, n, &fd);
  snprintf(cmd, sizeof cmd, "'%s' features --deltas 2 --n-mfcc 13 -o '%s' '%s'", ser, out, wavp);
  CHECK(run(cmd, err, sizeof err) == 0, "deltas: %s", err);
  expect_equal("deltas", out, wd, fd, 39);
  free(wd);

  /* stereo S16, mono S32 and F32 WAV: the fast path mixes and scales */
  const int fmts[][2] = {{2, 16}, {1, 32}, {1, 3}, {3, 3}};
  for (int i = 0; i < 4; i++) {
    char wp[512];
    snprintf(wp, sizeof wp, "%s/fmt.wav", tmp);
    write_wav(wp, x, n, fmts[i][0], fmts[i][1]);
    snprintf(cmd, sizeof cmd, "'%s' features -o '%s' '%s'", ser, out, wp);
    CHECK(run(cmd, err, sizeof err) == 0, "wav %d ch fmt %d: %s", fmts[i][0], fmts[i][1], err);
    char what[64];
    snprintf(what, sizeof what, "wav %d ch fmt %d", fmts[i][0], fmts[i][1]);
    if (fmts[i][0] == 3) { /* 3 equal channels: mean differs from x by rounding only */
      size_t r, c;
      float *g = ft_load_npy(out, &r, &c);
      float worst = 0;
      for (size_t k = 0; g && r == frames && k < r * c; k++) worst = fmaxf(worst, fabsf(g[k] - want[k]));
      CHECK(g && r == frames && worst < 1e-3f, "%s: max diff %g", what, (double)worst);
      free(g);
    } else {
      expect_equal(what, out, want, frames, 40);
    }
  }

  /* a WAV cut short (the data chunk claims more than the file holds, and the
   * last sample is half there): the frames of the whole samples present */
  {
    char wp[512];
    snprintf(wp, sizeof wp, "%s/cut.wav", tmp);
    FILE *src = fopen(wavp, "rb"), *dst = fopen(wp, "wb");
    unsigned char b[20001];
    size_t got = src ? fread(b, 1, sizeof b, src) : 0;
    if (dst) fwrite(b, 1, got, dst);
    if (src) fclose(src);
    if (dst) fclose(dst);
    size_t ncut = (got - 44) / 2, fc = 0;
    float *wc = lib_features(&p, x, ncut, &fc);
    snprintf(cmd, sizeof cmd, "'%s' features -o '%s' '%s'", ser, out, wp);
    CHECK(got == sizeof b && run(cmd, err, sizeof err) == 0, "cut wav: %s", err);
    expect_equal("cut wav", out, wc, fc, 40);
    CHECK(fc == ser_feature_frames(&p, ncut) && fc > 0, "cut wav: %zu frames", fc);
    free(wc);
    /* shorter than one frame: no frames, a note, exit 0 */
    dst = fopen(wp, "wb");
    fwrite(b, 1, 44 + 2 * 300, dst);
    fclose(dst);
    CHECK(run(cmd, err, sizeof err) == 0 && strstr(err, "no frame"), "short wav: '%s'", err);
    expect_equal("short wav", out, NULL, 0, 40);
  }

  /* FLAC (RAVDESS) through GStreamer = the library on the decoded samples */
  float *y = NULL;
  size_t ny = 0;
  char derr[1024];
  CHECK(ser_decode_file(flacp, 16000, &y, &ny, derr, sizeof derr) == 0 && ny > 16000, "decode: %s", derr);
  size_t fy = 0;
  float *wy = y ? lib_features(&p, y, ny, &fy) : NULL;
  snprintf(cmd, sizeof cmd, "'%s' features -o '%s' '%s'", ser, out, flacp);
  CHECK(run(cmd, err, sizeof err) == 0, "flac: %s", err);
  expect_equal("flac", out, wy, fy, 40);
  free(wy);
  free(y);

  /* paper preset: GStreamer resamples to 22050, clip-level extras */
  ser_feature_params pp;
  ser_feature_params_paper(&pp);
  CHECK(ser_decode_file(wavp, 22050, &y, &ny, derr, sizeof derr) == 0, "decode 22050: %s", derr);
  wy = y ? lib_features(&pp, y, ny, &fy) : NULL;
  CHECK(fy == 1 + ny / 512, "paper: %zu frames for %zu samples", fy, ny);
  snprintf(cmd, sizeof cmd, "'%s' features --preset paper -o '%s' '%s'", ser, out, wavp);
  CHECK(run(cmd, err, sizeof err) == 0, "paper: %s", err);
  expect_equal("paper preset", out, wy, fy, 22);
  free(wy);
  free(y);

  /* --help, usage errors (1), bad input (2) */
  snprintf(cmd, sizeof cmd, "'%s' features --help > '%s/help.txt'", ser, tmp);
  CHECK(run(cmd, err, sizeof err) == 0, "--help exit status");
  snprintf(cmd, sizeof cmd, "grep -q -- '--n-mfcc' '%s/help.txt' && grep -q -- '--preset' '%s/help.txt'", tmp, tmp);
  CHECK(system(cmd) == 0, "--help does not list the options");
  const struct {
    const char *args;
    int status;
    const char *msg;
  } bad_cases[] = {
      {"--n-mels 300 WAV", 1, "n_mels"},
      {"--fmax 9000 WAV", 1, "fmax"},
      {"--hop-length 0 WAV", 1, "hop_length"},
      {"--window triangle WAV", 1, "--window"},
      {"--n-fft abc WAV", 1, "--n-fft"},
      {"--format wav WAV", 1, "--format"},
      {"--bogus WAV", 1, "--bogus"},
      {"", 1, "missing FILE"},
      {"WAV WAV", 1, "one FILE"},
      {"--n-mfcc", 1, "--n-mfcc"},
      {"TMP/does-not-exist.wav", 2, "does-not-exist.wav"},
      {"TMP/corrupt.wav", 2, "corrupt.wav"},
      {"TMP/corrupt.flac", 2, "corrupt.flac"},
      {"TMP/empty.wav", 2, "empty.wav"},
      {"TMP", 2, "not a regular file"},
      {"TMP/zero-channels.wav", 2, "zero-channels.wav: WAV fmt chunk: channels 0"},
      {"TMP/absurd-rate.wav", 2, "absurd-rate.wav: WAV fmt chunk: sample rate 4000000000"},
      {"TMP/rate-1.wav", 2, "rate-1.wav: WAV fmt chunk: sample rate 1 is not valid (below 1000 Hz)"},
  };
  char pth[512];
  snprintf(pth, sizeof pth, "%s/corrupt.wav", tmp);
  f = fopen(pth, "wb");
  fputs("RIFF\x10\x00\x00\x00WAVEfmt \x02\x00\x00\x00garbage garbage garbage", f);
  fclose(f);
  snprintf(pth, sizeof pth, "%s/corrupt.flac", tmp);
  f = fopen(pth, "wb");
  for (int i = 0; i < 5000; i++) fputc((i * 7919) & 0xff, f);
  fclose(f);
  snprintf(pth, sizeof pth, "%s/empty.wav", tmp);
  fclose(fopen(pth, "wb"));
  /* WAV headers no decoder can use: 0 channels; a rate beyond any caps (GStreamer
   * alone would only say "internal data stream error") */
  for (int k = 0; k < 3; k++) {
    const uint32_t rate = k == 1 ? 4000000000u : k == 2 ? 1u : 16000u;
    const uint16_t ch = k ? 1 : 0;
    unsigned char h[44 + 320] = {0};
    memcpy(h, "RIFF", 4);
    h[4] = (sizeof h - 8) & 0xff, h[5] = (sizeof h - 8) >> 8;
    memcpy(h + 8, "WAVEfmt ", 8);
    h[16] = 16, h[20] = 1, h[22] = (unsigned char)ch;
    for (int b = 0; b < 4; b++) h[24 + b] = (unsigned char)(rate >> (8 * b));
    h[32] = (unsigned char)(2 * ch), h[34] = 16;
    memcpy(h + 36, "data", 4);
    h[40] = 320 & 0xff, h[41] = 320 >> 8;
    snprintf(pth, sizeof pth, "%s/%s.wav", tmp, k == 1 ? "absurd-rate" : k == 2 ? "rate-1" : "zero-channels");
    f = fopen(pth, "wb");
    fwrite(h, 1, sizeof h, f);
    fclose(f);
  }
  for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
    char args[2048] = "";
    const char *s = bad_cases[i].args;
    while (*s) { /* expand WAV and TMP */
      if (!strncmp(s, "WAV", 3)) strcat(args, wavp), s += 3;
      else if (!strncmp(s, "TMP", 3)) strcat(args, tmp), s += 3;
      else strncat(args, s++, 1);
    }
    snprintf(cmd, sizeof cmd, "'%s' features -o '%s' %s", ser, out, args);
    int st = run(cmd, err, sizeof err);
    CHECK(st == bad_cases[i].status && strstr(err, bad_cases[i].msg),
          "'ser features %s': exit %d (want %d), stderr '%s' should name '%s'", bad_cases[i].args, st,
          bad_cases[i].status, err, bad_cases[i].msg);
  }

  free(want);
  free(x);
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmp);
  return ft_finish("test_cli");
}
