#!/usr/bin/env bash
# The engine against ONNX Runtime (and PyTorch) on this machine, in one run, same thread count.
# Usage: scripts/bench-engine.sh [BATCHES] [THREADS] [REPS] [ROUNDS]   (default 1,4  all cores  5  3)
# Needs the reference venv: ../shared/tools/setup-reference-env.sh (prints its python).
#
# This machine's speed drifts by 10% and more within minutes, so one figure of each engine compares two different
# moments. The script alternates the engines for ROUNDS rounds (r2plus1d, ONNX Runtime, r2plus1d, ...), each
# figure a median of REPS forwards, and reports per batch size the median of each engine and the median of the
# per-round ratios (r2plus1d clips/s over ONNX Runtime's, taken against the ORT run between two of ours).
# PyTorch eager runs once, at the start.
set -euo pipefail
cd "$(dirname "$0")/.."
batches=${1:-1,4}
threads=${2:-$(nproc)}
reps=${3:-5}
rounds=${4:-3}
source scripts/lib/reference.sh
ours() { .build/release/r2plus1d bench --demo-weights --batch "$batches" --threads "$threads" --reps "$reps" --json; }
reference() {
    "$python" -W ignore "$tools/reference_bench.py" --batch "$batches" --threads "$threads" --reps "$reps" \
        --engines "$1" --json 2>/dev/null
}
echo "== $(.build/release/r2plus1d bench --demo-weights --batch 1 --reps 1 | head -n 1)"
# The ratio depends on the CPU: ONNX Runtime's MLAS uses AVX-512 where the CPU has it, Debian's OpenBLAS 0.3.21
# does not on every such CPU (and not where OPENBLAS_CORETYPE pins an AVX2 kernel set).
echo "== CPU: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), $(nproc) cores," \
    "AVX-512: $(grep -q -m 1 avx512f /proc/cpuinfo && echo yes || echo no), OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}"
echo "== PyTorch eager (once)"
reference torch >"$out/torch.json"
ours >"$out/ours-0.json"
for round in $(seq 1 "$rounds"); do
    echo "== round $round of $rounds"
    reference onnxruntime >"$out/ort-$round.json"
    ours >"$out/ours-$round.json"
done
python3 - "$out" "$rounds" <<'EOF'
import json, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
load = lambda name: {r["batch"]: r for r in json.load(open(f"{out}/{name}.json"))["results"]}
ours = [load(f"ours-{i}") for i in range(rounds + 1)]
ort = [load(f"ort-{i}") for i in range(1, rounds + 1)]
torch = load("torch")
for b in sorted(ours[0]):
    mine = [o[b]["clips_per_second"] for o in ours]
    theirs = [o[b]["clips_per_second"] for o in ort]
    # Round i's ORT figure sits between our figures i-1 and i.
    ratios = [(mine[i] + mine[i + 1]) / 2 / theirs[i] for i in range(rounds)]
    rss = max(o[b]["peak_rss_mb"] for o in ours)
    print(f"batch {b}: r2plus1d median {statistics.median(mine):.2f} clips/s ({min(mine):.2f}-{max(mine):.2f}, "
          f"peak RSS {rss:.0f} MB); ONNX Runtime median {statistics.median(theirs):.2f} "
          f"({min(theirs):.2f}-{max(theirs):.2f}); PyTorch {torch[b]['clips_per_second']:.2f}; "
          f"ratio to ORT per round {', '.join(f'{r:.2f}' for r in ratios)}, median {statistics.median(ratios):.2f}x")
EOF
