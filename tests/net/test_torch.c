/* The network against PyTorch: every case in tests/fixtures/net/cases.txt
 * (written by tests/make_net_fixtures.py) must match torch's float64
 * outputs within 1e-4 relative. Also checks min_frames against the
 * shortest length torch accepts, and that one length shorter is refused.
 * Run three times: with the convolution kernel the CPU gets (AVX-512, else
 * AVX2 + FMA), with the AVX2 kernel (argument "avx2"; the same run where
 * the CPU lacks AVX-512F) and with the OpenBLAS path (argument "blas"). */
#include <math.h>

#include "net_test.h"
#include "ser.h"

static void run_case(const char *name, uint32_t T, int is_min) {
  char path[4400];
  ser_error err = {{0}};
  snprintf(path, sizeof path, "%s/%s.sermodel", fixture_dir(), name);
  ser_model *m = ser_model_load(path, &err);
  CHECK(m != NULL, "%s: %s", path, err.msg);
  if (!m) return;
  size_t nin = 0, nout = 0;
  snprintf(path, sizeof path, "%s/%s.%u.in.f32", fixture_dir(), name, T);
  float *x = read_all(path, &nin);
  snprintf(path, sizeof path, "%s/%s.%u.out.f32", fixture_dir(), name, T);
  float *want = read_all(path, &nout);
  const ser_model_spec *s = ser_model_get_spec(m);
  uint32_t L = ser_model_n_labels(m);
  CHECK(x && nin == (size_t)T * s->in_ch * 4, "%s: input size %zu", name, nin);
  CHECK(want && nout == (size_t)L * 4, "%s: output size %zu", name, nout);
  if (x && want && nin == (size_t)T * s->in_ch * 4 && nout == (size_t)L * 4) {
    if (is_min) CHECK(ser_model_min_frames(m) == T, "%s: min_frames %u, torch accepts %u", name,
                      ser_model_min_frames(m), T);
    ser_net *n = ser_net_new(m, T + 5, &err);
    CHECK(n != NULL, "%s: %s", name, err.msg);
    float probs[64];
    if (n) {
      int r = ser_net_forward(n, x, T, probs, &err);
      CHECK(r == 0, "%s T=%u: %s", name, T, err.msg);
      double worst = 0, sum = 0;
      for (uint32_t i = 0; i < L; i++) {
        double d = fabs((double)probs[i] - want[i]) / fmax(fabs((double)want[i]), 1e-6);
        if (d > worst) worst = d;
        sum += probs[i];
      }
      CHECK(worst <= 1e-4, "%s T=%u: worst relative error %g", name, T, worst);
      CHECK(fabs(sum - 1.0) < 1e-5, "%s: probabilities sum to %g", name, sum);
      printf("%-18s T=%-4u labels=%u worst rel err %.2e\n", name, T, L, worst);
      /* layer ranges: any split point gives exactly the full forward's result */
      uint32_t nl = ser_net_n_layers(n);
      CHECK(nl >= 2 && ser_net_layer_kind(n, nl - 1) == SER_L_SOFTMAX, "%s: %u layers", name, nl);
      size_t cap = (size_t)64 * 4096;
      float *xt = malloc((size_t)T * s->in_ch * sizeof *xt), *mid = malloc(cap * sizeof *mid), out[64];
      for (uint32_t t = 0; t < T; t++)
        for (uint32_t c = 0; c < s->in_ch; c++)
          xt[(size_t)c * T + t] = s->arch == SER_ARCH_TEMPORAL ? x[(size_t)t * s->in_ch + c] : x[t];
      for (uint32_t k = 0; k <= nl; k++) {
        uint32_t c1, t1, c2, t2;
        int r1 = ser_net_forward_layers(n, 0, k, xt, s->in_ch, T, mid, cap, &c1, &t1, &err);
        CHECK(r1 == 0, "%s: layers [0,%u): %s", name, k, err.msg);
        if (r1) break;
        int r2 = ser_net_forward_layers(n, k, nl, mid, c1, t1, out, 64, &c2, &t2, &err);
        CHECK(r2 == 0 && c2 == L && t2 == 1, "%s: layers [%u,%u): %s", name, k, nl, err.msg);
        if (!r2) CHECK(!memcmp(out, probs, L * sizeof *out), "%s: split at %u differs", name, k);
      }
      CHECK(ser_net_forward_layers(n, 0, nl, xt, s->in_ch + 1, T, mid, cap, &L, &L, &err) < 0,
            "%s: wrong channel count accepted", name);
      free(xt);
      free(mid);
      if (is_min && s->arch == SER_ARCH_TEMPORAL && T > 1) {
        r = ser_net_forward(n, x, T - 1, probs, &err);
        CHECK(r < 0 && strstr(err.msg, "shorter than the model's minimum"), "%s: T-1 accepted: %s", name,
              err.msg);
      }
      ser_net_free(n);
    }
  }
  free(x);
  free(want);
  ser_model_unref(m);
}

int main(int argc, char **argv) {
  /* "blas": the im2col + OpenBLAS convolution instead of ser-core's kernel;
   * "avx2": the AVX2 kernel even on an AVX-512 CPU */
  if (argc > 1 && (strcmp(argv[1], "blas") == 0 || strcmp(argv[1], "avx2") == 0)) setenv("SER_CONV", argv[1], 1);
  char path[4400];
  snprintf(path, sizeof path, "%s/cases.txt", fixture_dir());
  FILE *f = fopen(path, "r");
  CHECK(f != NULL, "cannot open %s", path);
  if (!f) return 1;
  char line[256], name[128], tag[16];
  unsigned T;
  int n = 0;
  while (fgets(line, sizeof line, f)) {
    tag[0] = 0;
    if (sscanf(line, "%127s %u %15s", name, &T, tag) < 2) continue;
    run_case(name, T, !strcmp(tag, "min"));
    n++;
  }
  fclose(f);
  CHECK(n >= 10, "only %d cases", n);
  return finish("test_torch");
}
