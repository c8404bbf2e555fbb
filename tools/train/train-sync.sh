#!/bin/sh
# Reproduces the sync-model training: builds soundstage-train-sync and trains the
# "small" Synchformer on in-memory corpus clips, then evaluates it on held-out clips
# next to the signal-processing estimate.
#   tools/train/train-sync.sh [OUT] [extra soundstage-train-sync options]
# Defaults: OUT=data/models/sync-small.safetensors, batch 16, lr 6e-4, 3000 steps.
# Environment: BUILD (build folder, default build-train).
set -e
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD:-$root/build-train}
out=${1:-$root/data/models/sync-small.safetensors}
[ $# -gt 0 ] && shift
[ -d "$build" ] || meson setup "$build" "$root" --buildtype=release
ninja -C "$build" tools/train/soundstage-train-sync
mkdir -p "$(dirname "$out")"
exec "$build/tools/train/soundstage-train-sync" --config small --batch 16 --lr 6e-4 --steps 3000 \
  --seed 1 --eval 105 --out "$out" "$@"
