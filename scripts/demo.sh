#!/usr/bin/env bash
# The main job: installs what is missing, builds, and runs the seremotion
# element with the built-in model on a bundled speech clip, printing the
# emotion timeline.   Usage: scripts/demo.sh [AUDIO_FILE]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh >&2
[ -f build/build.ninja ] || meson setup build --buildtype=release >/dev/null
ninja -C build >/dev/null
file=${1:-data/speech-emodb-03.wav}
export GST_PLUGIN_PATH="$PWD/build/gst-plugin${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
win=$(build/ser-core/ser info --builtin | sed -n 's/.*default window [0-9]* frames (\([0-9.]*\) s).*/\1/p')
echo "seremotion on $file (built-in model; window ${win:-?} s, every 0.5 s)"
printf '%9s %9s  %-10s %6s  %s\n' start end emotion conf speech
gst-launch-1.0 -m filesrc location="$file" ! decodebin ! audioconvert ! audioresample \
    ! seremotion ! fakesink sync=false 2>&1 |
  sed -n 's/.*(element): \(seremotion.*\)/\1/p' |
  awk '/^seremotion-summary/ {
    em = $0; sub(/.*emotion=\(string\)/, "", em); sub(/,.*/, "", em)
    n = $0; sub(/.*windows=\(guint64\)/, "", n); sub(/,.*/, "", n)
    printf "whole stream: %s (%s windows)\n", em, n; next
  }
  {
    ts = $0; sub(/.*timestamp=\(guint64\)/, "", ts); sub(/,.*/, "", ts)
    du = $0; sub(/.*duration=\(guint64\)/, "", du); sub(/,.*/, "", du)
    em = $0; sub(/.*emotion=\(string\)/, "", em); sub(/,.*/, "", em)
    cf = $0; sub(/.*confidence=\(double\)/, "", cf); sub(/,.*/, "", cf)
    sp = $0; sub(/.*speech=\(boolean\)/, "", sp); sub(/,.*/, "", sp)
    printf "%8.2fs %8.2fs  %-10s %6.2f  %s\n", ts / 1e9, (ts + du) / 1e9, em, cf, sp
  }'
