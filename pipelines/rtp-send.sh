#!/bin/sh
# Send speech as a live RTP stream over UDP (real time, like a call).
#   pipelines/rtp-send.sh FILE [HOST] [PORT]        (default 127.0.0.1 5004)
# Env: CODEC=opus (default) or l16; LOSS=0.05 drops 5 % of the RTP packets and
#      DELAY_MS=80 delays the stream (both 0 by default), to try the receiver
#      on a bad network.
set -eu
. "$(dirname "$0")/env.sh"
[ $# -ge 1 ] || { echo "usage: $0 FILE [HOST] [PORT]" >&2; exit 1; }
file=$1; host=${2:-127.0.0.1}; port=${3:-5004}
[ -f "$file" ] || { echo "rtp-send: $file: no such file" >&2; exit 2; }
loss=${LOSS:-0}; delay_ns=$(( ${DELAY_MS:-0} * 1000000 ))
case "${CODEC:-opus}" in
  opus) enc="audioresample ! audio/x-raw,rate=48000,channels=1 ! opusenc bitrate=32000 frame-size=20 ! rtpopuspay pt=96" ;;
  l16)  enc="audioresample ! audio/x-raw,format=S16BE,rate=16000,channels=1 ! rtpL16pay pt=96 max-ptime=20000000" ;;
  *) echo "rtp-send: CODEC must be opus or l16" >&2; exit 1 ;;
esac
# identity sync=true paces the file in real time; the second identity drops
# packets; the queue holds them back by DELAY_MS.
# shellcheck disable=SC2086
exec gst-launch-1.0 -q filesrc location="$file" ! decodebin ! audioconvert ! identity sync=true ! $enc \
  ! identity drop-probability="$loss" \
  ! queue max-size-time=0 max-size-buffers=0 max-size-bytes=0 min-threshold-time="$delay_ns" \
  ! udpsink host="$host" port="$port" sync=false
