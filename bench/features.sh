#!/usr/bin/env bash
# Feature extraction benchmark (not a test): 600 s of 16 kHz mono speech
# (EMO-DB clips concatenated into bench/out/), one core, whole processes:
#   ser features (Release build; also with --pitch-features), torchaudio MFCC (whole process and compute
#   only), sphinx_fe (sphinxbase-utils), aubiomfcc and aubiopitch (aubio-tools).
# Prints audio-seconds per CPU-second (CPU = user + sys of the process, the
# best of RUNS runs), the ratio to ser, and peak RSS (/usr/bin/time -f %M).
# Usage: bench/features.sh [RUNS]      (env: SER_DATASETS, BUILD)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
runs=${1:-5}
ds=${SER_DATASETS:-$root/../shared/datasets}
out=$root/bench/out
build=${BUILD:-$out/build-release}
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
mkdir -p "$out"

if [ ! -d "$build" ]; then
  meson setup "$build" "$root" --buildtype=release >/dev/null
fi
ninja -C "$build" ser-core/ser >/dev/null
ser=$build/ser-core/ser

wav=$out/speech600.wav
[ -f "$wav" ] || /usr/bin/python3 bench/make_speech.py "$ds" "$wav" 600
secs=600

core="taskset -c 0"
measure() { /usr/bin/python3 bench/measure.py "$runs" "$@"; }
peak() { /usr/bin/time -o "$out/time.txt" -f %M "$@" >/dev/null; tail -1 "$out/time.txt"; }

echo "== ser features ($(git -C "$root" rev-parse --short HEAD), $(basename "$build"))"
read -r ser_cpu _ _ < <(measure /dev/null -- $core "$ser" features -o "$out/ser.npy" "$wav")
ser_mem=$(peak $core "$ser" features -o "$out/ser.npy" "$wav")

echo "== ser features --pitch-features"
read -r serp_cpu _ _ < <(measure /dev/null -- $core "$ser" features --pitch-features -o "$out/serp.npy" "$wav")
serp_mem=$(peak $core "$ser" features --pitch-features -o "$out/serp.npy" "$wav")

echo "== torchaudio $(/usr/bin/python3 -c 'import torchaudio; print(torchaudio.__version__)')"
read -r ta_cpu _ _ < <(measure "$out/ta.txt" -- $core /usr/bin/python3 bench/torchaudio_mfcc.py "$wav" "$out/ta.npy")
ta_compute=$(for i in $(seq "$runs"); do $core /usr/bin/python3 bench/torchaudio_mfcc.py "$wav" "$out/ta.npy"; done | sort -g | head -1)
ta_mem=$(peak $core /usr/bin/python3 bench/torchaudio_mfcc.py "$wav" "$out/ta.npy")
max_diff=$(/usr/bin/python3 -c "
import numpy as np
a = np.load('$out/ser.npy'); b = np.load('$out/ta.npy')
d = np.abs(a - b).max(axis=1)
print(f'max abs diff to ser {d.max():.1e}, frames within 1e-3: {(d <= 1e-3).sum()}/{len(d)}' if a.shape == b.shape else f'shape {a.shape} vs {b.shape}')")

echo "== sphinx_fe"
sphinx_args=(-i "$wav" -o "$out/sphinx.mfc" -mswav yes -samprate 16000 -nfft 512 -wlen 0.025
  -frate 100 -nfilt 40 -ncep 40 -lowerf 0 -upperf 8000 -alpha 0 -dither no -transform dct
  -remove_noise no -remove_silence no)
read -r sp_cpu _ _ < <(measure /dev/null -- $core sphinx_fe "${sphinx_args[@]}" 2>/dev/null)
sp_mem=$(peak $core sphinx_fe "${sphinx_args[@]}" 2>/dev/null)

echo "== aubiopitch"
read -r ap_cpu _ _ < <(measure /dev/null -- $core aubiopitch -i "$wav" -r 16000 -B 1024 -H 160 -p yinfft)
ap_mem=$(peak $core aubiopitch -i "$wav" -r 16000 -B 1024 -H 160 -p yinfft)

echo "== aubiomfcc"
read -r au_cpu _ _ < <(measure "$out/aubio.txt" -- $core aubiomfcc -i "$wav" -r 16000 -B 512 -H 160)
au_mem=$(peak $core aubiomfcc -i "$wav" -r 16000 -B 512 -H 160)

row() { # name cpu mem config
  awk -v n="$1" -v c="$2" -v m="$3" -v s="$secs" -v ref="$ser_cpu" -v cfg="$4" 'BEGIN {
    printf "| %-34s | %8.4f | %10.0f | %7.1f | %8.1f | %s |\n", n, c, s / c, c / ref, m / 1024, cfg }'
}
{
  echo "600 s of 16 kHz speech (EMO-DB concatenated), one core (taskset -c 0), best of $runs runs; $(date -u +%Y-%m-%d), $(grep -c ^processor /proc/cpuinfo) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
  echo
  echo "| program | CPU s | audio s / CPU s | ser is N times faster | peak RSS MiB | configuration |"
  echo "|---|---:|---:|---:|---:|---|"
  row "ser features (whole process)" "$ser_cpu" "$ser_mem" "SPEC default: 400/160, FFT 512, 40 htk mels, dB, 40 MFCC; npy out"
  row "ser features --pitch-features" "$serp_cpu" "$serp_mem" "the same + log pitch and voicing per frame (NCCF by FFT autocorrelation)"
  row "torchaudio MFCC (whole process)" "$ta_cpu" "$ta_mem" "same, MelSpectrogram + create_dct; $max_diff"
  row "torchaudio MFCC (compute only)" "$ta_compute" "$ta_mem" "same, transform only (process_time)"
  row "sphinx_fe" "$sp_cpu" "$sp_mem" "wlen 0.025, frate 100, FFT 512, 40 filters 0-8000 Hz, 40 ceps, dct"
  row "aubiomfcc" "$au_cpu" "$au_mem" "buffer 512, hop 160, 40 filters, 13 coeffs, text out"
  row "aubiopitch (pitch only)" "$ap_cpu" "$ap_mem" "yinfft, buffer 1024, hop 160, text out"
} | tee "$out/features.md"
echo
awk -v c="$ser_cpu" -v m="$ser_mem" 'BEGIN {
  printf "targets: >= 10000x real time: %s (%.0fx); peak memory < 40 MiB: %s (%.1f MiB)\n",
    (600 / c >= 10000 ? "met" : "NOT met"), 600 / c, (m / 1024 < 40 ? "met" : "NOT met"), m / 1024 }'
