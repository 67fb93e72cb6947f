#!/usr/bin/env bash
# ser train / ser eval --norm global|speaker|utterance|running on a tiny manifest of real EMO-DB clips:
# usage errors, --norm global (and no --norm) give byte-identical output, speaker and utterance
# normalisation run through eval (also with --extra-train) and train, the model records
# feature_norm, and evaluating it with another --norm warns.
set -u
SER=${SER:?} ; D=${SER_DATASETS:?}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail=0
no() { echo "FAIL: $*"; fail=1; }
expect() { # expected-status description command...
  local want=$1 what=$2; shift 2
  "$@" >"$tmp/out" 2>"$tmp/err"; local rc=$?
  [ $rc = "$want" ] || no "$what: exit $rc, wanted $want: $(head -c 300 "$tmp/err")"
}

expect 0 "train --help" "$SER" train --help
grep -q -- "--norm global|speaker|utterance" "$tmp/out" || no "train --help lacks --norm"
expect 0 "eval --help" "$SER" eval --help
grep -q -- "--norm global|speaker|utterance" "$tmp/out" || no "eval --help lacks --norm"
expect 1 "bad --norm" "$SER" eval --norm cepstral "$D/emodb"
grep -q -- "--norm: bad value 'cepstral'" "$tmp/err" || no "bad --norm message unclear: $(cat "$tmp/err")"
expect 1 "--norm without value" "$SER" train -o "$tmp/m.sermodel" --norm

# tiny manifest: 8 neutral/angry clips of each of two EMO-DB speakers
{ echo "path,speaker,label"
  for s in 03 09; do
    ls "$D"/emodb/wav/${s}a0[1-5][WN]*.wav | head -8 | while read -r f; do
      case $(basename "$f") in ?????W*) l=angry ;; *) l=neutral ;; esac
      echo "$f,$s,$l"; done; done; } > "$tmp/m.csv"
n=$(($(wc -l < "$tmp/m.csv") - 1))
[ "$n" = 16 ] || no "manifest has $n clips, wanted 16: $(cat "$tmp/m.csv")"
grep -q ",angry$" "$tmp/m.csv" && grep -q ",neutral$" "$tmp/m.csv" || no "manifest lacks a label: $(cat "$tmp/m.csv")"

tcommon=(--labels neutral,angry --channels 8,8 --cbam-from 1 --epochs 4 --batch 4 --val-speakers 0 --threads 2
         --seed 3 --cache "$tmp/cache" -q)
common=("${tcommon[@]}" --protocol loso)
# default == --norm global, byte for byte
expect 0 "eval default" "$SER" eval "${common[@]}" "$tmp/m.csv"
grep -v '^fold' "$tmp/out" > "$tmp/default"
expect 0 "eval --norm global" "$SER" eval "${common[@]}" --norm global "$tmp/m.csv"
grep -v '^fold' "$tmp/out" > "$tmp/global"
cmp -s "$tmp/default" "$tmp/global" || no "--norm global differs from the default: $(diff "$tmp/default" "$tmp/global")"
grep -q -- "--norm" "$tmp/default" && no "default run mentions --norm"

for m in speaker utterance; do
  expect 0 "eval --norm $m" "$SER" eval "${common[@]}" --norm $m --json "$tmp/$m.json" "$tmp/m.csv"
  grep -q "^ser eval: --norm $m: every" "$tmp/out" || no "eval --norm $m: no normalisation line: $(head -3 "$tmp/out")"
  [ "$(grep -c '^fold [12]/2 emodb:0[39] ' "$tmp/out")" = 2 ] || no "eval --norm $m: expected 2 fold lines: $(cat "$tmp/out")"
  grep -q '^WA .* (16 examples' "$tmp/out" || no "eval --norm $m: no report over 16 clips: $(cat "$tmp/out")"
  grep -q '"n":16,' "$tmp/$m.json" || no "eval --norm $m: json report: $(head -c 200 "$tmp/$m.json")"
  [ $m = speaker ] && { grep -q "test speakers' from their own clips without labels" "$tmp/out" ||
    no "speaker normalisation does not say where the test statistics come from: $(head -3 "$tmp/out")"; }
done

