#!/usr/bin/env bash
# `ser info`: output for real model files and the built-in model, exit
# statuses 0 / 1 / 2, and errors that name the file and the problem.
set -u
fail=0
no() { echo "FAILED: $*" >&2; fail=1; }
fx=$SER_SOURCE_ROOT/tests/fixtures/net
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$SER" info --help >"$tmp/out" 2>&1; rc=$?
[ $rc = 0 ] || no "--help exit $rc"
grep -q "Usage: ser info" "$tmp/out" || no "--help text"

for args in "" "--bogus" "$fx/conv.sermodel $fx/pools.sermodel" "--builtin $fx/conv.sermodel"; do
  # shellcheck disable=SC2086
  "$SER" info $args >"$tmp/out" 2>"$tmp/err"; rc=$?
  [ $rc = 1 ] || no "'ser info $args' exit $rc, expected 1 (usage)"
  [ -s "$tmp/err" ] || no "'ser info $args' says nothing on stderr"
done

for m in temporal conv pools attention paper temporal_maxpool; do
  "$SER" info "$fx/$m.sermodel" >"$tmp/out" 2>"$tmp/err"; rc=$?
  [ $rc = 0 ] || { no "info $m exit $rc: $(cat "$tmp/err")"; continue; }
  want_arch=temporal; [ $m = paper ] && want_arch=paper
  grep -q "^architecture: $want_arch$" "$tmp/out" || no "$m: architecture line"
  grep -q "^model: $fx/$m.sermodel ($(stat -c %s "$fx/$m.sermodel") bytes)$" "$tmp/out" || no "$m: size line"
  grep -q "^  name: $m$" "$tmp/out" || no "$m: metadata"
  grep -q "^compute: .* multiply-adds" "$tmp/out" || no "$m: compute line"
  grep -qE "^convolutions here: (ser-core's AVX-512 kernel|ser-core's AVX2 \+ FMA kernel|im2col \+ OpenBLAS sgemm)$" \
    "$tmp/out" || no "$m: convolutions line"
  # one line per layer, and the parameter total is the sum of the layer lines
  n=$(sed -n 's/^layers (\([0-9]*\)):$/\1/p' "$tmp/out")
  lines=$(grep -cE '^ +[0-9]+ [a-z_0-9]+ ' "$tmp/out")
  [ "$n" = "$lines" ] || no "$m: layers ($n) but $lines layer lines"
  sum=$(grep -oE '[0-9]+ params$' "$tmp/out" | awk '{s += $1} END {print s + 0}')
  total=$(sed -n 's/^parameters: \([0-9]*\) .*/\1/p' "$tmp/out")
  [ "$sum" = "$total" ] || no "$m: parameters $total but layers add up to $sum"
  [ "$total" -gt 0 ] || no "$m: no parameters"
done
grep -q "^labels (7): neutral, happy, sad, angry, fearful, disgusted, surprised$" <("$SER" info "$fx/temporal.sermodel") ||
  no "temporal labels"
grep -q "(256, 16) -> (4096, 1)" <("$SER" info "$fx/paper.sermodel") || no "paper flatten shape"

# an ensemble: every network listed, the total is all networks' parameters
ens=$SER_SOURCE_ROOT/tests/fuzz/corpus/tiny_ensemble.sermodel
"$SER" info "$ens" >"$tmp/out" 2>"$tmp/err" || no "info ensemble: $(cat "$tmp/err")"
grep -q "^ensemble: 3 networks over the same input" "$tmp/out" || no "ensemble line"
[ "$(grep -c '^network [123] of 3: ' "$tmp/out")" = 3 ] || no "ensemble: not 3 network lines"
[ "$(grep -c '^  layers (' "$tmp/out")" = 3 ] || no "ensemble: not 3 layer lists"
sum=$(grep -oE '[0-9]+ params$' "$tmp/out" | awk '{s += $1} END {print s + 0}')
total=$(sed -n 's/^parameters: \([0-9]*\) .*/\1/p' "$tmp/out")
[ "$sum" = "$total" ] && [ "$total" -gt 0 ] || no "ensemble: parameters $total but layers add up to $sum"

"$SER" info --builtin >"$tmp/out" 2>"$tmp/err"; rc=$?
[ $rc = 0 ] || no "--builtin exit $rc: $(cat "$tmp/err")"
grep -q "^labels (7): neutral, happy, sad, angry, fearful, disgusted, surprised$" "$tmp/out" || no "builtin labels"
grep -q "^architecture: temporal$" "$tmp/out" || no "builtin architecture"

# bad input: exit 2, message names the file and the problem
head -c 3000 "$fx/temporal.sermodel" >"$tmp/cut.sermodel"
"$SER" info "$tmp/cut.sermodel" >"$tmp/out" 2>"$tmp/err"; rc=$?
[ $rc = 2 ] || no "truncated file exit $rc"
grep -q "$tmp/cut.sermodel: truncated" "$tmp/err" || no "truncated message: $(cat "$tmp/err")"
printf 'hello world, not a model' >"$tmp/text.sermodel"
"$SER" info "$tmp/text.sermodel" >"$tmp/out" 2>"$tmp/err"; rc=$?
[ $rc = 2 ] || no "text file exit $rc"
grep -q "text.sermodel: not a .sermodel file (bad magic)" "$tmp/err" || no "magic message: $(cat "$tmp/err")"
"$SER" info "$tmp/missing.sermodel" >"$tmp/out" 2>"$tmp/err"; rc=$?
[ $rc = 2 ] || no "missing file exit $rc"
grep -q "missing.sermodel: No such file" "$tmp/err" || no "missing message: $(cat "$tmp/err")"
if [ -w /dev/full ]; then
  "$SER" info --builtin >/dev/full 2>"$tmp/err"; rc=$?
  [ $rc = 2 ] || no "info to a full disk: exit $rc"
  grep -q "write error" "$tmp/err" || no "full disk message: $(cat "$tmp/err")"
fi
mkdir "$tmp/dir.sermodel"
"$SER" info "$tmp/dir.sermodel" >"$tmp/out" 2>"$tmp/err"; rc=$?
[ $rc = 2 ] || no "directory exit $rc"
grep -q "dir.sermodel: not a regular file" "$tmp/err" || no "directory message: $(cat "$tmp/err")"

# SER_CONV=blas sends the convolutions through OpenBLAS, and info says so; the
# kernel line matches what the CPU has
SER_CONV=blas "$SER" info --builtin 2>/dev/null | grep -q "^convolutions here: im2col + OpenBLAS sgemm$" ||
  no "SER_CONV=blas: convolutions line"
want="im2col + OpenBLAS sgemm"
if grep -qw avx512f /proc/cpuinfo; then want="ser-core's AVX-512 kernel"
elif grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo; then want="ser-core's AVX2 + FMA kernel"; fi
"$SER" info --builtin 2>/dev/null | grep -qF "convolutions here: $want" || no "convolutions line is not '$want'"
if grep -qw avx512f /proc/cpuinfo; then
  SER_CONV=avx2 "$SER" info --builtin 2>/dev/null | grep -q "^convolutions here: ser-core's AVX2 + FMA kernel$" ||
    no "SER_CONV=avx2: convolutions line"
fi
[ $fail = 0 ] && echo "test_info: all checks passed"
exit $fail
