#!/usr/bin/env bash
# Where a single clip's time goes, convolution by convolution, against ONNX Runtime on the same machine.
# Usage: scripts/profile-layers.sh [THREADS] [REPS]   (default all cores, 5)
# Needs the reference venv (scripts/make-reference-venv.sh).
#
# r2plus1d runs twice (before and after ONNX Runtime) and each of its figures is the mean of those two medians,
# since a VM's speed can drift within minutes. Both engines' figures include the convolution's bias, ReLU
# and residual add (ONNX Runtime's separate Add and Relu nodes are counted with the block's conv2.0.3).
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${1:-$(nproc)}
reps=${2:-5}
source scripts/lib/reference.sh
ours() { .build/release/r2plus1d bench --demo-weights --layers --threads "$threads" --reps "$reps" --json; }
ours >"$out/ours-1.json"
"$python" -W ignore scripts/ort_layer_times.py --threads "$threads" --reps "$reps" --json 2>/dev/null >"$out/ort.json"
ours >"$out/ours-2.json"
python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
load = lambda name: {l["name"]: l["ms"] for l in json.load(open(f"{out}/{name}.json"))["layers"]}
a, b, ort = load("ours-1"), load("ours-2"), load("ort")
print(f"{'convolution':24s}{'r2plus1d':>10s}{'ORT':>10s}{'ratio':>8s}")
total = [0.0, 0.0]
for name in a:
    mine = (a[name] + b[name]) / 2
    theirs = ort.get(name, float("nan"))
    total[0] += mine
    total[1] += theirs
    print(f"{name:24s}{mine:10.2f}{theirs:10.2f}{theirs / mine:8.2f}")
print(f"{'sum':24s}{total[0]:10.2f}{total[1]:10.2f}{total[1] / total[0]:8.2f}")
print("ratio = ONNX Runtime's time / ours: above 1, r2plus1d is faster on that convolution")
PY
