#!/usr/bin/env bash
# Installs the Debian 12 packages seremotion needs to build, test and demo.
# Usage: scripts/deps.sh [--bench]   (needs root for apt-get; skips what is present)
set -euo pipefail
pkgs=(meson ninja-build pkg-config gcc clang libclang-rt-14-dev
  libfftw3-dev libopenblas-dev
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev gstreamer1.0-tools
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  python3-gi gir1.2-gstreamer-1.0 gir1.2-gst-plugins-base-1.0
  pulseaudio pulseaudio-utils gstreamer1.0-pulseaudio valgrind)
if [ "${1:-}" = "--bench" ]; then
  pkgs+=(python3-torch python3-torchaudio python3-numpy sphinxbase-utils aubio-tools hyperfine time)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}" >&2
  SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
