#!/usr/bin/env bash
# ser train / ser eval --norm global|speaker|utterance on a tiny manifest of real EMO-DB clips:
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
expect 0 "eval --model, global" "$SER" eval --model "$tmp/s.sermodel" --cache "$tmp/cache" "$tmp/m.csv"
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

[ $fail = 0 ] && echo "ser train/eval --norm: all checks passed"
exit $fail
