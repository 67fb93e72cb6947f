/* Network benchmark: single-core cblas_sgemm peak (1024^3) vs the conv
 * layers of the benchmark model, and per-window latency.
 * Benchmark model = the default architecture: 4 conv blocks (k5; 64, 128,
 * 256, 256 channels; BN; ReLU; maxpool 2 after blocks 1-3), CBAM after
 * blocks 3 and 4, global avg||max pool, dense -> 7, softmax; input 40 MFCC,
 * 300 frames (3 s at 100 frames/s). Random weights.
 * Build and run: bench/net.sh */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ser.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static ser_rng rng;

static ser_layer mk(uint32_t kind) {
  ser_layer l;
  memset(&l, 0, sizeof l);
  l.kind = kind;
  return l;
}

static void fill(ser_layer *l) {
  l->n_params = ser_layer_param_count(l);
  l->params = malloc((l->n_params ? l->n_params : 1) * sizeof(float));
  for (uint32_t i = 0; i < l->n_params; i++) l->params[i] = 0.05f * ser_rng_normal(&rng);
  if (l->kind == SER_L_BATCHNORM)
    for (uint32_t i = 0; i < l->in_ch; i++) l->params[3 * l->in_ch + i] = 1.0f + 0.1f * fabsf(l->params[i]);
}

