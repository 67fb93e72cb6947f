#!/usr/bin/env bash
# Classify benchmark (not a test). 600 s of 16 kHz speech (EMO-DB clips
# concatenated, bench/out/speech600.wav), 3 s windows every 0.5 s, a temporal
# model of 0.57 M parameters / 68 MFLOP per window with random weights
# (bench/make_bench_model.py), one core (taskset -c 0), one thread:
#   ser classify (whole process; with and without convolution reuse)
#   the same job in PyTorch (bench/classify_torch.py: torchaudio MFCC, the same
#     network, windows batched 32; whole process, and network / MFCC+network CPU)
#   latency per window (bench/classify_latency.c: 10 ms pushes; median, p95)
# CPU time = user + sys of the process, best of RUNS runs (bench/measure.py).
# Usage: bench/classify.sh [RUNS]     (env: SER_DATASETS, BUILD)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
runs=${1:-5}
ds=${SER_DATASETS:-$root/../shared/datasets}
out=$root/bench/out
build=${BUILD:-$out/build-classify}
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
mkdir -p "$out"
[ -d "$build" ] || meson setup "$build" "$root" --buildtype=release >/dev/null
ninja -C "$build" ser-core/ser >/dev/null
ser=$build/ser-core/ser
wav=$out/speech600.wav
[ -f "$wav" ] || /usr/bin/python3 bench/make_speech.py "$ds" "$wav" 600
secs=600
model=$out/bench_model
[ -f "$model.sermodel" ] || /usr/bin/python3 bench/make_bench_model.py "$wav" "$model"
core="taskset -c 0"
measure() { /usr/bin/python3 bench/measure.py "$runs" "$@"; }
args=(--model "$model.sermodel" --window 3 --interval 0.5)

echo "== ser classify ($(git rev-parse --short HEAD))" >&2
read -r ser_cpu ser_mem _ < <(measure "$out/ser_out.jsonl" -- $core "$ser" classify "${args[@]}" "$wav")
read -r nr_cpu _ _ < <(measure "$out/ser_noreuse.jsonl" -- $core "$ser" classify "${args[@]}" --no-reuse "$wav")
windows=$(grep -c . "$out/ser_out.jsonl")

echo "== PyTorch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)')" >&2
read -r pt_cpu pt_mem _ < <(measure /dev/null -- $core /usr/bin/python3 bench/classify_torch.py "$wav" "$model.pt" "$out/torch_out.txt" 3 0.5)
best_net=9e9 best_all=9e9
for i in $(seq "$runs"); do
  read -r net all _ < <($core /usr/bin/python3 bench/classify_torch.py "$wav" "$model.pt" "$out/torch_out.txt" 3 0.5)
  best_net=$(awk -v a="$best_net" -v b="$net" 'BEGIN { print (b < a) ? b : a }')
  best_all=$(awk -v a="$best_all" -v b="$all" 'BEGIN { print (b < a) ? b : a }')
done
agree=$(/usr/bin/python3 - "$out" <<'PY'
import json, sys
import numpy as np
out = sys.argv[1]
a = [json.loads(l) for l in open(f"{out}/ser_out.jsonl")]
a = [r for r in a if r["end"] - r["start"] > 2.99]
t = [l.split() for l in open(f"{out}/torch_out.txt")]
labs = list(a[0]["scores"])
P = np.array([[r["scores"][k] for k in labs] for r in a])
Q = np.array([[float(v) for v in l[2:]] for l in t])
print(f"{len(a)} windows vs {len(t)}; max |p_ser - p_torch| {np.abs(P - Q).max():.1e}; "
      f"top label agrees on {100 * (P.argmax(1) == Q.argmax(1)).mean():.1f}%")
PY
)

echo "== latency" >&2
lat_bin=$out/classify_latency
cc -O2 -std=c11 -I"$root/ser-core/include" -I"$root/ser-core/src" bench/classify_latency.c \
  -L"$build/ser-core" -Wl,-rpath,"$build/ser-core" -lser-core -lm -o "$lat_bin"
read -r lat_n lat_med lat_p95 lat_max lat_mean _ < <($core "$lat_bin" "$model.sermodel" "$wav" 3 0.5)
flops=$(/usr/bin/python3 -c "
c=[(40,64),(64,128),(128,256),(256,256)]; t=297; f=0
for i,(a,b) in enumerate(c):
    f+=2*a*b*5*t
    t = t//2 if i < 3 else t
print(f/1e6)")

row() { awk -v n="$1" -v c="$2" -v s="$secs" -v ref="$ser_cpu" -v m="$3" 'BEGIN {
  printf "| %-46s | %8.3f | %8.0f | %8.2f | %s |\n", n, c, s / c, c / ref, m }'; }
echo
echo "600 s of speech, $windows windows (3 s every 0.5 s), conv layers $flops MFLOP per window, one core"
echo
echo "| job | CPU s | x real time | / ser classify | peak RSS MiB |"
echo "|---|---:|---:|---:|---:|"
row "ser classify (reuse, whole process)" "$ser_cpu" "$(awk -v m="$ser_mem" 'BEGIN{printf "%.0f", m/1024}')"
row "ser classify --no-reuse (whole process)" "$nr_cpu" ""
row "PyTorch (whole process)" "$pt_cpu" "$(awk -v m="$pt_mem" 'BEGIN{printf "%.0f", m/1024}')"
row "PyTorch MFCC + network (CPU in-process)" "$best_all" ""
row "PyTorch network only (CPU in-process)" "$best_net" ""
echo
echo "agreement: $agree"
echo "latency per window (10 ms pushes, from the push carrying the last sample to the result):"
echo "  median $lat_med ms, p95 $lat_p95 ms, max $lat_max ms, mean $lat_mean ms over $lat_n windows"
