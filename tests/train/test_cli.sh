#!/usr/bin/env bash
# ser train / ser eval from the command line: usage errors and exit codes,
# a small real run through GStreamer decoding and the decoded-audio cache,
# a corrupt cache entry (decoded again, same result), ser info on the result.
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
grep -q -- "--checkpoint-dir" "$tmp/out" || no "train --help lacks --checkpoint-dir"
expect 0 "eval --help" "$SER" eval --help
grep -q -- "--protocol" "$tmp/out" || no "eval --help lacks --protocol"
grep -q -- "--from-predictions" "$tmp/out" || no "eval --help lacks --from-predictions"
expect 1 "train without -o" "$SER" train "$D/emodb"
expect 1 "train unknown option" "$SER" train --bogus -o "$tmp/m.sermodel" "$D/emodb"
expect 1 "train bad --epochs" "$SER" train --epochs zero -o "$tmp/m.sermodel" "$D/emodb"
expect 1 "train bad --balance" "$SER" train --balance speaker -o "$tmp/m.sermodel" "$D/emodb"
expect 1 "eval bad protocol" "$SER" eval --protocol random "$D/emodb"
expect 1 "eval speakers without list" "$SER" eval --protocol speakers "$D/emodb"
expect 2 "train missing corpus" "$SER" train -o "$tmp/m.sermodel" "$tmp/no-such-folder"
grep -q "no-such-folder" "$tmp/err" || no "missing corpus error does not name the folder"
expect 2 "eval missing model" "$SER" eval --model "$tmp/none.sermodel" "$D/emodb"
grep -q "none.sermodel" "$tmp/err" || no "missing model error does not name the file"

# a small real run: 2 speakers, 2 labels, tiny net, 3 epochs
common=(--speakers emodb:03,emodb:09 --labels neutral,angry --channels 8,8 --cbam-from 1 --epochs 3
        --val-speakers 0 --threads 2 --seed 5 --cache "$tmp/cache" -q)
expect 0 "train small" "$SER" train "${common[@]}" -o "$tmp/m.sermodel" "$D/emodb"
[ -s "$tmp/m.sermodel" ] || no "no model written"
n=$(ls "$tmp/cache" | wc -l)
[ "$n" -ge 40 ] || no "cache holds $n entries, expected one per clip"
expect 0 "info" "$SER" info "$tmp/m.sermodel"
grep -q "^labels (2): neutral, angry" "$tmp/out" || no "info labels"
grep -q "command: ser train" "$tmp/out" || no "info lacks the training command"
grep -q "seed: 5" "$tmp/out" || no "info lacks the seed"