static ser_model *bench_model(uint32_t *n_layers_out) {
  static const uint32_t ch[] = {64, 128, 256, 256};
  ser_layer L[64];
  uint32_t n = 0, c = 40;
  for (int b = 0; b < 4; b++) {
    ser_layer l = mk(SER_L_CONV1D);
    l.in_ch = c, l.out_ch = ch[b], l.kernel = 5, l.stride = 1, l.padding = 2, l.dilation = 1;
    L[n++] = l;
    l = mk(SER_L_BATCHNORM);
    l.in_ch = ch[b], l.eps = 1e-5f;
    L[n++] = l;
    L[n++] = mk(SER_L_RELU);
    if (b >= 2) {
      l = mk(SER_L_CHANNEL_ATT);
      l.in_ch = ch[b], l.reduction = 16;
      L[n++] = l;
      l = mk(SER_L_SPATIAL_ATT);
      l.kernel = 7;
      L[n++] = l;
    }
    if (b < 3) {
      l = mk(SER_L_MAXPOOL);
      l.kernel = 2, l.stride = 2;
      L[n++] = l;
    }
    c = ch[b];
  }
  ser_layer l = mk(SER_L_GLOBAL_POOL);
  l.mode = 2;
  L[n++] = l;
  l = mk(SER_L_DENSE);
  l.in_ch = 2 * c, l.out_ch = 7;
  L[n++] = l;
  L[n++] = mk(SER_L_SOFTMAX);
  for (uint32_t i = 0; i < n; i++) fill(&L[i]);
  static char *labels[] = {"neutral", "happy", "sad", "angry", "fearful", "disgusted", "surprised"};
  ser_model_spec s;
  memset(&s, 0, sizeof s);
  s.arch = SER_ARCH_TEMPORAL;
  s.feat = (ser_feature_params){.sample_rate = 16000, .win_length = 400, .hop_length = 160, .n_fft = 512,
                                .n_mels = 40, .n_mfcc = 40, .delta_width = 9};
  s.n_labels = 7;
  s.labels = labels;
  s.in_ch = 40;
  s.in_len = 300;
  s.n_layers = n;
  s.layers = L;
  ser_error e;
  ser_model *m = ser_model_from_spec(&s, &e);
  if (!m) {
    fprintf(stderr, "bench model: %s\n", e.msg);
    exit(1);
  }
  for (uint32_t i = 0; i < n; i++) free(L[i].params);
  *n_layers_out = n;
  return m;
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
/* The core's float FMA peak with AVX-512: 24 independent accumulators,
 * registers only. */
__attribute__((target("avx512f"), noinline)) static double fma_peak(double min_time) {
  __m512 acc[24], x = _mm512_set1_ps(1.0000001f), y = _mm512_set1_ps(0.9999999f);
  for (int i = 0; i < 24; i++) acc[i] = _mm512_set1_ps((float)i);
  long iters = 0;
  double t0 = now(), t;
  do {
    for (int k = 0; k < 100000; k++)
#pragma GCC unroll 24
      for (int i = 0; i < 24; i++) acc[i] = _mm512_fmadd_ps(acc[i], x, y);
    iters += 100000;
  } while ((t = now() - t0) < min_time);
  float sink = 0;
  for (int i = 0; i < 24; i++) sink += _mm512_reduce_add_ps(acc[i]);
  if (sink == 12345.0f) printf(" ");
  return 2.0 * 16 * 24 * iters / t / 1e9;
}
/* The same with AVX2 + FMA: 12 accumulators (of the 16 registers). */
__attribute__((target("avx2,fma"), noinline)) static double fma_peak_avx2(double min_time) {
  __m256 acc[12], x = _mm256_set1_ps(1.0000001f), y = _mm256_set1_ps(0.9999999f);
  for (int i = 0; i < 12; i++) acc[i] = _mm256_set1_ps((float)i);
  long iters = 0;
  double t0 = now(), t;
  do {
    for (int k = 0; k < 100000; k++)
#pragma GCC unroll 12
      for (int i = 0; i < 12; i++) acc[i] = _mm256_fmadd_ps(acc[i], x, y);
    iters += 100000;
  } while ((t = now() - t0) < min_time);
  float v[8], sink = 0;
  for (int i = 0; i < 12; i++) {
    _mm256_storeu_ps(v, acc[i]);
    for (int j = 0; j < 8; j++) sink += v[j];
  }
  if (sink == 12345.0f) printf(" ");
  return 2.0 * 8 * 12 * iters / t / 1e9;
}
#endif

int main(int argc, char **argv) {
  double min_time = argc > 1 ? atof(argv[1]) : 1.0; /* seconds per measurement */
  ser_blas_single_thread();
  ser_rng_seed(&rng, 42);
  /* sgemm peak */
  const int N = 1024;
  float *A = malloc(sizeof(float) * N * N), *B = malloc(sizeof(float) * N * N), *C = malloc(sizeof(float) * N * N);
  for (int i = 0; i < N * N; i++) A[i] = ser_rng_uniform(&rng), B[i] = ser_rng_uniform(&rng), C[i] = 0;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, N, N, 1, A, N, B, N, 0, C, N);
  int reps = 0;
  double t0 = now(), t;
  do {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, N, N, 1, A, N, B, N, 0, C, N);
    reps++;
  } while ((t = now() - t0) < min_time);
  double peak = 2.0 * N * N * N * reps / t / 1e9;
  printf("cblas_sgemm 1024^3 (1 thread): %.1f GFLOP/s\n", peak);
  double fpeak = 0;
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  const char *conv_env = getenv("SER_CONV");
  const int avx2_only = conv_env && !strcmp(conv_env, "avx2");
  if (__builtin_cpu_supports("avx512f") && !avx2_only) {
    fpeak = fma_peak(min_time);
    printf("AVX-512 FMA peak (1 core, registers only): %.1f GFLOP/s\n", fpeak);
  } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    fpeak = fma_peak_avx2(min_time);
    printf("AVX2 FMA peak (1 core, registers only): %.1f GFLOP/s\n", fpeak);
  }
