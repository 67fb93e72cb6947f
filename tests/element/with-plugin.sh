#!/bin/sh
# Runs a program that loads our plugin but is not built with sanitizers
# itself (gst-launch-1.0, python3). In an ASan build (SER_SANITIZE from
# meson's b_sanitize) the ASan runtime must be loaded first: preload it.
# Leak checking is left to the in-process tests (the host program's own
# allocations are not ours to judge).
case "${SER_SANITIZE:-none}" in
  *address*)
    asan=$("${SER_CC:-cc}" -print-file-name=libasan.so)
    export LD_PRELOAD="$asan${LD_PRELOAD:+:$LD_PRELOAD}"
    export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
    ;;
esac
exec "$@"