expect 0 "eval model" "$SER" eval --model "$tmp/m.sermodel" --speakers emodb:03,emodb:09 --cache "$tmp/cache" "$D/emodb"
grep "^WA" "$tmp/out" > "$tmp/wa1" || no "eval printed no WA line"
# corrupt every cache entry: results must not change (entries are decoded again)
for f in "$tmp"/cache/*.f32; do printf 'garbage' | dd of="$f" bs=1 seek=60 conv=notrunc 2>/dev/null; done
expect 0 "eval model, corrupt cache" "$SER" eval --model "$tmp/m.sermodel" --speakers emodb:03,emodb:09 --cache "$tmp/cache" "$D/emodb"
grep "^WA" "$tmp/out" > "$tmp/wa2"
cmp -s "$tmp/wa1" "$tmp/wa2" || no "result changed after cache corruption: $(cat "$tmp/wa1") vs $(cat "$tmp/wa2")"
# same seed and options again: identical model bytes except the date
expect 0 "train again" "$SER" train "${common[@]}" -o "$tmp/m2.sermodel" "$D/emodb"
"$SER" info "$tmp/m.sermodel" | grep -v -e "^model:" -e "date:" > "$tmp/i1"
"$SER" info "$tmp/m2.sermodel" | grep -v -e "^model:" -e "date:" -e "command:" > "$tmp/i2"
grep -v "command:" "$tmp/i1" > "$tmp/i1b"
cmp -s "$tmp/i1b" "$tmp/i2" || no "same seed gave a different model description"
# kfold eval with per-fold lines and report files
expect 0 "eval kfold" "$SER" eval "${common[@]}" --protocol kfold --folds 2 --json "$tmp/r.json" --svg "$tmp/r.svg" \
  --predictions "$tmp/pred.csv" "$D/emodb"
[ "$(grep -c '^fold ' "$tmp/out")" = 2 ] || no "expected 2 fold lines: $(cat "$tmp/out")"
cp "$tmp/out" "$tmp/whole.out" # for --from-predictions below
grep -q '"ua"' "$tmp/r.json" 2>/dev/null || grep -qi 'ua' "$tmp/r.json" || no "json report lacks UA"
grep -q "<svg" "$tmp/r.svg" || no "svg report missing"
# the speaker bootstrap over the 2 test speakers, in text and JSON
grep -Eq '^95 % interval with other speakers \(the 2 test speakers drawn with replacement, 2000 resamples\): WA [0-9.]+-[0-9.]+  UA [0-9.]+-[0-9.]+' "$tmp/out" ||
  no "no speaker interval line: $(tail -3 "$tmp/out")"
/usr/bin/env python3 - "$tmp/r.json" "$tmp/pred.csv" <<'PY' || no "JSON bootstrap interval wrong: $(cat "$tmp/r.json")"
# with 2 speakers A and B a resample is AA, AB or BB, so the 95 % interval runs from the
# lowest to the highest of the three pooled scores, computed here from the --predictions rows
import csv, json, sys
d = json.load(open(sys.argv[1])); b = d["bootstrap"]
rows = list(csv.DictReader(open(sys.argv[2])))
def scores(groups):
    rs = [r for g in groups for r in rows if r["speaker"] == g]
    wa = sum(r["label"] == r["predicted"] for r in rs) / len(rs)
    rec = []
    for c in ("neutral", "angry"):
        rc = [r for r in rs if r["label"] == c]
        if rc: rec.append(sum(r["predicted"] == c for r in rc) / len(rc))
    return wa, sum(rec) / len(rec)
v = [scores(g) for g in (["emodb:03"] * 2, ["emodb:03", "emodb:09"], ["emodb:09"] * 2)]
assert b["groups"] == 2 and b["resamples"] == 2000 and abs(b["level"] - 0.95) < 1e-9, b
for i, k in enumerate(("wa", "ua")):
    want = [min(x[i] for x in v), max(x[i] for x in v)]
    assert all(abs(p - q) < 1e-5 for p, q in zip(b[k], want)), (k, b[k], want)
assert 0 <= b["macro_f1"][0] <= b["macro_f1"][1] <= 1, b
PY
# --predictions: one row per test clip, predicted = the top score, and the rows give the printed WA
awk -F, -v wa="$(grep '^WA' "$tmp/out" | awk '{print $2}')" '
  NR == 1 { ok = ($0 == "fold,path,copy,speaker,label,predicted,neutral,angry"); next }
  { n++; folds[$1] = 1; if ($5 == $6) c++
    top = ($7 >= $8) ? "neutral" : "angry"; if (top != $6) bad++
    if ($4 != "emodb:03" && $4 != "emodb:09") bad++ }
  END { nf = 0; for (f in folds) nf++
        if (!ok || bad || nf != 2 || n < 40 || (c / n - wa) > 1e-4 || (wa - c / n) > 1e-4) {
          printf "header ok %d, %d rows, %d folds, %d bad, acc %.4f vs WA %s\n", ok, n, nf, bad, c / n, wa; exit 1 } }
' "$tmp/pred.csv" || no "--predictions rows disagree with the report"
# scripts/ensemble.py on the same file twice: the ensemble is that run, with ser eval's WA and UA
if [ -n "${SER_SOURCE_ROOT:-}" ]; then
  /usr/bin/env python3 "$SER_SOURCE_ROOT/scripts/ensemble.py" "$tmp/pred.csv" "$tmp/pred.csv" > "$tmp/ens" ||
    no "ensemble.py failed: $(cat "$tmp/ens")"
  want=$(awk '/^WA/ { printf "WA %5.1f UA %5.1f", 100 * $2, 100 * $4 }' "$tmp/out")
  got=$(awk '/^ensemble of 2/ { printf "WA %5.1f UA %5.1f", $7, $10 }' "$tmp/ens")
  [ -n "$want" ] && [ "$want" = "$got" ] || no "ensemble.py: '$got', ser eval: '$want': $(cat "$tmp/ens")"
  # its report (per-class table, confusion matrix) is ser eval's, and -o writes the same predictions
  /usr/bin/env python3 "$SER_SOURCE_ROOT/scripts/ensemble.py" -o "$tmp/ens.csv" "$tmp/pred.csv" > "$tmp/ens" ||
    no "ensemble.py -o failed: $(cat "$tmp/ens")"
  sed -n '/^label /,/^WA 0/p' "$tmp/out" > "$tmp/rep.want"; sed -n '/^label /,/^WA 0/p' "$tmp/ens" > "$tmp/rep.got"
  [ -s "$tmp/rep.want" ] && diff "$tmp/rep.want" "$tmp/rep.got" > /dev/null ||
    no "ensemble.py's report differs from ser eval's: $(diff "$tmp/rep.want" "$tmp/rep.got" | head)"
  cmp -s <(cut -d, -f1-6 "$tmp/pred.csv" | sort) <(cut -d, -f1-6 "$tmp/ens.csv" | sort) ||
    no "ensemble.py -o: other predictions than ser eval's"
fi
# one test speaker: no interval, and the JSON says nothing of one
expect 0 "eval one test speaker" "$SER" eval "${common[@]}" --protocol speakers --test-speakers emodb:09 \
  --json "$tmp/one.json" "$D/emodb"
grep -q "^(fewer than 2 test speakers: no interval over speakers)" "$tmp/out" || no "one test speaker: $(tail -2 "$tmp/out")"
grep -q "bootstrap" "$tmp/one.json" && no "one test speaker: JSON has a bootstrap: $(cat "$tmp/one.json")"
expect 2 "eval --predictions unwritable" "$SER" eval "${common[@]}" --predictions "$tmp/no/such/dir/p.csv" "$D/emodb"
grep -q "no/such/dir/p.csv: the folder .*no/such/dir does not exist" "$tmp/err" ||
  no "--predictions error does not name the file: $(cat "$tmp/err")"

# --extra-train: cross-corpus clips join every fold's training set and are never tested or validated
{ echo "path,speaker,label"
  for a in 01 02; do for e in 01 05; do
    for f in "$D"/ravdess16k/Actor_$a/03-01-$e-0[12]-0[12]-01-$a.flac; do
      [ -e "$f" ] && echo "$f,$a,$([ $e = 01 ] && echo neutral || echo angry)"; done; done; done; } > "$tmp/x.csv"
nx=$(($(wc -l < "$tmp/x.csv") - 1))
[ "$nx" = 12 ] || no "extra manifest has $nx clips, wanted 12"
expect 0 "eval kfold --extra-train" "$SER" eval "${common[@]}" --protocol kfold --folds 2 --extra-train "$tmp/x.csv" \
  --json "$tmp/x.json" "$D/emodb"
grep -q "plus 12 extra training clips of 2 speakers" "$tmp/out" || no "no extra-train line: $(head -3 "$tmp/out")"
# emodb:03 has 25 neutral/angry clips, emodb:09 22: each fold trains on the other speaker + the 12 extra clips
n03=$(sed -n 's/^fold 1\/2 emodb:03  *n=\([0-9]*\) .*(train \([0-9]*\), val 0 clips.*/\1 \2/p' "$tmp/out")
n09=$(sed -n 's/^fold 2\/2 emodb:09  *n=\([0-9]*\) .*(train \([0-9]*\), val 0 clips.*/\1 \2/p' "$tmp/out")
[ "$n03" = "25 34" ] || no "fold emodb:03: test/train clips '$n03', wanted '25 34': $(cat "$tmp/out")"
[ "$n09" = "22 37" ] || no "fold emodb:09: test/train clips '$n09', wanted '22 37'"
grep -q '"n":47,' "$tmp/x.json" || no "report counts other than the 47 EMO-DB clips: $(head -c 200 "$tmp/x.json")"
# with a validation speaker: it comes from the evaluated corpus, never from the extra clips
# (and classes balanced within each corpus: --balance corpus)
expect 0 "eval loso --extra-train --val-speakers 1 --balance corpus" "$SER" eval "${common[@]}" --val-speakers 1 --balance corpus \
  --speakers emodb:03,emodb:09,emodb:10 --protocol loso --extra-train "$tmp/x.csv" "$D/emodb"
grep '^fold ' "$tmp/out" | grep -qv '(train [0-9]*, val [0-9]* clips' && no "fold line without clip counts"
# fold emodb:10 (14 clips): one of 03/09 validates, the other + 12 extra train
grep -Eq '^fold 3/3 emodb:10 +n=14 .*\((train 37, val 22|train 34, val 25) clips' "$tmp/out" ||
  no "validation not drawn from the evaluated corpus: $(grep '^fold 3' "$tmp/out")"
