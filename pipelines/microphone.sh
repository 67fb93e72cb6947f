#!/bin/sh
# Emotion of the speech at the default microphone, live.
#   pipelines/microphone.sh [SECONDS]       (default: until Ctrl-C)
# The pipeline (printed results are the element's bus messages):
#   gst-launch-1.0 -m -e autoaudiosrc ! audioconvert ! audioresample ! seremotion ! fakesink
# Each result is printed as "start-end emotion confidence" (stream time, s).
# Pick another source with SRC, e.g. SRC="pulsesrc device=my.monitor".
set -eu
. "$(dirname "$0")/env.sh"
src=${SRC:-autoaudiosrc}
format() {
  sed -n 's/.*(element): seremotion, timestamp=(guint64)\([0-9]*\), stream-time=(guint64)\([0-9]*\), .*duration=(guint64)\([0-9]*\), emotion=(string)\([a-z]*\), confidence=(double)\([0-9.e-]*\), speech=(boolean)\([a-z]*\).*/\2 \3 \4 \5 \6/p;
          s/.*(element): seremotion-summary, emotion=(string)\([a-z]*\).*windows=(guint64)\([0-9]*\).*/summary \1 \2/p;
          s/^\(ERROR.*\)/\1/p' |
  awk '$1 == "summary" { printf "summary: %s over %d windows\n", $2, $3; fflush(); next }
       /^ERROR/ { print; fflush(); next }
       { printf "%8.3f-%8.3f  %-10s %.3f%s\n", $1/1e9, ($1+$2)/1e9, $3, $4, ($5 == "true") ? "" : "  (no speech)"; fflush() }'
}
limit=""
[ $# -ge 1 ] && limit="timeout -s INT $1"
# shellcheck disable=SC2086
$limit gst-launch-1.0 -m -e $src ! audioconvert ! audioresample ! seremotion ${SEREMOTION_PROPS:-} ! fakesink sync=false 2>&1 | format
