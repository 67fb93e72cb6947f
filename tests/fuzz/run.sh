#!/usr/bin/env bash
# Fuzz the .sermodel reader for SECONDS (default 60) and `ser eval
# --from-predictions` for half as long, with libFuzzer, ASan and UBSan.
# Builds tests/fuzz/fuzz_model.c with the model sources and
# tests/fuzz/fuzz_predictions.c with the CLI's report and the CSV reader.
# Seeds: the fixture models in tests/fixtures/net (all but the large paper
# model) plus tests/fuzz/corpus/; tests/fuzz/corpus-predictions/. Exit status
# non-zero if a crash, leak, timeout or UB is found; the input is left in
# $FUZZ_WORK/crash-*.
# Usage: tests/fuzz/run.sh [SECONDS]
set -euo pipefail
secs=${1:-60}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=${FUZZ_WORK:-$root/build-fuzz}
mkdir -p "$work/corpus" "$work/corpus-predictions"
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
pbin=$work/fuzz_predictions
clang -std=c11 -D_GNU_SOURCE -DSER_VERSION='"fuzz"' -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I"$root/ser-core/include" -I"$root/ser-core/cli" \
  "$here/fuzz_predictions.c" "$root/ser-core/cli/eval_report.c" "$root/ser-core/cli/outputs.c" \
  "$src/csv.c" "$src/util.c" "$src/metrics.c" "$src/corpus.c" -o "$pbin" -lm
cp -f "$here"/corpus-predictions/* "$work/corpus-predictions/"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}:allocator_may_return_null=1
export OPENBLAS_NUM_THREADS=1
cd "$work"
nice "$bin" -max_total_time="$secs" -max_len=70000 -rss_limit_mb=2048 -timeout=20 \
  -print_final_stats=1 -artifact_prefix="$work/" "$work/corpus"
# the reports go to stdout and the refusals to stderr: closed (-close_fd_mask=3);
# libFuzzer and the sanitizers still report on their own descriptor
nice "$pbin" -max_total_time="$(( (secs + 1) / 2 ))" -max_len=20000 -rss_limit_mb=2048 -timeout=20 \
  -close_fd_mask=3 -print_final_stats=1 -artifact_prefix="$work/predictions-" "$work/corpus-predictions"
