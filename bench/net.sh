#!/usr/bin/env bash
# Network benchmark: builds bench/net_bench.c with the model and net sources
# (as the library is built: -O3, no -march) and runs it single-threaded.
# Runs with ser-core's kernel (AVX-512 where the CPU has it, else AVX2 + FMA),
# then, on an AVX-512 CPU, with SER_CONV=avx2 (the AVX2 kernel), then with
# SER_CONV=blas (im2col + OpenBLAS sgemm).
# Usage: bench/net.sh [SECONDS_PER_MEASUREMENT]   (default 1)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${TMPDIR:-/tmp}/ser-net-bench.$$
src=$root/ser-core/src
blas_inc=$(pkg-config --cflags openblas 2>/dev/null || echo -I/usr/include/x86_64-linux-gnu/openblas-pthread)
gcc -std=c11 -O3 -D_GNU_SOURCE -DSER_VERSION='"bench"' -I"$root/ser-core/include" $blas_inc \
  "$root/bench/net_bench.c" "$src/util.c" "$src/model.c" "$src/model_io.c" "$src/net.c" "$src/conv_fast.c" "$src/conv_avx2.c" \
  "$src/mfcc.c" "$src/pitch.c" "$src/fft_plan.c" "$src/spknorm.c" \
  -o "$out" -lfftw3f -lopenblas -lm -lpthread
trap 'rm -f "$out"' EXIT
OPENBLAS_NUM_THREADS=1 "$out" "${1:-1}"
if grep -qw avx512f /proc/cpuinfo 2>/dev/null; then
  echo
  echo "== the same with SER_CONV=avx2 (the AVX2 + FMA kernel, the path of CPUs without AVX-512F)"
  SER_CONV=avx2 OPENBLAS_NUM_THREADS=1 "$out" "${1:-1}"
fi
echo
echo "== the same with SER_CONV=blas (im2col + OpenBLAS, the path of CPUs with neither AVX-512F nor AVX2 + FMA)"
SER_CONV=blas OPENBLAS_NUM_THREADS=1 "$out" "${1:-1}"