# a speaker of the evaluated corpora among the extra clips is refused (it would be trained on when tested)
{ echo "path,speaker,label"; echo "$D/emodb/wav/03a01Wa.wav,03,angry"; } > "$tmp/leak.csv"
expect 2 "extra-train with an evaluated speaker" "$SER" eval "${common[@]}" --protocol kfold --folds 2 \
  --extra-train "$tmp/leak.csv" "$D/emodb"
grep -q "emodb:03 is also in the evaluated" "$tmp/err" || no "overlap error unclear: $(cat "$tmp/err")"
# so is an evaluated clip under another speaker's name, by any path to the same file
{ echo "path,speaker,label"; echo "$D/emodb/wav/../wav/03a01Wa.wav,zz,angry"; } > "$tmp/leak2.csv"
expect 2 "extra-train with an evaluated clip under another speaker" "$SER" eval "${common[@]}" --protocol kfold \
  --folds 2 --extra-train "$tmp/leak2.csv" "$D/emodb"
grep -q "03a01Wa.wav (speaker emodb:zz) is the evaluated clip .*03a01Wa.wav (speaker emodb:03)" "$tmp/err" ||
  no "clip overlap error unclear: $(cat "$tmp/err")"
# one file in two evaluated corpora (under two speakers) is refused, naming both and where each came from
expect 2 "eval with one file in two corpora" "$SER" eval "${common[@]}" --protocol kfold --folds 2 \
  "$D/emodb" "$tmp/leak2.csv"
grep -q "03a01Wa.wav (speaker emodb:03, from $D/emodb) and .*03a01Wa.wav (speaker emodb:zz, from $tmp/leak2.csv) are one file" \
  "$tmp/err" || no "duplicate file error unclear: $(cat "$tmp/err")"
expect 1 "extra-train with --model" "$SER" eval --model "$tmp/m.sermodel" --extra-train "$tmp/x.csv" "$D/emodb"
# --run-folds: the parts of an evaluation run apart give the whole evaluation's predictions
expect 0 "eval kfold --run-folds 2" "$SER" eval "${common[@]}" --protocol kfold --folds 2 --run-folds 2 \
  --predictions "$tmp/part2.csv" "$D/emodb"
[ "$(grep -c '^fold ' "$tmp/out")" = 1 ] && grep -q '^fold 2/2 ' "$tmp/out" || no "--run-folds 2 ran other folds: $(cat "$tmp/out")"
expect 0 "eval kfold --run-folds 1-1" "$SER" eval "${common[@]}" --protocol kfold --folds 2 --run-folds 1-1 \
  --predictions "$tmp/part1.csv" "$D/emodb"
cat "$tmp/part1.csv" <(tail -n +2 "$tmp/part2.csv") | cmp -s - "$tmp/pred.csv" || no "the parts' predictions differ from the whole run's"
# --from-predictions: the parts' files give the whole run's report (fold lines, table, matrix, interval)
expect 0 "--from-predictions of the parts" "$SER" eval --from-predictions "$tmp/part2.csv" "$tmp/part1.csv" \
  --json "$tmp/fp.json" --svg "$tmp/fp.svg" --predictions "$tmp/fp.csv" --seed 5
sed -n '/^label /,$p' "$tmp/whole.out" | grep -v '^for comparison' > "$tmp/rep.want"
sed -n '/^label /,$p' "$tmp/out" > "$tmp/rep.got"
[ -s "$tmp/rep.want" ] && diff "$tmp/rep.want" "$tmp/rep.got" > /dev/null ||
  no "--from-predictions report differs from the run's: $(diff "$tmp/rep.want" "$tmp/rep.got" | head)"
grep '^fold \|^mean of' "$tmp/whole.out" | sed 's/  (train .*//' > "$tmp/folds.want"
grep '^fold \|^mean of' "$tmp/out" > "$tmp/folds.got"
[ "$(wc -l < "$tmp/folds.want")" = 3 ] && cmp -s "$tmp/folds.want" "$tmp/folds.got" ||
  no "--from-predictions fold lines: $(cat "$tmp/folds.got") / run: $(cat "$tmp/folds.want")"
# the same JSON, byte for byte (with the run's --seed 5 for the interval): scores, matrix, interval,
# the folds' and speakers' scores and their mean
cmp -s "$tmp/r.json" "$tmp/fp.json" || no "--from-predictions JSON differs from the run's: $(cat "$tmp/fp.json")"
grep -q '"folds":\[{"name":"emodb:03","n":25,.*"folds_mean":{"n":2,.*"speakers":\[{"name":"emodb:03","n":25,' \
  "$tmp/r.json" || no "the run's JSON lacks the folds' and speakers' scores: $(cat "$tmp/r.json")"
grep -q "<svg" "$tmp/fp.svg" || no "--from-predictions: no SVG report"
cmp -s <(cut -d, -f1-6 "$tmp/pred.csv" | sort) <(cut -d, -f1-6 "$tmp/fp.csv" | sort) ||
  no "--from-predictions --predictions: other rows than the run's"
# an ensemble of runs: file A counted 3 times and B (A's scores swapped) once give scores (3a + b) / 4
awk -F, -v OFS=, 'NR > 1 { t = $7; $7 = $8; $8 = t; $6 = ($7 >= $8) ? "neutral" : "angry" } { print }' \
  "$tmp/pred.csv" > "$tmp/swap.csv"
expect 0 "--from-predictions A@3 B" "$SER" eval --from-predictions "$tmp/pred.csv@3" "$tmp/swap.csv" \
  --predictions "$tmp/ens3.csv"
grep -q "from 2 prediction files; every clip's scores are the mean over a weight of 4" "$tmp/out" ||
  no "--from-predictions A@3 B: $(head -1 "$tmp/out")"
paste -d, <(tail -n +2 "$tmp/pred.csv") <(tail -n +2 "$tmp/ens3.csv") | awk -F, -v wa="$(awk '/^WA/ {print $2}' "$tmp/out")" '
  { n++; want = (3 * $7 + $8) / 4; d = want - $15; if (d < 0) d = -d; if (d > 2e-6 || $9 != $1 || $10 != $2) bad++
    top = ($15 >= $16) ? "neutral" : "angry"; if (top != $14) bad++; if ($13 == $14) c++ }
  END { if (bad || n < 40 || (c / n - wa) > 1e-4 || (wa - c / n) > 1e-4) { printf "%d bad of %d, acc %.4f vs WA %s\n", bad, n, c / n, wa; exit 1 } }' ||
  no "--from-predictions A@3 B: scores are not (3a + b) / 4"
