#!/bin/sh
# Benchmarks of the seremotion element (not a test; numbers go to
# docs/benchmarks.md "## Element").
#   bench/element.sh [BUILD_DIR]      (default: build; needs a release build)
# Measures, on 600 s of real speech (EMO-DB clips concatenated, bench/out/speech600.wav):
#   1. element cost: CPU time of `filesrc ! wavparse ! seremotion ! fakesink` minus the
#      same pipeline without seremotion, one core (taskset -c 0), as x real time
#   2. latency from the arrival of the buffer holding a window's last sample to the
#      window's message, in-process (bench/element_bench.c), median and p95
#   3. peak RSS of the gst-launch-1.0 process with the element (/usr/bin/time %M)
#   4. live streams: N streams in one process, each paced in real time
#      (identity sync=true); sustained if every stream got all its results and the
#      results of the last quarter were < 500 ms (one interval) behind real time
# Env: STREAMS="64 128 256", LIVE_SECONDS=20, RUNS=3.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
out="$root/bench/out"
mkdir -p "$out"
export GST_PLUGIN_PATH="$build/gst-plugin" OPENBLAS_NUM_THREADS=1
wav="$out/speech600.wav"
ds="${SER_DATASETS:-$root/../shared/datasets}"
[ -f "$wav" ] || /usr/bin/python3 "$root/bench/make_speech.py" "$ds" "$wav" 600
ninja -C "$build" > /dev/null # the plugin and its built-in model as they are now
echo "built-in model: $("$build/ser-core/ser" info --builtin | grep -m1 '^  name:' | sed 's/^  name: //')"
cc -O2 -o "$out/element_bench" "$root/bench/element_bench.c" $(pkg-config --cflags --libs gstreamer-1.0 gstreamer-app-1.0)
gst-inspect-1.0 seremotion > /dev/null || { echo "seremotion not found in $build/gst-plugin" >&2; exit 1; }

cpu_of() { # prints "cpu_seconds peak_kib" of a gst-launch pipeline, best of RUNS
  best=""; mem=0
  for _ in $(seq "${RUNS:-3}"); do
    # shellcheck disable=SC2086
    /usr/bin/time -f "%U %S %M" -o "$out/time.txt" taskset -c 0 gst-launch-1.0 -q $1 > /dev/null
    c=$(awk '{ printf "%.3f", $1 + $2 }' "$out/time.txt"); m=$(awk '{ print $3 }' "$out/time.txt")
    if [ -z "$best" ] || awk "BEGIN { exit !($c < $best) }"; then best=$c; fi
    [ "$m" -gt "$mem" ] && mem=$m
  done
  echo "$best $mem"
}

echo "== element cost (600 s of speech, one core, best of ${RUNS:-3})"
set -- $(cpu_of "filesrc location=$wav ! wavparse ! seremotion ! fakesink")
with=$1; mem=$2
set -- $(cpu_of "filesrc location=$wav ! wavparse ! fakesink")
without=$1
xrt=$(awk "BEGIN { d = $with - $without; if (d < 0.001) d = 0.001; printf \"%.0f\", 600 / d }")
echo "cpu with seremotion ${with}s, without ${without}s: element ${xrt}x real time (target >= 1500x)"
echo "peak RSS of gst-launch-1.0 with seremotion: $((mem / 1024)) MiB ($mem KiB; target < 40 MiB)"

echo "== latency (10 ms buffers, full speed)"
"$out/element_bench" latency "$wav"

echo "== live streams (${LIVE_SECONDS:-20} s each run)"
for n in ${STREAMS:-64 128 256}; do
  line=$("$out/element_bench" live "$wav" "$n" "${LIVE_SECONDS:-20}" 2>/dev/null | grep '^live')
  ok=$(echo "$line" | awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
        print (v["min_per_stream"] + 1 >= v["expected_per_stream"] && v["last_quarter_max_lag_ms"] < 500) ? "sustained" : "FELL BEHIND" }')
  echo "$line -> $ok"
done
