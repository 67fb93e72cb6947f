#!/bin/sh
# Runs the example pipelines in pipelines/ on real speech and checks their
# output. Usage: test_pipelines.sh tag-media|rtp-opus|rtp-l16|microphone|app
# (env from tests/meson.build: SER_SOURCE_ROOT, SER_BUILD_ROOT, SER_DATASETS)
set -eu
what=$1
src=$SER_SOURCE_ROOT
export SER_BUILD_ROOT
tmp=$(mktemp -d)
pa_pid=""
cleanup() {
  [ -n "$pa_pid" ] && kill "$pa_pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
wp="$src/tests/element/with-plugin.sh"
clip="$SER_DATASETS/emodb/wav/08b03Tc.wav"   # 9 s of speech (EMO-DB, speaker 08)
[ -f "$clip" ] || clip="$src/data/speech-emodb-03.wav"
fail() { echo "FAIL: $*" >&2; exit 1; }

# results lines: "start-end emotion confidence [  (no speech)]"
check_results() { # file min_lines min_speech
  n=$(grep -cE '^ *[0-9.]+- *[0-9.]+ ' "$1" || true)
  sp=$(grep -E '^ *[0-9.]+- *[0-9.]+ ' "$1" | grep -vc 'no speech' || true)
  echo "$n results, $sp with speech"
  [ "$n" -ge "$2" ] || fail "only $n results (want >= $2)"
  [ "$sp" -ge "$3" ] || fail "only $sp speech results (want >= $3)"
  # start times strictly increasing
  grep -E '^ *[0-9.]+- *[0-9.]+ ' "$1" | awk -F- '{ s = $1 + 0; if (NR > 1 && s <= prev) { print "not monotonic at " s; exit 1 } prev = s }' ||
    fail "timestamps not monotonic"
}

case "$what" in
  tag-media)
    cp "$clip" "$tmp/speech.wav"
    for ext in ogg flac mka; do
      "$wp" "$src/pipelines/tag-media.sh" "$tmp/speech.wav" "$tmp/out.$ext" > "$tmp/log" 2>&1 || { cat "$tmp/log"; fail "tag-media $ext"; }
      cat "$tmp/log"
      emo=$(sed -n 's/.*"emotion":"\([a-z]*\)".*/\1/p' "$tmp/speech.wav.emotion.jsonl" | head -1)
      [ -n "$emo" ] || fail "no emotion in the jsonl"
      grep -q "EMOTION=" "$tmp/log" || fail "EMOTION tag did not survive in .$ext"
    done
    n=$(wc -l < "$tmp/speech.wav.emotion.jsonl")
    [ "$n" -ge 10 ] || fail "only $n jsonl lines"
    head -1 "$tmp/speech.wav.emotion.vtt" | grep -q '^WEBVTT' || fail "vtt header"
    cues=$(grep -c -- '-->' "$tmp/speech.wav.emotion.vtt")
    [ "$cues" -eq "$n" ] || fail "$cues vtt cues for $n windows"
    # every line parses as JSON with the fields of ser classify
    /usr/bin/python3 - "$tmp/speech.wav.emotion.jsonl" <<'PY' || fail "jsonl"
import json, sys
for l in open(sys.argv[1]):
    o = json.loads(l)
    assert set(o) == {"file", "start", "end", "emotion", "confidence", "speech", "scores"}, o
    assert o["end"] > o["start"]
PY
    ;;
  rtp-opus|rtp-l16)
    codec=${what#rtp-}
    port=$(( 20000 + $$ % 20000 ))
    CODEC=$codec "$wp" "$src/pipelines/rtp-receive.sh" "$port" 16 > "$tmp/rx" 2>&1 &
    rx=$!
    sleep 1.5
    # 5 % packet loss and 80 ms delay on the sender side
    CODEC=$codec LOSS=0.05 DELAY_MS=80 "$wp" "$src/pipelines/rtp-send.sh" "$clip" 127.0.0.1 "$port" || fail "sender"
    wait "$rx" || true
    cat "$tmp/rx"
    grep -q ERROR "$tmp/rx" && fail "receiver error"
    check_results "$tmp/rx" 8 4
    ;;
  microphone)
    command -v pulseaudio > /dev/null && command -v paplay > /dev/null || { echo "SKIP: no pulseaudio"; exit 77; }
    gst-inspect-1.0 pulsesrc > /dev/null 2>&1 || { echo "SKIP: no pulsesrc (gstreamer1.0-pulseaudio)"; exit 77; }
    export XDG_RUNTIME_DIR="$tmp" HOME="$tmp" PULSE_SERVER="unix:$tmp/pulse.sock"
    # A private PulseAudio server (works as root too) with a null sink: what
    # is played to the sink comes out of its monitor, our "microphone".
    pulseaudio -n --daemonize=no --exit-idle-time=-1 --disallow-exit --use-pid-file=no --log-target=file:"$tmp/pa.log" \
      -L "module-native-protocol-unix socket=$tmp/pulse.sock auth-anonymous=1" \
      -L "module-null-sink sink_name=vmic rate=48000" &
    pa_pid=$!
    i=0; until pactl info > /dev/null 2>&1; do i=$((i+1)); [ $i -lt 50 ] || fail "pulseaudio did not start"; sleep 0.1; done
    pactl set-default-source vmic.monitor
    (sleep 1; paplay --device=vmic "$clip") &
    "$wp" "$src/pipelines/microphone.sh" 10 > "$tmp/mic" 2>&1 || true
    cat "$tmp/mic"
    grep -q ERROR "$tmp/mic" && fail "microphone pipeline error"
    check_results "$tmp/mic" 8 4
    ;;
  app)
    app="$SER_BUILD_ROOT/pipelines/seremotion-app"
    "$wp" "$app" --interval 250 "$clip" > "$tmp/out" 2>&1 || { cat "$tmp/out"; fail "app"; }
    cat "$tmp/out"
    check_results "$tmp/out" 20 10
    grep -q '^summary: ' "$tmp/out" || fail "no summary"
    # bad input: exit 2 and the file named
    if "$wp" "$app" /nonexistent.wav 2> "$tmp/err"; then fail "no error for a missing file"; fi
    grep -q nonexistent.wav "$tmp/err" || fail "error does not name the file"
    if "$wp" "$app" --model /nonexistent.sermodel "$clip" 2> "$tmp/err"; then fail "no error for a bad model"; fi
    grep -q nonexistent.sermodel "$tmp/err" || fail "model error does not name the file"
    cat "$tmp/err"
    ;;
  *) echo "unknown: $what" >&2; exit 1 ;;
esac
echo "ok: $what"