# bad inputs: named, never a crash
expect 2 "--from-predictions, a fold missing" "$SER" eval --from-predictions "$tmp/pred.csv" "$tmp/part1.csv"
grep -q "do not all cover the same clips (a fold missing" "$tmp/err" || no "missing fold unclear: $(cat "$tmp/err")"
expect 2 "--from-predictions, one file twice" "$SER" eval --from-predictions "$tmp/pred.csv" "$tmp/../$(basename "$tmp")/pred.csv"
grep -q "are one file: give it once, as FILE@N" "$tmp/err" || no "file twice unclear: $(cat "$tmp/err")"
sed '1s/neutral,angry$/angry,neutral/' "$tmp/part2.csv" > "$tmp/relab.csv"
expect 2 "--from-predictions, other label order" "$SER" eval --from-predictions "$tmp/part1.csv" "$tmp/relab.csv"
grep -q "relab.csv: its labels (angry,neutral) are not those of .*part1.csv (neutral,angry)" "$tmp/err" ||
  no "label order unclear: $(cat "$tmp/err")"
awk -F, -v OFS=, 'NR == 3 { $7 = "nan" } { print }' "$tmp/part1.csv" > "$tmp/nan.csv"
expect 2 "--from-predictions, NaN score" "$SER" eval --from-predictions "$tmp/nan.csv" "$tmp/part2.csv"
grep -q "nan.csv:3: score of neutral 'nan' is not a probability" "$tmp/err" || no "NaN score unclear: $(cat "$tmp/err")"
head -c 2000 "$tmp/part1.csv" > "$tmp/cut.csv"
expect 2 "--from-predictions, truncated file" "$SER" eval --from-predictions "$tmp/cut.csv"
grep -q "cut.csv:[0-9]*: [0-9] fields, the header has 8" "$tmp/err" || no "truncated file unclear: $(cat "$tmp/err")"
{ cat "$tmp/part1.csv"; sed -n 2p "$tmp/part1.csv"; } > "$tmp/dup.csv"
expect 2 "--from-predictions, a clip twice in one file" "$SER" eval --from-predictions "$tmp/dup.csv" "$tmp/part2.csv"
grep -q "dup.csv:[0-9]*: .*03a01Nc.wav (copy 0) again, first on line 2" "$tmp/err" || no "repeated clip unclear: $(cat "$tmp/err")"
awk -F, -v OFS=, 'NR == 2 { $5 = ($5 == "angry") ? "neutral" : "angry" } { print }' "$tmp/pred.csv" > "$tmp/lab.csv"
expect 2 "--from-predictions, a clip with two labels" "$SER" eval --from-predictions "$tmp/pred.csv" "$tmp/lab.csv"
grep -q "lab.csv:2: .*: label .* here, .* in .*pred.csv:2 (not runs of the same protocol" "$tmp/err" ||
  no "conflicting label unclear: $(cat "$tmp/err")"
expect 2 "--from-predictions, a manifest" "$SER" eval --from-predictions "$tmp/x.csv"
grep -q "x.csv: not a ser eval --predictions file" "$tmp/err" || no "not a predictions file unclear: $(cat "$tmp/err")"
expect 2 "--from-predictions, no such file" "$SER" eval --from-predictions "$tmp/none.csv"
grep -q "none.csv: No such file" "$tmp/err" || no "missing file unclear: $(cat "$tmp/err")"
expect 2 "--from-predictions, output is an input" "$SER" eval --from-predictions "$tmp/part1.csv" "$tmp/part2.csv" \
  --predictions "$tmp/part2.csv"
grep -q "is also an input" "$tmp/err" || no "output = input unclear: $(cat "$tmp/err")"
expect 1 "--from-predictions, weight 0" "$SER" eval --from-predictions "$tmp/pred.csv@0"
expect 1 "--from-predictions, a training option" "$SER" eval --from-predictions --epochs 3 "$tmp/pred.csv"
grep -q -- "--epochs does not apply" "$tmp/err" || no "training option unclear: $(cat "$tmp/err")"
expect 1 "--from-predictions, no file" "$SER" eval --from-predictions
# the committed files of results row 64 (RAVDESS, two parts): the row's figures
if [ -n "${SER_SOURCE_ROOT:-}" ]; then
  P=$SER_SOURCE_ROOT/docs/predictions
  expect 0 "--from-predictions row 64" "$SER" eval --from-predictions "$P/row64-ravdess-kfold-seed7-folds1-3.csv" \
    "$P/row64-ravdess-kfold-seed7-folds4-5.csv"
  grep -q "^WA 0.6925  UA 0.6836  macro-F1 0.6847  (1200 examples" "$tmp/out" && [ "$(grep -c '^fold ' "$tmp/out")" = 5 ] ||
    no "row 64 from its files: $(grep -E '^(WA|fold)' "$tmp/out")"
fi
expect 1 "--run-folds 3 of 2" "$SER" eval "${common[@]}" --protocol kfold --folds 2 --run-folds 3 "$D/emodb"
grep -q "folds are 1..2" "$tmp/err" || no "--run-folds out of range unclear: $(cat "$tmp/err")"
expect 1 "--run-folds garbage" "$SER" eval "${common[@]}" --protocol kfold --folds 2 --run-folds 1,x "$D/emodb"
expect 1 "bad --mixup" "$SER" eval --mixup -1 "$D/emodb"
expect 1 "bad --label-smoothing" "$SER" eval --label-smoothing 1 "$D/emodb"

# mixup, label smoothing and weight averaging: a real small run, averaging reported and recorded
expect 0 "train mixup+smoothing+avg" "$SER" train "${common[@]}" --mixup 0.4 --label-smoothing 0.1 --avg-epochs 2 \
  -o "$tmp/mx.sermodel" "$D/emodb"
"$SER" info "$tmp/mx.sermodel" > "$tmp/info"
grep -q "avg_epochs: 2" "$tmp/info" || no "model lacks avg_epochs metadata: $(cat "$tmp/info")"
"$SER" classify --model "$tmp/m.sermodel" --utterance "$D/emodb/wav/03a01Wa.wav" > "$tmp/c1"
"$SER" classify --model "$tmp/mx.sermodel" --utterance "$D/emodb/wav/03a01Wa.wav" > "$tmp/c2"
[ -s "$tmp/c1" ] || no "classify with the small model printed nothing"
cmp -s "$tmp/c1" "$tmp/c2" && no "mixup/smoothing/averaging changed nothing (same scores)" # the files differ anyway (command line)
# the running average is not checkpointed: resuming inside the averaging window is refused, not wrong
expect 0 "train avg, stop after 2" "$SER" train "${common[@]}" --avg-epochs 2 --checkpoint-dir "$tmp/ck" --stop-after 2 \
  -o "$tmp/st.sermodel" "$D/emodb"
