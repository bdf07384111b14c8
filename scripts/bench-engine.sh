#!/usr/bin/env bash
# The engine against ONNX Runtime, OpenVINO (and PyTorch) on this machine, in one run, same thread count.
# Usage: scripts/bench-engine.sh [BATCHES] [THREADS] [REPS] [ROUNDS]   (default 1,4  all cores  5  3)
# BENCH_OPTIONS adds options to r2plus1d's side, e.g. BENCH_OPTIONS="--blas-kernels SkylakeX" for the kernel set
# another machine kind picks (the references choose their own kernels either way).
# Needs the reference venv (scripts/make-reference-venv.sh) and reference_bench.py from ../shared/tools
# (or $REFERENCE_TOOLS).
#
# A VM's speed can drift by 10% and more within minutes (it did on every host in docs/PERFORMANCE.md), so one
# figure of each engine compares two different moments. The script alternates the engines for ROUNDS rounds, each
# round ONNX Runtime, r2plus1d, OpenVINO, r2plus1d after a first r2plus1d run (r2plus1d, ORT, r2plus1d, OpenVINO,
# r2plus1d, ORT, ...), so every reference figure sits between two of ours; each figure is a median of REPS
# forwards. It reports per batch size the median of each engine and, against each of ORT and OpenVINO, the median
# of the per-round ratios (r2plus1d clips/s, the mean of the two runs around the reference run, over the
# reference's), and each larger batch's clips/s against batch 1's, run by run. Without an importable OpenVINO it
# says so and alternates with ORT only (r2plus1d, ORT, r2plus1d, ...). PyTorch eager runs once, at the start.
set -euo pipefail
source "$(dirname "$0")/lib/cpu.sh"
cd "$(dirname "$0")/.."
batches=${1:-1,4}
threads=${2:-$(nproc)}
reps=${3:-5}
rounds=${4:-3}
source scripts/lib/reference.sh
read -r -a options <<<"${BENCH_OPTIONS:-}"
ours() {
    .build/release/r2plus1d bench --demo-weights --batch "$batches" --threads "$threads" --reps "$reps" --json \
        ${options[@]+"${options[@]}"}
}
reference() {
    "$python" -W ignore "$tools/reference_bench.py" --batch "$batches" --threads "$threads" --reps "$reps" \
        --engines "$1" --json 2>/dev/null
}
# The ratio depends on the CPU: ONNX Runtime's MLAS uses AVX-512 where the CPU has it, Debian's OpenBLAS 0.3.21
# does not on every such CPU (and not where OPENBLAS_CORETYPE pins an AVX2 kernel set).
echo "== CPU: $(cpu_name), $(nproc) cores," \
    "AVX-512: $(grep -q -m 1 avx512f /proc/cpuinfo && echo yes || echo no), OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}"
echo "== $(.build/release/r2plus1d bench --demo-weights --batch 1 --reps 1 ${options[@]+"${options[@]}"} | head -n 1)"
if "$python" -c 'import openvino' 2>/dev/null; then
    openvino=1
else
    openvino=0
    echo "== OpenVINO: cannot import openvino with $python; comparing with ONNX Runtime only"
fi
echo "== PyTorch eager (once)"
reference torch >"$out/torch.json"
run=0
ours >"$out/ours-$run.json"
for round in $(seq 1 "$rounds"); do
    echo "== round $round of $rounds"
    reference onnxruntime >"$out/ort-$round.json"
    run=$((run + 1))
    ours >"$out/ours-$run.json"
    if ((openvino)); then
        reference openvino >"$out/openvino-$round.json"
        run=$((run + 1))
        ours >"$out/ours-$run.json"
    fi
done
python3 - "$out" "$rounds" "$openvino" <<'PY'
import json, statistics, sys
out, rounds, openvino = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
load = lambda name: {r["batch"]: r for r in json.load(open(f"{out}/{name}.json"))["results"]}
step = 2 if openvino else 1
ours = [load(f"ours-{i}") for i in range(rounds * step + 1)]
references = {"ONNX Runtime": ("ort", 0)} | ({"OpenVINO": ("openvino", 1)} if openvino else {})
torch = load("torch")
for b in sorted(ours[0]):
    mine = [o[b]["clips_per_second"] for o in ours]
    rss = max(o[b]["peak_rss_mb"] for o in ours)
    print(f"batch {b}: r2plus1d median {statistics.median(mine):.2f} clips/s ({min(mine):.2f}-{max(mine):.2f}, "
          f"peak RSS {rss:.0f} MB); PyTorch {torch[b]['clips_per_second']:.2f}")
    for engine, (name, offset) in references.items():
        theirs = [load(f"{name}-{i}")[b]["clips_per_second"] for i in range(1, rounds + 1)]
        # Round i's figure (from 0) sits between our runs i*step+offset and the one after it.
        ratios = [(mine[i * step + offset] + mine[i * step + offset + 1]) / 2 / theirs[i] for i in range(rounds)]
        print(f"  {engine} median {statistics.median(theirs):.2f} ({min(theirs):.2f}-{max(theirs):.2f}); "
              f"ratio per round {', '.join(f'{r:.2f}' for r in ratios)}, median {statistics.median(ratios):.2f}x")
# Batching's own gain: each of our runs measures batch 1 and the others back to back, in one process.
if 1 in ours[0]:
    for b in sorted(ours[0])[1:]:
        gains = [o[b]["clips_per_second"] / o[1]["clips_per_second"] for o in ours]
        print(f"batch {b} against batch 1, clips/s per run: {', '.join(f'{g:.2f}' for g in gains)}, "
              f"median {statistics.median(gains):.2f}x")
PY
