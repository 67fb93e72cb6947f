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
expect 1 "train without -o" "$SER" train "$D/emodb"
expect 1 "train unknown option" "$SER" train --bogus -o "$tmp/m.sermodel" "$D/emodb"
expect 1 "train bad --epochs" "$SER" train --epochs zero -o "$tmp/m.sermodel" "$D/emodb"
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
expect 0 "eval kfold" "$SER" eval "${common[@]}" --protocol kfold --folds 2 --json "$tmp/r.json" --svg "$tmp/r.svg" "$D/emodb"
[ "$(grep -c '^fold ' "$tmp/out")" = 2 ] || no "expected 2 fold lines: $(cat "$tmp/out")"
grep -q '"ua"' "$tmp/r.json" 2>/dev/null || grep -qi 'ua' "$tmp/r.json" || no "json report lacks UA"
grep -q "<svg" "$tmp/r.svg" || no "svg report missing"

[ $fail = 0 ] && echo "ser train/eval CLI: all checks passed"
exit $fail
