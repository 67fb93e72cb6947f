#!/usr/bin/env bash
# Fuzz the .sermodel reader for SECONDS (default 60) with libFuzzer, ASan and
# UBSan. Builds tests/fuzz/fuzz_model.c with the model sources directly.
# Seeds: the fixture models in tests/fixtures/net (all but the large paper
# model) plus tests/fuzz/corpus/. Exit status non-zero if a crash, leak,
# timeout or UB is found; the input is left in $FUZZ_WORK/crash-*.
# Usage: tests/fuzz/run.sh [SECONDS]
set -euo pipefail
secs=${1:-60}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=${FUZZ_WORK:-$root/build-fuzz}
mkdir -p "$work/corpus"
src=$root/ser-core/src
blas_inc=$(pkg-config --cflags openblas 2>/dev/null || echo -I/usr/include/x86_64-linux-gnu/openblas-pthread)
bin=$work/fuzz_model
clang -std=c11 -D_GNU_SOURCE -DSER_VERSION='"fuzz"' -g -O1 \
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I"$root/ser-core/include" $blas_inc \
  "$here/fuzz_model.c" "$src/util.c" "$src/model.c" "$src/model_io.c" "$src/net.c" "$src/conv_fast.c" "$src/conv_avx2.c" "$src/spknorm.c" "$src/mfcc.c" "$src/pitch.c" "$src/fft_plan.c" \
  -o "$bin" -lfftw3f -lopenblas -lm -lpthread
for f in "$root"/tests/fixtures/net/*.sermodel "$here"/corpus/*; do
  [ -f "$f" ] || continue
  [ "$(stat -c %s "$f")" -le 70000 ] || continue
  cp -f "$f" "$work/corpus/"
done
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}:allocator_may_return_null=1
export OPENBLAS_NUM_THREADS=1
cd "$work"
exec nice "$bin" -max_total_time="$secs" -max_len=70000 -rss_limit_mb=2048 -timeout=20 \
  -print_final_stats=1 -artifact_prefix="$work/" "$work/corpus"
