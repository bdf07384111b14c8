#!/usr/bin/env bash
# The engine against ONNX Runtime (and PyTorch) on this machine, in one run, same thread count.
# Usage: scripts/bench-engine.sh [BATCHES] [THREADS] [REPS]   (default 1,4  all cores  5)
# Needs the reference venv: ../shared/tools/setup-reference-env.sh (prints its python).
set -euo pipefail
cd "$(dirname "$0")/.."
batches=${1:-1,4}
threads=${2:-$(nproc)}
reps=${3:-5}
tools=${REFERENCE_TOOLS:-../shared/tools}
python=$(bash "$tools/setup-reference-env.sh" | tail -n 1)
swift build -c release --product r2plus1d >/dev/null
echo "== r2plus1d (demo weights; speed does not depend on values)"
.build/release/r2plus1d bench --demo-weights --batch "$batches" --threads "$threads" --reps "$reps"
echo "== reference: $tools/reference_bench.py --engines torch,onnxruntime"
"$python" "$tools/reference_bench.py" --batch "$batches" --threads "$threads" --reps "$reps" --engines torch,onnxruntime
echo "== r2plus1d again (the machine is noisy: compare medians)"
.build/release/r2plus1d bench --demo-weights --batch "$batches" --threads "$threads" --reps "$reps"