expect 2 "resume inside the averaging window" "$SER" train "${common[@]}" --avg-epochs 2 --checkpoint-dir "$tmp/ck" \
  --resume -o "$tmp/st.sermodel" "$D/emodb"
grep -q "inside the weight-averaging window" "$tmp/err" || no "resume refusal unclear: $(cat "$tmp/err")"

# --speed P,MIN,MAX: checked, and used (scores differ from the default speed perturbation's)
expect 1 "--speed two values" "$SER" train "${common[@]}" --speed 0.6,0.85 -o "$tmp/sp.sermodel" "$D/emodb"
expect 1 "--speed p above 1" "$SER" train "${common[@]}" --speed 2,0.9,1.1 -o "$tmp/sp.sermodel" "$D/emodb"
expect 1 "--speed min above max" "$SER" train "${common[@]}" --speed 0.5,1.2,1.1 -o "$tmp/sp.sermodel" "$D/emodb"
expect 0 "train --speed" "$SER" train "${common[@]}" --speed 1,0.8,1.2 -o "$tmp/sp.sermodel" "$D/emodb"
"$SER" classify --model "$tmp/m.sermodel" --utterance "$D/emodb/wav/03a01Wa.wav" > "$tmp/c1"
"$SER" classify --model "$tmp/sp.sermodel" --utterance "$D/emodb/wav/03a01Wa.wav" > "$tmp/c2"
[ -s "$tmp/c2" ] || no "classify with the --speed model printed nothing"
cmp -s "$tmp/c1" "$tmp/c2" && no "--speed changed nothing (same scores)"

# stochastic weight averaging: needs the averaging window, recorded in the model, changes the weights
expect 1 "--swa-lr without --avg-epochs" "$SER" train "${common[@]}" --swa-lr 0.3 -o "$tmp/sw.sermodel" "$D/emodb"
grep -q -- "--swa-lr needs --avg-epochs" "$tmp/err" || no "--swa-lr without --avg-epochs unclear: $(cat "$tmp/err")"
expect 1 "--swa-lr window as long as training" "$SER" train "${common[@]}" --avg-epochs 3 --swa-lr 0.3 \
  -o "$tmp/sw.sermodel" "$D/emodb"
expect 1 "bad --swa-lr" "$SER" train "${common[@]}" --avg-epochs 2 --swa-lr 0 -o "$tmp/sw.sermodel" "$D/emodb"
expect 1 "bad --swa-lr" "$SER" train "${common[@]}" --avg-epochs 2 --swa-lr 1.5 -o "$tmp/sw.sermodel" "$D/emodb"
expect 0 "train avg" "$SER" train "${common[@]}" --avg-epochs 2 -o "$tmp/av.sermodel" "$D/emodb"
expect 0 "train avg + swa" "$SER" train "${common[@]}" --avg-epochs 2 --swa-lr 0.3 -o "$tmp/sw.sermodel" "$D/emodb"
"$SER" info "$tmp/sw.sermodel" > "$tmp/info"
grep -q "swa_lr: 0.3" "$tmp/info" || no "model lacks swa_lr metadata: $(cat "$tmp/info")"
"$SER" classify --model "$tmp/av.sermodel" --utterance "$D/emodb/wav/03a01Wa.wav" > "$tmp/c1"
"$SER" classify --model "$tmp/sw.sermodel" --utterance "$D/emodb/wav/03a01Wa.wav" > "$tmp/c2"
[ -s "$tmp/c1" ] || no "classify with the averaged model printed nothing"
cmp -s "$tmp/c1" "$tmp/c2" && no "--swa-lr changed nothing (same scores): $(cat "$tmp/c2")"
expect 0 "classify with the swa model" "$SER" classify --model "$tmp/sw.sermodel" --utterance "$D/emodb/wav/03a01Wa.wav"
grep -q '"emotion":"\(neutral\|angry\)"' "$tmp/out" || no "swa model's classification: $(cat "$tmp/out")"

# pitch features: stored in the model, shown by info, used by classify (the analyzer's streaming path)
expect 0 "train --pitch-features" "$SER" train "${common[@]}" --pitch-features -o "$tmp/p.sermodel" "$D/emodb"
"$SER" info "$tmp/p.sermodel" > "$tmp/info"
grep -q "^  pitch .*log2(F0 / 100 Hz)" "$tmp/info" || no "info lacks the pitch line: $(cat "$tmp/info")"
grep -q "values / frame  42" "$tmp/info" || no "pitch model does not have 42 values per frame"
nq=()
for a in "${common[@]}"; do [ "$a" = -q ] || nq+=("$a"); done
expect 0 "train --pitch-features, not quiet" "$SER" train "${nq[@]}" --epochs 1 --pitch-features -o "$tmp/p2.sermodel" "$D/emodb"
grep -q "note: pitch-shift augmentation moves the pitch features" "$tmp/err" || no "no note about pitch shift with pitch features"
expect 0 "train --pitch-features --no-pitch" "$SER" train "${nq[@]}" --epochs 1 --pitch-features --no-pitch -o "$tmp/p2.sermodel" "$D/emodb"
grep -q "note: pitch-shift" "$tmp/err" && no "pitch-shift note although --no-pitch"
# --aug-pitch-norm: only where it has something to do; it changes training, and silences the pitch-shift note
expect 1 "--aug-pitch-norm without pitch features" "$SER" train "${common[@]}" --norm running --aug-pitch-norm \
  -o "$tmp/pn.sermodel" "$D/emodb"
grep -q -- "--aug-pitch-norm needs --pitch-features" "$tmp/err" || no "--aug-pitch-norm refusal unclear: $(cat "$tmp/err")"
expect 1 "--aug-pitch-norm with global statistics" "$SER" train "${common[@]}" --pitch-features --aug-pitch-norm \
  -o "$tmp/pn.sermodel" "$D/emodb"
expect 1 "--aug-pitch-norm without copies" "$SER" train "${common[@]}" --pitch-features --norm running --aug-variants 0 \
  --aug-pitch-norm -o "$tmp/pn.sermodel" "$D/emodb"
