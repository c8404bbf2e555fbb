#!/bin/sh
# Reproduces the default sync model data/models/sync-small.safetensors: builds
# soundstage-train-sync and trains the "small" Synchformer on in-memory corpus
# clips (batch 16), in the phases the shipped file went through on the H100
# (docs/sync.md, "Default model"):
#   1. 380 steps training the feature extractors alone on event detection
#      (heads on every video/audio token say whether an event happens there),
#      then 894 steps on the offset (+ synchronizability, + events as an auxiliary loss);
#   2.-7. 2055, 2015, 1455, 1447, 925 and 1160 more offset steps on new clips (seeds
#      4-7, 9, 10), each with its own warm-up and cosine decay, at learning rates 4e-4,
#      3e-4, 2.5e-4, 2e-4, 2e-4, 2e-4.
# Every phase evaluates on held-out clips next to the signal-processing estimate
# and records the figures in the file's metadata.
#   tools/train/train-sync.sh [OUT]
# Environment: BUILD (build folder, default build-train), EVAL (held-out clips per
# difficulty, default 105). About 40 minutes on an H100, impractical on lavapipe.
set -e
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD:-$root/build-train}
out=${1:-$root/data/models/sync-small.safetensors}
eval=${EVAL:-105}
[ -d "$build" ] || meson setup "$build" "$root" --buildtype=release
ninja -C "$build" tools/train/soundstage-train-sync
mkdir -p "$(dirname "$out")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
train="$build/tools/train/soundstage-train-sync --config small --batch 16 --eval $eval"
$train --seed 3 --pretrain-steps 380 --pretrain-lr 1e-3 --steps 894 --lr 4e-4 --out "$tmp/1.safetensors"
$train --seed 4 --init "$tmp/1.safetensors" --steps 2055 --lr 4e-4 --out "$tmp/2.safetensors"
$train --seed 5 --init "$tmp/2.safetensors" --steps 2015 --lr 3e-4 --out "$tmp/3.safetensors"
$train --seed 6 --init "$tmp/3.safetensors" --steps 1455 --lr 2.5e-4 --out "$tmp/4.safetensors"
$train --seed 7 --init "$tmp/4.safetensors" --steps 1447 --lr 2e-4 --out "$tmp/5.safetensors"
$train --seed 9 --init "$tmp/5.safetensors" --steps 925 --lr 2e-4 --out "$tmp/6.safetensors"
$train --seed 10 --init "$tmp/6.safetensors" --steps 1160 --lr 2e-4 --out "$tmp/7.safetensors"
cp "$tmp/7.safetensors" "$out"
echo "wrote $out"
