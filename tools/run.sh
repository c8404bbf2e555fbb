#!/usr/bin/env bash
# Quick start 1: install what is needed, build, and open the editor on the bundled demo
# project. Without a display, runs the CLI's main job on the demo instead.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
bash tools/build.sh
BUILD=${SOUNDSTAGE_BUILD:-build}
DEMO="$BUILD/data/demo/demo.soundstage"
export GSETTINGS_SCHEMA_DIR="$PWD/$BUILD/data"
if [ -n "${DISPLAY:-}" ] || [ -n "${WAYLAND_DISPLAY:-}" ]; then
  exec "$BUILD/app/soundstage" "$DEMO"
else
  echo "No display: running soundstage-cli on the demo project."
  "$BUILD/app/soundstage-cli" info "$DEMO"
  "$BUILD/app/soundstage-cli" export "$DEMO" -o "$BUILD/demo-export.mp4"
  echo "Exported $BUILD/demo-export.mp4"
fi