expect 0 "train --norm running --pitch-features" "$SER" train "${nq[@]}" --pitch-features --norm running \
  -o "$tmp/pr.sermodel" "$D/emodb"
expect 0 "train ... --aug-pitch-norm" "$SER" train "${nq[@]}" --pitch-features --norm running --aug-pitch-norm \
  -o "$tmp/pn.sermodel" "$D/emodb"
grep -q "note: pitch-shift" "$tmp/err" && no "pitch-shift note although --aug-pitch-norm"
# compare what the networks say (the files differ anyway: each stores its command line)
clip="$D/emodb/wav/03a01Wa.wav"
"$SER" classify --model "$tmp/pr.sermodel" --utterance "$clip" > "$tmp/c1"
"$SER" classify --model "$tmp/pn.sermodel" --utterance "$clip" > "$tmp/c2"
[ -s "$tmp/c1" ] || no "classify with the running-normalised pitch model printed nothing"
cmp -s "$tmp/c1" "$tmp/c2" && no "--aug-pitch-norm changed nothing: $(cat "$tmp/c2")"
# --virtual-speakers: only with the running normaliser and speed/pitch copies; it changes training
for bad in "" "--norm running --aug-variants 0" "--norm running --no-speed --no-pitch" \
           "--norm running --pitch-features --aug-pitch-norm"; do
  # shellcheck disable=SC2086
  expect 1 "--virtual-speakers with '$bad'" "$SER" train "${common[@]}" $bad --virtual-speakers -o "$tmp/vs.sermodel" "$D/emodb"
  grep -q -- "--virtual-speakers needs --norm running" "$tmp/err" || no "--virtual-speakers refusal unclear: $(cat "$tmp/err")"
done
[ -e "$tmp/vs.sermodel" ] && no "a refused --virtual-speakers run wrote a model"
expect 0 "train ... --virtual-speakers" "$SER" train "${common[@]}" --pitch-features --no-pitch --norm running \
  --speed 0.6,0.85,1.15 --virtual-speakers -o "$tmp/vs.sermodel" "$D/emodb"
expect 0 "train ... without --virtual-speakers" "$SER" train "${common[@]}" --pitch-features --no-pitch --norm running \
  --speed 0.6,0.85,1.15 -o "$tmp/nvs.sermodel" "$D/emodb"
"$SER" classify --model "$tmp/nvs.sermodel" --utterance "$clip" > "$tmp/c1"
"$SER" classify --model "$tmp/vs.sermodel" --utterance "$clip" > "$tmp/c2"
[ -s "$tmp/c2" ] || no "classify with the --virtual-speakers model printed nothing"
cmp -s "$tmp/c1" "$tmp/c2" && no "--virtual-speakers changed nothing: $(cat "$tmp/c2")"
expect 0 "eval ... --virtual-speakers (each fold's own prior)" "$SER" eval --speakers emodb:03,emodb:09,emodb:10 \
  --labels neutral,angry --channels 8,8 --cbam-from 1 --epochs 2 --val-speakers 0 --threads 2 --cache "$tmp/cache" -q \
  --pitch-features --no-pitch --norm running --speed 0.6,0.85,1.15 --virtual-speakers "$D/emodb"
grep -q "^WA" "$tmp/out" || no "eval --virtual-speakers printed no WA line: $(head -c 300 "$tmp/err")"
expect 0 "classify with a pitch model" "$SER" classify --model "$tmp/p.sermodel" "$D/emodb/wav/03a01Wa.wav"
grep -qE "angry|neutral" "$tmp/out" || no "classify with the pitch model printed no label: $(cat "$tmp/out")"
expect 0 "eval a pitch model" "$SER" eval --model "$tmp/p.sermodel" --speakers emodb:03,emodb:09 --cache "$tmp/cache" "$D/emodb"
grep -q "^WA" "$tmp/out" || no "eval of the pitch model printed no WA line"

# ensembles (--members): one model of N networks whose scores are the mean of theirs. With global
# normalisation and no validation speakers, network 2 of --seed 5 --members 2 is the network --seed 6
# trains, so the ensemble's scores on every clip are the mean of the two one-network models'.
expect 1 "--members 0" "$SER" train --members 0 -o "$tmp/e.sermodel" "$D/emodb"
expect 1 "--members 17" "$SER" eval --members 17 "$D/emodb"
same_mean() { # A.csv B.csv ENSEMBLE.csv: every probability of the ensemble = mean of A's and B's
  python3 - "$@" <<'PY'
import csv, sys
a, b, e = (list(csv.reader(open(f))) for f in sys.argv[1:4])
assert len(a) == len(b) == len(e) > 2, (len(a), len(b), len(e))
first = a[0].index("predicted") + 1
worst = spread = 0.0
for ra, rb, re in zip(a[1:], b[1:], e[1:]):
    assert ra[:first - 1] == re[:first - 1], (ra, re)
    for x, y, z in zip(ra[first:], rb[first:], re[first:]):
        worst = max(worst, abs((float(x) + float(y)) / 2 - float(z)))
        spread = max(spread, abs(float(x) - float(y)))
assert worst < 2e-6 and spread > 1e-3, (worst, spread)
print("ensemble = mean of its networks on %d clips (max diff %.2g, networks differ by up to %.2g)" % (len(e) - 1, worst, spread))
PY
}
expect 0 "train seed 6" "$SER" train "${common[@]}" --seed 6 -o "$tmp/s6.sermodel" "$D/emodb"
expect 0 "train --members 2" "$SER" train "${common[@]}" --members 2 -o "$tmp/e.sermodel" "$D/emodb"
expect 0 "info ensemble" "$SER" info "$tmp/e.sermodel"
grep -q "^ensemble: 2 networks" "$tmp/out" || no "info does not show the ensemble: $(head -20 "$tmp/out")"
grep -q "^network 2 of 2: " "$tmp/out" || no "info lacks network 2"
grep -q "networks: 2" "$tmp/out" || no "ensemble lacks its networks metadata"
ev=(--speakers emodb:03,emodb:09 --cache "$tmp/cache" "$D/emodb")
expect 0 "eval model seed 5" "$SER" eval --model "$tmp/m.sermodel" --predictions "$tmp/p5.csv" "${ev[@]}"
expect 0 "eval model seed 6" "$SER" eval --model "$tmp/s6.sermodel" --predictions "$tmp/p6.csv" "${ev[@]}"
expect 0 "eval ensemble model" "$SER" eval --model "$tmp/e.sermodel" --predictions "$tmp/pe.csv" "${ev[@]}"
grep -q "is an ensemble of 2 networks" "$tmp/out" || no "eval does not say the model is an ensemble"
same_mean "$tmp/p5.csv" "$tmp/p6.csv" "$tmp/pe.csv" || no "the ensemble model's scores are not the mean of its networks'"
expect 0 "classify with the ensemble" "$SER" classify --model "$tmp/e.sermodel" "$D/emodb/wav/03a01Wa.wav"
grep -qE "angry|neutral" "$tmp/out" || no "classify with the ensemble printed no label: $(cat "$tmp/out")"
# ser eval --members: every fold trains the ensemble; its scores are the mean of the one-network runs'
expect 0 "eval kfold seed 6" "$SER" eval "${common[@]}" --seed 6 --protocol kfold --folds 2 --predictions "$tmp/k6.csv" "$D/emodb"
expect 0 "eval kfold --members 2" "$SER" eval "${common[@]}" --members 2 --protocol kfold --folds 2 \
  --predictions "$tmp/ke.csv" "$D/emodb"
