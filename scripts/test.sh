#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds with warnings as
# errors, runs every test, runs them again under ASan+UBSan, fuzzes the model
# reader and the prediction-file reader (ser eval --from-predictions) for a
# bounded time, and ends with "N passed, N failed".
# Usage: scripts/test.sh        (from anywhere; uses build-test/ and build-asan/)
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
scripts/deps.sh || { echo "0 passed, 1 failed"; exit 1; }

passed=0; failed=0
count() { # $1 = build dir: add its meson test results
  local log="$1/meson-logs/testlog.json"
  [ -f "$log" ] || { failed=$((failed + 1)); return; }
  local p f
  p=$(grep -c '"result": "OK"' "$log" || true)
  f=$(grep -c -E '"result": "(FAIL|TIMEOUT|ERROR|UNEXPECTEDPASS)"' "$log" || true)
  passed=$((passed + p)); failed=$((failed + f))
}

run_suite() { # $1 = build dir, rest = meson setup options
  local dir="$1"; shift
  if [ ! -d "$dir" ]; then
    meson setup "$dir" --werror "$@" >/dev/null || { failed=$((failed + 1)); return; }
  fi
  if ! ninja -C "$dir"; then failed=$((failed + 1)); return; fi
  meson test -C "$dir" --print-errorlogs --num-processes 2 --timeout-multiplier "${TIMEOUT_MULT:-1}"
  count "$dir"
}

echo "== build and test (warnings are errors)"
run_suite build-test --buildtype=debugoptimized

echo "== valgrind memcheck: no invalid access, no definite leak"
vg() { # name, command...: one counted check
  local name="$1"; shift
  if valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=9 \
       --suppressions="$root/tests/valgrind.supp" "$@" >/dev/null 2>"build-test/valgrind-$name.log"; then
    echo "ok   valgrind $name"; passed=$((passed + 1))
  else
    echo "FAIL valgrind $name (build-test/valgrind-$name.log)"; cat "build-test/valgrind-$name.log" | head -40
    failed=$((failed + 1))
  fi
}
if [ -x build-test/ser-core/ser ]; then
  clip=data/speech-emodb-03.wav
  vg features build-test/ser-core/ser features -o /dev/null "$clip"
  vg classify build-test/ser-core/ser classify --format csv "$clip"
  vg info build-test/ser-core/ser info models/default.sermodel
  # the variables go to vg's environment: 'vg element env VAR=... gst-launch-1.0' would have valgrind
  # watch only `env` (valgrind does not follow exec without --trace-children)
  GST_PLUGIN_PATH="$root/build-test/gst-plugin" GST_REGISTRY="$root/build-test/vg-registry.bin" \
    vg element gst-launch-1.0 -q filesrc location="$clip" ! wavparse ! audioconvert ! seremotion ! fakesink
fi

echo "== again under AddressSanitizer + UndefinedBehaviorSanitizer"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export LSAN_OPTIONS=suppressions=$root/tests/lsan.supp
TIMEOUT_MULT=4 run_suite build-asan --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false
unset ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS

if [ -x tests/fuzz/run.sh ]; then
  echo "== fuzzing the model reader (${FUZZ_SECONDS:-60} s) and ser eval --from-predictions (half as long)"
  if tests/fuzz/run.sh "${FUZZ_SECONDS:-60}"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