# with cross-corpus training clips (their speakers get their own statistics)
{ echo "path,speaker,label"
  for f in "$D"/ravdess16k/Actor_01/03-01-0[15]-01-01-0[12]-01.flac; do
    echo "$f,01,$([ "$(basename "$f" | cut -d- -f3)" = 01 ] && echo neutral || echo angry)"; done; } > "$tmp/x.csv"
[ "$(($(wc -l < "$tmp/x.csv") - 1))" = 4 ] || no "extra manifest: $(cat "$tmp/x.csv")"
expect 0 "eval --norm speaker --extra-train" "$SER" eval "${common[@]}" --norm speaker --extra-train "$tmp/x.csv" "$tmp/m.csv"
grep -q "plus 4 extra training clips" "$tmp/out" || no "extra-train line missing: $(head -3 "$tmp/out")"
grep -Eq '^fold 1/2 emodb:03 +n=8 .*\(train 12, val 0 clips' "$tmp/out" || no "fold 1 counts: $(cat "$tmp/out")"

# ser train --norm speaker: metadata, a note, and a warning when evaluated with another --norm
expect 0 "train --norm speaker" "$SER" train "${tcommon[@]}" --norm speaker -o "$tmp/s.sermodel" "$tmp/m.csv"
grep -q "expects speaker-normalised features" "$tmp/err" || no "train --norm speaker: no note: $(cat "$tmp/err")"
"$SER" info "$tmp/s.sermodel" > "$tmp/info"
grep -q "feature_norm: speaker" "$tmp/info" || no "model lacks feature_norm metadata: $(cat "$tmp/info")"
expect 0 "eval --model --norm speaker" "$SER" eval --model "$tmp/s.sermodel" --norm speaker --cache "$tmp/cache" "$tmp/m.csv"
grep -q "warning" "$tmp/err" && no "matching --norm warned: $(cat "$tmp/err")"
grep -q '^WA .* (16 examples' "$tmp/out" || no "eval --model --norm speaker: $(cat "$tmp/out")"
expect 0 "eval --model, no --norm" "$SER" eval --model "$tmp/s.sermodel" --cache "$tmp/cache" "$tmp/m.csv"
grep -q "warning" "$tmp/err" && no "eval --model of a speaker model without --norm warned: $(cat "$tmp/err")"
grep -q "^ser eval: --norm speaker: every" "$tmp/out" || no "eval --model did not take --norm speaker: $(head -3 "$tmp/out")"
expect 0 "eval --model, global" "$SER" eval --model "$tmp/s.sermodel" --norm global --cache "$tmp/cache" "$tmp/m.csv"
grep -q "trained with --norm speaker, evaluated with --norm global" "$tmp/err" || no "no mismatch warning: $(cat "$tmp/err")"
# --norm-clips K: statistics from K other clips of the speaker; deterministic; bad values refused
expect 1 "bad --norm-clips" "$SER" eval --norm speaker --norm-clips many "$D/emodb"
expect 0 "eval --model --norm speaker --norm-clips 3" "$SER" eval --model "$tmp/s.sermodel" --norm speaker \
  --norm-clips 3 --json "$tmp/nc1.json" --cache "$tmp/cache" "$tmp/m.csv"
grep -q "^ser eval: --norm speaker --norm-clips 3: every clip" "$tmp/out" || no "no --norm-clips line: $(head -3 "$tmp/out")"
grep -q '^WA .* (16 examples' "$tmp/out" || no "eval --norm-clips 3: $(cat "$tmp/out")"
expect 0 "eval --norm-clips 3 again" "$SER" eval --model "$tmp/s.sermodel" --norm speaker --norm-clips 3 \
  --json "$tmp/nc2.json" --cache "$tmp/cache" "$tmp/m.csv"
cmp -s "$tmp/nc1.json" "$tmp/nc2.json" || no "--norm-clips 3 is not deterministic"
expect 0 "train default" "$SER" train "${tcommon[@]}" -o "$tmp/g.sermodel" "$tmp/m.csv"
"$SER" info "$tmp/g.sermodel" | grep -q "feature_norm" && no "default model records feature_norm"

