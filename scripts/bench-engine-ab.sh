#!/usr/bin/env bash
# Two builds of the engine against each other on this machine: `r2plus1d bench` of each, alternated round by round
# (the order reversed every other round), as the host's speed drifts within minutes.
# Usage: scripts/bench-engine-ab.sh OLD_BINARY NEW_BINARY [ROUNDS] [BATCHES] [-- extra bench options]
#   e.g. scripts/bench-engine-ab.sh /tmp/r2plus1d-before .build/release/r2plus1d 6 1,4
# Prints each round's clips/s and, per batch size, the medians and the median of the per-round ratios new/old, then
# the same ratio for each round's fastest pass (other work on a shared host only adds time, so on a noisy host that
# one is the steadier); against a build from before bench reported its fastest pass, the clips/s ratio only.
set -euo pipefail
source "$(dirname "$0")/lib/cpu.sh"
old=$1 new=$2 rounds=${3:-6} batches=${4:-1,4}
shift $(($# < 4 ? $# : 4))
[[ ${1:-} == -- ]] && shift
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "== CPU: $(cpu_name), $(nproc) cores," \
    "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}; $("$new" bench --demo-weights --batch 1 --reps 1 "$@" | head -n 1)"
for round in $(seq 1 "$rounds"); do
    if ((round % 2)); then order="old new"; else order="new old"; fi
    for side in $order; do
        binary=$old
        [[ $side == new ]] && binary=$new
        "$binary" bench --demo-weights --batch "$batches" --reps 3 --json "$@" >"$out/$side-$round.json"
    done
done
python3 - "$out" "$rounds" <<'PY'
import json, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
load = lambda side, r, key="clips_per_second": {x["batch"]: x.get(key) for x in json.load(open(f"{out}/{side}-{r}.json"))["results"]}
old = [load("old", r) for r in range(1, rounds + 1)]
new = [load("new", r) for r in range(1, rounds + 1)]
fastest = lambda side: [load(side, r, "fastest_ms") for r in range(1, rounds + 1)]
for batch in old[0]:
    o = [x[batch] for x in old]; n = [x[batch] for x in new]
    ratios = [b / a for a, b in zip(o, n)]
    print(f"batch {batch}: old {statistics.median(o):.2f} clips/s ({', '.join(f'{x:.2f}' for x in o)}), "
          f"new {statistics.median(n):.2f} ({', '.join(f'{x:.2f}' for x in n)}); "
          f"new/old {statistics.median(ratios):.3f} (per round {', '.join(f'{x:.2f}' for x in ratios)})")
    o, n = [x[batch] for x in fastest("old")], [x[batch] for x in fastest("new")]
    if None in o + n:
        continue  # a build from before bench reported its fastest pass
    print(f"batch {batch}, fastest passes: old {min(o):.1f} ms, new {min(n):.1f} ms; new/old speed "
          f"{min(o) / min(n):.3f} (per round {', '.join(f'{a / b:.2f}' for a, b in zip(o, n))})")
PY
