#!/bin/sh
# Runs a program that loads our plugin but is not built with sanitizers
# itself (gst-launch-1.0, python3). In an ASan build (SER_SANITIZE from
# meson's b_sanitize) the ASan runtime must be loaded first: preload the
# runtime the plugin was linked with (gcc: libasan.so.N; clang: its
# libclang_rt.asan). Leak checking is left to the in-process tests (the
# host program's own allocations are not ours to judge).
case "${SER_SANITIZE:-none}" in
  *address*)
    plugin="${SER_BUILD_ROOT:-.}/gst-plugin/libgstseremotion.so"
    asan=$(ldd "$plugin" 2>/dev/null | awk '/asan/ { print $3; exit }')
    if [ -z "$asan" ] || [ ! -f "$asan" ]; then
      for name in libasan.so libclang_rt.asan-x86_64.so; do
        f=$("${SER_CC:-cc}" -print-file-name="$name" 2>/dev/null)
        case "$f" in /*) [ -f "$f" ] && { asan=$f; break; } ;; esac
      done
    fi
    export LD_PRELOAD="$asan${LD_PRELOAD:+:$LD_PRELOAD}"
    export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
    ;;
esac
exec "$@"