grep -q "every fold trains an ensemble of 2 networks (seeds 5..6)" "$tmp/out" || no "eval --members not announced"
same_mean "$tmp/pred.csv" "$tmp/k6.csv" "$tmp/ke.csv" || no "eval --members 2 is not the mean of the seed 5 and 6 runs"
# scripts/ensemble.py F.csv@N counts a file of N networks N times: 4 neutral clips that A scores
# 0.6 neutral and B 0.3; A@3 + B averages to 0.525 (all right), A + B to 0.45 (all wrong)
if [ -n "${SER_SOURCE_ROOT:-}" ]; then
  for f in A,0.6,0.4 B,0.3,0.7; do
    { echo "fold,path,copy,speaker,label,predicted,neutral,angry"
      for i in 1 2 3 4; do echo "1,c$i.wav,0,s:$((i % 2)),neutral,-,${f#*,}"; done
    } > "$tmp/${f%%,*}.csv"
  done
  wa_of() { /usr/bin/env python3 "$SER_SOURCE_ROOT/scripts/ensemble.py" "$@" | awk '/^ensemble of/ { print $3, $6, $7 }'; }
  got=$(wa_of "$tmp/A.csv@3" "$tmp/B.csv"); [ "$got" = "4 WA 100.0" ] || no "ensemble.py A@3 B: '$got'"
  got=$(wa_of "$tmp/A.csv" "$tmp/B.csv"); [ "$got" = "2 WA 0.0" ] || no "ensemble.py A B: '$got'"
  # a cut-off file: an error that names the file and line, no traceback
  head -c 60 "$tmp/A.csv" > "$tmp/cut.csv"
  if err=$(/usr/bin/env python3 "$SER_SOURCE_ROOT/scripts/ensemble.py" "$tmp/A.csv" "$tmp/cut.csv" 2>&1); then
    no "ensemble.py accepted a cut-off file"
  fi
  case $err in *"cut.csv: line 2: "*fields*) ;; *) no "ensemble.py on a cut-off file: $err" ;; esac
fi
# each network holds out its own validation speakers, those its seed picks alone: the networks learn
# from different speakers (3 speakers, leave one out, 1 of the 2 training speakers validates)
vs=(--speakers emodb:03,emodb:09,emodb:10 --labels neutral,angry --channels 8,8 --cbam-from 1 --epochs 2
    --val-speakers 1 --threads 2 --cache "$tmp/cache" --protocol loso "$D/emodb")
split_of() { grep "^fold" "$1" | grep -o "(train [0-9]*, val [0-9]*" | sed 's/(train \([0-9]*\), val \([0-9]*\)/\1 \2/'; }
expect 0 "eval loso --val-speakers 1 seed 5" "$SER" eval --seed 5 -q "${vs[@]}"; split_of "$tmp/out" > "$tmp/v5"
expect 0 "eval loso --val-speakers 1 seed 6" "$SER" eval --seed 6 -q "${vs[@]}"; split_of "$tmp/out" > "$tmp/v6"
expect 0 "eval loso --val-speakers 1 --members 2" "$SER" eval --seed 5 --members 2 "${vs[@]}"
tr '\r' '\n' < "$tmp/err" | sed -n 's/.*network 1\/2: training on \([0-9]*\) clips, validating on \([0-9]*\).*/\1 \2/p' > "$tmp/n1"
tr '\r' '\n' < "$tmp/err" | sed -n 's/.*network 2\/2: training on \([0-9]*\) clips, validating on \([0-9]*\).*/\1 \2/p' > "$tmp/n2"
[ "$(wc -l < "$tmp/n2")" = 3 ] && cmp -s "$tmp/n1" "$tmp/v5" && cmp -s "$tmp/n2" "$tmp/v6" ||
  no "the networks' splits are not those of seeds 5 and 6: $(cat "$tmp/n1" "$tmp/n2" | tr '\n' ' ') vs $(cat "$tmp/v5" "$tmp/v6" | tr '\n' ' ')"
cmp -s "$tmp/v5" "$tmp/v6" && no "seeds 5 and 6 pick the same validation speakers: the check above proves nothing"
# checkpoints per network; --resume takes the finished networks instead of training them again
expect 0 "train --members 2 --checkpoint-dir" "$SER" train "${common[@]}" --members 2 --checkpoint-dir "$tmp/eck" \
  -o "$tmp/e2.sermodel" "$D/emodb"
[ -s "$tmp/eck/net1/final.sermodel" ] && [ -s "$tmp/eck/net2/final.sermodel" ] || no "no per-network checkpoints"
expect 0 "train --members 2 --resume" "$SER" train "${nq[@]}" --members 2 --checkpoint-dir "$tmp/eck" --resume \
  -o "$tmp/e3.sermodel" "$D/emodb"
[ "$(grep -c "taken from $tmp/eck/net" "$tmp/err")" = 2 ] || no "resume did not take both networks: $(cat "$tmp/err")"
expect 0 "eval resumed ensemble" "$SER" eval --model "$tmp/e3.sermodel" --predictions "$tmp/pe3.csv" "${ev[@]}"
cmp -s "$tmp/pe.csv" "$tmp/pe3.csv" || no "the resumed ensemble scores differently"
"$SER" info "$tmp/e3.sermodel" | grep -q "^  epochs_run: 3$" || no "the resumed ensemble lost its networks' epochs_run"
expect 2 "resume an ensemble with other data" "$SER" train "${common[@]}" --speakers emodb:03,emodb:10 --members 2 \
  --checkpoint-dir "$tmp/eck" --resume -o "$tmp/e4.sermodel" "$D/emodb"
