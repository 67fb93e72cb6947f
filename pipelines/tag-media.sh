#!/bin/sh
# Tag a media file with the emotions in its speech.
#   pipelines/tag-media.sh FILE [OUT.{ogg,opus,flac,mka}]
# Decodes FILE (anything GStreamer reads), runs seremotion and writes, beside it:
#   FILE.emotion.jsonl  one JSON object per window (start, end, emotion, confidence, speech, scores)
#   FILE.emotion.vtt    WebVTT subtitles a player can show (e.g. mpv --sub-file=FILE.emotion.vtt FILE)
# With OUT, also re-encodes the audio with the whole-file emotion as tags
# (EMOTION=<label> Vorbis comment; see docs/element.md for which tags survive in which container),
# and prints the tags read back from OUT.
set -eu
. "$(dirname "$0")/env.sh"
if [ $# -lt 1 ] || [ $# -gt 2 ]; then
  echo "usage: $0 FILE [OUT.{ogg,opus,flac,mka}]" >&2
  exit 1
fi
in=$1
out=${2:-}
[ -f "$in" ] || { echo "tag-media: $in: no such file" >&2; exit 2; }
[ -x "$SEREMOTION_APP" ] || { echo "tag-media: $SEREMOTION_APP not built (ninja -C $build)" >&2; exit 2; }
if [ -n "$out" ]; then
  "$SEREMOTION_APP" -q --jsonl "$in.emotion.jsonl" --vtt "$in.emotion.vtt" --encode "$out" "$in"
else
  "$SEREMOTION_APP" -q --jsonl "$in.emotion.jsonl" --vtt "$in.emotion.vtt" "$in"
fi
echo "wrote $in.emotion.jsonl ($(wc -l < "$in.emotion.jsonl") windows) and $in.emotion.vtt"
if [ -n "$out" ]; then
  echo "tags in $out:"
  gst-launch-1.0 -t filesrc location="$out" ! decodebin ! fakesink 2>/dev/null | grep -iE "emotion|comment" | sort -u
fi
