#!/usr/bin/env bash
# The full-size network against torchvision on the same random weights: r2plus1d_18 as torchvision builds it,
# saved by torch.save (zip and legacy .pth) and as safetensors, each read by `r2plus1d forward`, at batch
# BATCH (the batch path: one clip per thread) and on its first clip alone (a single clip's frame and row
# splits). Fails if any max |logit difference| is over 1e-4 of the largest logit or a top-5 differs.
# Usage: scripts/parity-full.sh [BATCH]   (default 4). Needs the reference venv (scripts/make-reference-venv.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
batch=${1:-4}
source scripts/lib/reference.sh
"$python" -W ignore tools/full_parity.py make "$out" "$batch"
results=()
for weights in r2plus1d_18.pth r2plus1d_18_legacy.pth r2plus1d_18.safetensors; do
    for input in input input1; do
        logits="$out/${weights//./_}-$input.safetensors"
        .build/release/r2plus1d forward --weights "$out/$weights" --input "$out/$input.safetensors" -o "$logits"
        results+=("$logits")
    done
done
"$python" -W ignore tools/full_parity.py compare "$out" "${results[@]}"
