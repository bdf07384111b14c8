#!/usr/bin/env bash
# Two builds of the engine at the same time, one core each (single-threaded `bench`), the cores swapped every round.
# Usage: scripts/bench-engine-pair.sh OLD_BINARY NEW_BINARY [ROUNDS] [BATCH] [-- extra bench options]
#   e.g. scripts/bench-engine-pair.sh /tmp/r2plus1d-before .build/release/r2plus1d 8 1 -- --blas-kernels SkylakeX
# On a shared host other tenants slow both sides of a simultaneous pair alike, where alternated runs
# (bench-engine-ab.sh) compare different moments: a build against itself gave per-round ratios of 0.96-1.02
# this way and 0.80-1.11 alternated. It measures one thread per clip, as a batch runs; what the threads of a
# single clip share is left to bench-engine-ab.sh. Prints each round's medians and the median of the ratios.
set -euo pipefail
source "$(dirname "$0")/lib/cpu.sh"
old=$1 new=$2 rounds=${3:-8} batch=${4:-1}
shift $(($# < 4 ? $# : 4))
[[ ${1:-} == -- ]] && shift
(($(nproc) >= 2)) || { echo "needs two cores" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "== CPU: $(cpu_name), cores 0 and 1," \
    "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}; $("$new" bench --demo-weights --batch 1 --reps 1 --threads 1 "$@" | head -n 1)"
for round in $(seq 1 "$rounds"); do
    if ((round % 2)); then cores=(0 1); else cores=(1 0); fi
    taskset -c "${cores[0]}" "$old" bench --demo-weights --batch "$batch" --threads 1 --reps 5 --json "$@" >"$out/old-$round.json" &
    first=$!
    taskset -c "${cores[1]}" "$new" bench --demo-weights --batch "$batch" --threads 1 --reps 5 --json "$@" >"$out/new-$round.json"
    wait "$first"
done
python3 - "$out" "$rounds" <<'PY'
import json, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
ms = lambda side, r: json.load(open(f"{out}/{side}-{r}.json"))["results"][0]["ms"]
old = [ms("old", r) for r in range(1, rounds + 1)]
new = [ms("new", r) for r in range(1, rounds + 1)]
ratios = [a / b for a, b in zip(old, new)]
print(f"old {statistics.median(old):.1f} ms, new {statistics.median(new):.1f} ms a pass; new/old speed "
      f"{statistics.median(ratios):.3f} (per round {', '.join(f'{x:.2f}' for x in ratios)})")
PY
