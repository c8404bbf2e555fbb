#!/usr/bin/env bash
# Configures (once) and builds Soundstage into ./build. CI and the quick start use clang,
# which also builds the libFuzzer targets.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${SOUNDSTAGE_BUILD:-build}
if [ ! -f "$BUILD/build.ninja" ]; then
  CC=${CC:-clang} meson setup "$BUILD" --buildtype=debugoptimized
fi
ninja -C "$BUILD"