# --norm running: the analyzer's live normaliser, emulated clip by clip; the model carries its prior
grep -q -- "--speaker-memory S" <("$SER" train --help) || no "train --help lacks --speaker-memory"
expect 1 "bad --speaker-memory" "$SER" eval --norm running --speaker-memory -4 "$D/emodb"
expect 1 "paper + running" "$SER" train --arch paper --norm running -o "$tmp/p.sermodel" "$tmp/m.csv"
grep -q "paper architecture takes whole clips" "$tmp/err" || no "paper + running: $(cat "$tmp/err")"
expect 0 "eval --norm running" "$SER" eval "${common[@]}" --norm running --speaker-memory 30 --json "$tmp/r1.json" "$tmp/m.csv"
grep -q "^ser eval: --norm running: every clip's features normalised with a running speaker normaliser" "$tmp/out" ||
  no "eval --norm running: no normalisation line: $(head -3 "$tmp/out")"
grep -q "memory 30 s of speech" "$tmp/out" || no "eval --norm running: memory not reported: $(head -3 "$tmp/out")"
grep -q '^WA .* (16 examples' "$tmp/out" || no "eval --norm running: no report over 16 clips: $(cat "$tmp/out")"
expect 0 "eval --norm running again" "$SER" eval "${common[@]}" --norm running --speaker-memory 30 --json "$tmp/r2.json" "$tmp/m.csv"
cmp -s "$tmp/r1.json" "$tmp/r2.json" || no "--norm running is not deterministic"
cmp -s "$tmp/r1.json" "$tmp/speaker.json" && no "--norm running gave the same report as --norm speaker"
expect 0 "train --norm running" "$SER" train "${tcommon[@]}" --norm running --speaker-memory 30 -o "$tmp/r.sermodel" "$tmp/m.csv"
grep -q "expects" "$tmp/err" && no "train --norm running: a usable model got the 'eval only' note: $(cat "$tmp/err")"
"$SER" info "$tmp/r.sermodel" > "$tmp/info"
grep -q "feature_norm: running" "$tmp/info" || no "running model lacks feature_norm metadata: $(cat "$tmp/info")"
grep -q "^speaker normalisation: running, memory 30 s of speech, prior worth 3 s, frames below -50 dBFS" "$tmp/info" ||
  no "ser info does not show the speaker normaliser: $(cat "$tmp/info")"
"$SER" info "$tmp/s.sermodel" | grep -q "^speaker normalisation" && no "a --norm speaker model claims a live normaliser"
expect 0 "eval --model --norm running" "$SER" eval --model "$tmp/r.sermodel" --norm running --cache "$tmp/cache" "$tmp/m.csv"
grep -q "warning" "$tmp/err" && no "matching --norm running warned: $(cat "$tmp/err")"
grep -q '^WA .* (16 examples' "$tmp/out" || no "eval --model --norm running: $(cat "$tmp/out")"
grep '^WA' "$tmp/out" > "$tmp/wa-running"
# without --norm, eval --model uses the model's own normalisation: the same report, no warning
expect 0 "eval --model of a running model, no --norm" "$SER" eval --model "$tmp/r.sermodel" --cache "$tmp/cache" "$tmp/m.csv"
grep -q "warning" "$tmp/err" && no "eval --model without --norm warned: $(cat "$tmp/err")"
grep -q "^ser eval: --norm running: .*(the model's prior" "$tmp/out" || no "eval --model did not take the model's --norm: $(head -3 "$tmp/out")"
grep '^WA' "$tmp/out" | cmp -s - "$tmp/wa-running" || no "eval --model without --norm differs from --norm running"
expect 0 "eval --model of a running model, global" "$SER" eval --model "$tmp/r.sermodel" --norm global --cache "$tmp/cache" "$tmp/m.csv"
grep -q "trained with --norm running, evaluated with --norm global" "$tmp/err" || no "no mismatch warning: $(cat "$tmp/err")"
# ser classify applies it (the element's tests cover the stream behaviour)
expect 0 "classify a running model" "$SER" classify --model "$tmp/r.sermodel" "$D/emodb/wav/03a01Wa.wav"
grep -q '"speech":true' "$tmp/out" || no "classify with a running model: $(head -c 300 "$tmp/out")"

[ $fail = 0 ] && echo "ser train/eval --norm: all checks passed"
exit $fail