grep -q "net1/final.sermodel: not from this run's data and options: ensemble: the networks have different normalisation" \
  "$tmp/err" || no "resume with other data not refused clearly: $(cat "$tmp/err")"
# --distill N: a teacher of N networks trains first (checkpoints in DIR/teacher), the model's own
# network learns from its probabilities; the teacher is not kept. Same seed as m.sermodel, so
# without the teacher's targets the model would be m.sermodel itself.
expect 1 "--distill-alpha 2" "$SER" train --distill 2 --distill-alpha 2 -o "$tmp/d.sermodel" "$D/emodb"
expect 1 "--distill-temp 0" "$SER" eval --distill 2 --distill-temp 0 "$D/emodb"
expect 0 "train --distill 2" "$SER" train "${nq[@]}" --distill 2 --checkpoint-dir "$tmp/dck" -o "$tmp/d.sermodel" "$D/emodb"
grep -q "a teacher of 2 networks first" "$tmp/err" || no "train --distill does not announce the teacher"
grep -qE "teacher on [0-9]+ training clips: first choice the label for [0-9.]+ %, mean probability of the label 0\.[0-9]+" \
  "$tmp/err" || no "train --distill does not say how the teacher scores the training clips"
[ -s "$tmp/dck/teacher/net1/final.sermodel" ] && [ -s "$tmp/dck/teacher/net2/final.sermodel" ] ||
  no "no teacher checkpoints in $tmp/dck/teacher"
expect 0 "info distilled" "$SER" info "$tmp/d.sermodel"
grep -q "distilled: teacher of 2 networks, alpha 0.5, temperature 2" "$tmp/out" || no "info lacks the distillation"
grep -q "^ensemble:" "$tmp/out" && no "the distilled model kept the teacher's networks"
expect 0 "eval distilled model" "$SER" eval --model "$tmp/d.sermodel" --predictions "$tmp/pd.csv" "${ev[@]}"
cmp -s "$tmp/p5.csv" "$tmp/pd.csv" && no "the distilled model scores exactly as the same seed without a teacher"
expect 0 "train --distill 2 --resume" "$SER" train "${nq[@]}" --distill 2 --checkpoint-dir "$tmp/dck" --resume \
  -o "$tmp/d2.sermodel" "$D/emodb"
[ "$(grep -c "taken from $tmp/dck/teacher/net" "$tmp/err")" = 2 ] || no "resume did not take the teacher: $(cat "$tmp/err")"
expect 0 "eval distilled model after resume" "$SER" eval --model "$tmp/d2.sermodel" --predictions "$tmp/pd2.csv" "${ev[@]}"
cmp -s "$tmp/pd.csv" "$tmp/pd2.csv" || no "the resumed distilled model scores differently"
expect 0 "eval kfold --distill 1" "$SER" eval "${common[@]}" --distill 1 --protocol kfold --folds 2 "$D/emodb"
grep -q "every fold first trains a teacher of 1 network (seeds 6..6)" "$tmp/out" || no "eval --distill not announced"

# outputs are checked before any work: not an input, in a folder that exists
cp "$tmp/x.csv" "$tmp/x2.csv"
expect 2 "train -o onto its manifest" "$SER" train "${common[@]}" -o "$tmp/x2.csv" "$tmp/x2.csv"
grep -q "x2.csv: is also an input" "$tmp/err" || no "train -o = input unclear: $(cat "$tmp/err")"
cmp -s "$tmp/x.csv" "$tmp/x2.csv" || no "train -o destroyed its input manifest"
expect 2 "eval --predictions onto the model" "$SER" eval --model "$tmp/m.sermodel" --predictions "$tmp/m.sermodel" "${ev[@]}"
"$SER" info "$tmp/m.sermodel" > /dev/null || no "eval --predictions destroyed the model"
expect 2 "eval --json in a missing folder" "$SER" eval "${common[@]}" --json "$tmp/nope/r.json" "$D/emodb"
grep -q "nope/r.json: the folder" "$tmp/err" || no "--json error unclear: $(cat "$tmp/err")"
[ -s "$tmp/out" ] && no "eval trained although --json cannot be written: $(head -3 "$tmp/out")"
expect 2 "train -o in a missing folder" "$SER" train "${nq[@]}" -o "$tmp/nope/m.sermodel" "$D/emodb"
grep -q "decoding\|epoch" "$tmp/err" && no "train worked before refusing its output: $(head -3 "$tmp/err")"
# label names the model file would refuse: refused before training
expect 1 "--labels with a space" "$SER" train "${common[@]}" --labels "neutral,a b" -o "$tmp/l.sermodel" "$D/emodb"
grep -q "label 1: 'a b' is not a usable name" "$tmp/err" || no "bad label unclear: $(cat "$tmp/err")"
expect 1 "--labels twice the same" "$SER" train "${common[@]}" --labels angry,angry -o "$tmp/l.sermodel" "$D/emodb"
# speaker names: a name that is no speaker is an error that suggests corpus:id
expect 2 "--test-speakers 03" "$SER" eval "${common[@]}" --protocol speakers --test-speakers 03 "$D/emodb"
grep -q "no speaker '03' in the corpora (did you mean emodb:03?" "$tmp/err" || no "--test-speakers 03 unclear: $(cat "$tmp/err")"
expect 2 "--speakers emodb:99" "$SER" train "${common[@]}" --speakers emodb:03,emodb:99 -o "$tmp/l.sermodel" "$D/emodb"
grep -q -- "--speakers: no speaker 'emodb:99'" "$tmp/err" || no "--speakers emodb:99 unclear: $(cat "$tmp/err")"
expect 2 "--val-speakers emodb:77" "$SER" train "${common[@]}" --val-speakers emodb:77 -o "$tmp/l.sermodel" "$D/emodb"
grep -q -- "--val-speakers: no speaker 'emodb:77'" "$tmp/err" || no "--val-speakers unclear: $(cat "$tmp/err")"
# a report that cannot be written is an error
if [ -w /dev/full ]; then
  expect 2 "eval report to a full disk" sh -c '"$0" eval --model "$1" --speakers emodb:03,emodb:09 --cache "$2" "$3" > /dev/full' \
    "$SER" "$tmp/m.sermodel" "$tmp/cache" "$D/emodb"
  expect 2 "eval --json to a full disk" "$SER" eval --model "$tmp/m.sermodel" --json /dev/full "${ev[@]}"
fi

[ $fail = 0 ] && echo "ser train/eval CLI: all checks passed"
exit $fail