#endif
  printf("convolutions: %s\n", conv_env && !strcmp(conv_env, "blas") ? "im2col + OpenBLAS sgemm (SER_CONV=blas)"
                                : avx2_only ? "ser-core's AVX2 kernel (SER_CONV=avx2)"
                                            : "ser-core's kernel (AVX-512, else AVX2 + FMA, else OpenBLAS)");
  free(A);
  free(B);
  free(C);

  uint32_t nl;
  ser_model *m = bench_model(&nl);
  const uint32_t T = 300;
  ser_error e;
  ser_net *net = ser_net_new(m, T, &e);
  if (!net) {
    fprintf(stderr, "%s\n", e.msg);
    return 1;
  }
  printf("benchmark model: %llu parameters, %.1f MFLOP per %u-frame window (%.2f M multiply-adds)\n",
         (unsigned long long)ser_model_n_params(m), 2 * ser_model_flops(m, T) / 1e6, T,
         ser_model_flops(m, T) / 1e6);
  /* conv layers one by one (im2col + sgemm), at their shapes in the window */
  size_t cap = (size_t)256 * T * 2;
  float *x = malloc(cap * sizeof *x), *y = malloc(cap * sizeof *y);
  for (size_t i = 0; i < cap; i++) x[i] = ser_rng_normal(&rng);
  uint32_t c = 40, tt = T, n_ops = ser_net_n_layers(net);
  double conv_flop = 0, conv_time = 0;
  for (uint32_t i = 0; i < n_ops; i++) {
    uint32_t oc, ot;
    if (ser_net_forward_layers(net, i, i + 1, x, c, tt, y, cap, &oc, &ot, &e)) {
      fprintf(stderr, "layer %u: %s\n", i, e.msg);
      return 1;
    }
    if (ser_net_layer_kind(net, i) == SER_L_CONV1D) {
      double flop = 2.0 * oc * ot * c * 5;
      reps = 0;
      t0 = now();
      do {
        ser_net_forward_layers(net, i, i + 1, x, c, tt, y, cap, &oc, &ot, &e);
        reps++;
      } while ((t = now() - t0) < min_time / 4);
      double g = flop * reps / t / 1e9;
      printf("  conv %3u->%3u k5 over %3u frames: %6.1f GFLOP/s (%3.0f%% of sgemm peak, %3.0f%% of FMA peak), %.3f ms\n",
             c, oc, tt, g, 100 * g / peak, fpeak > 0 ? 100 * g / fpeak : 0.0, 1e3 * t / reps);
      conv_flop += flop;
      conv_time += t / reps;
    }
    c = oc;
    tt = ot;
  }
  printf("all conv layers: %.1f GFLOP/s (%.0f%% of sgemm peak, %.0f%% of FMA peak)\n", conv_flop / conv_time / 1e9,
         100 * conv_flop / conv_time / 1e9 / peak, fpeak > 0 ? 100 * conv_flop / conv_time / 1e9 / fpeak : 0.0);
  /* whole windows */
  float *in = malloc(sizeof(float) * 40 * T), p[7];
  for (uint32_t i = 0; i < 40 * T; i++) in[i] = ser_rng_normal(&rng);
  ser_net_forward(net, in, T, p, &e);
  double lat[2000];
  int nlat = 0;
  t0 = now();
  while (nlat < 2000 && (nlat < 20 || now() - t0 < min_time)) {
    double a = now();
    ser_net_forward(net, in, T, p, &e);
    lat[nlat++] = now() - a;
  }
  qsort(lat, (size_t)nlat, sizeof lat[0], cmp_d);
  double sum = 0;
  for (int i = 0; i < nlat; i++) sum += lat[i];
  printf("per-window latency (3 s window, %d runs): median %.3f ms, mean %.3f ms, p95 %.3f ms -> %.1f GFLOP/s, "
         "%.0fx real time\n",
         nlat, 1e3 * lat[nlat / 2], 1e3 * sum / nlat, 1e3 * lat[nlat * 95 / 100],
         2 * ser_model_flops(m, T) / lat[nlat / 2] / 1e9, 3.0 / lat[nlat / 2]);
  free(in);
  free(x);
  free(y);
  ser_net_free(net);
  ser_model_unref(m);
  return 0;
}
