#!/bin/sh
# Receive a live RTP speech stream and print its emotions as they come.
#   pipelines/rtp-receive.sh [PORT] [SECONDS]      (default 5004, until Ctrl-C)
# Env: CODEC=opus (default) or l16 (must match the sender); LATENCY_MS=200
#      (jitter buffer). Lost packets are concealed (Opus PLC) or become GAPs
#      (L16), which seremotion counts as silence: results keep coming. mode=none:
#      timestamps follow the RTP clock exactly, so they match the sample count.
# Prints one line per window: "start-end emotion confidence" (stream time, s).
set -eu
. "$(dirname "$0")/env.sh"
port=${1:-5004}
latency=${LATENCY_MS:-200}
case "${CODEC:-opus}" in
  opus) caps="application/x-rtp,media=audio,encoding-name=OPUS,clock-rate=48000,payload=96"
        dec="rtpopusdepay ! opusdec plc=true" ;;
  l16)  caps="application/x-rtp,media=audio,encoding-name=L16,clock-rate=16000,channels=1,payload=96"
        dec="rtpL16depay" ;;
  *) echo "rtp-receive: CODEC must be opus or l16" >&2; exit 1 ;;
esac
limit=""
[ $# -ge 2 ] && limit="timeout -s INT $2"
# shellcheck disable=SC2086
$limit gst-launch-1.0 -m -e udpsrc port="$port" caps="$caps" \
  ! rtpjitterbuffer latency="$latency" do-lost=true mode=none ! $dec ! audioconvert ! audioresample \
  ! seremotion ${SEREMOTION_PROPS:-} ! fakesink sync=false 2>&1 |
  sed -n 's/.*(element): seremotion, timestamp=(guint64)\([0-9]*\), .*duration=(guint64)\([0-9]*\), emotion=(string)\([a-z]*\), confidence=(double)\([0-9.e-]*\), speech=(boolean)\([a-z]*\).*/\1 \2 \3 \4 \5/p; s/^\(ERROR.*\)/\1/p' |
  awk '/^ERROR/ { print; fflush(); next }
       { printf "%8.3f-%8.3f  %-10s %.3f%s\n", $1/1e9, ($1+$2)/1e9, $3, $4, ($5 == "true") ? "" : "  (no speech)"; fflush() }'
