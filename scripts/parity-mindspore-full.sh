#!/usr/bin/env bash
# The full-size network against MindSpore on the same random weights: r2plus1d_mindspore's R2Plus1d18 layout and
# names, saved by MindSpore 2.10 (a plain checkpoint with the CRC trailer, and ModelCheckpoint's training checkpoint
# after one step), each read by `r2plus1d forward` at batch BATCH. Fails if any max |logit difference| is over 1e-4
# of the largest logit or a top-5 differs.
# Usage: scripts/parity-mindspore-full.sh [BATCH]   (default 2). Makes its venv (mindspore==2.10.0 CPU, numpy<2,
# safetensors) in $MINDSPORE_VENV (default $HOME/.cache/r2plus1d-mindspore-venv) on first use: about 1 GB.
set -euo pipefail
cd "$(dirname "$0")/.."
batch=${1:-2}
venv=${MINDSPORE_VENV:-$HOME/.cache/r2plus1d-mindspore-venv}
python=$venv/bin/python
if ! "$python" -c 'import mindspore, safetensors, numpy' 2>/dev/null; then
  python3 -m venv "$venv"
  "$python" -m pip install -q --upgrade pip >&2
  "$python" -m pip install -q mindspore==2.10.0 'numpy<2' safetensors==0.8.0 >&2
fi
swift build -c release --product r2plus1d >/dev/null
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
GLOG_v=3 "$python" -W ignore tools/mindspore_full_parity.py make "$out" "$batch"  # GLOG_v=3: MindSpore's errors only
results=()
for weights in seed seed_train; do
  .build/release/r2plus1d forward --weights "$out/$weights.ckpt" --input "$out/input.safetensors" -o "$out/$weights.safetensors"
  results+=("$out/$weights.safetensors")
done
GLOG_v=3 "$python" -W ignore tools/mindspore_full_parity.py compare "$out" "${results[@]}"
