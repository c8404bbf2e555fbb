#!/usr/bin/env bash
# Quick start 2: install what is needed, build, and run every test suite
# (unit, gpu on Mesa's lavapipe when there is no GPU, gui under Xvfb, fuzz).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
bash tools/build.sh
BUILD=${SOUNDSTAGE_BUILD:-build}
# Pick lavapipe if no other Vulkan device is wanted explicitly.
export SOUNDSTAGE_DEVICE=${SOUNDSTAGE_DEVICE:-}
status=0
meson test -C "$BUILD" --suite unit --suite gpu --suite gui --suite fuzz \
  --print-errorlogs --num-processes 2 -t 4 || status=1
# One closing line for the whole run: "N passed, N failed".
python3 tools/summarize-tests.py "$BUILD/meson-logs/testlog.json" || status=1
exit $status
