#!/bin/sh
# Regenerates tests/fixtures/synchformer (tiny config, random weights with seed 0,
# inputs and every intermediate) with the PyTorch reference of the SYNC work stream.
# Needs python3 with torch (Debian: apt-get install python3-torch; CPU is enough).
set -e
root=$(cd "$(dirname "$0")/../.." && pwd)
exec python3 "$root/tools/reference/synchformer.py" fixture --config tiny --seed 0 \
  --out "$root/tests/fixtures/synchformer" "$@"
