#!/usr/bin/env bash
# What decoding in sandboxed workers costs against decoding in the server's own process, in one run:
#   1. bench-decode --sandboxed: the same upload decoded in-process and through a worker, alternated call by call
#   2. two servers (serve --demo-weights, and the same with --decode-in-process), each loaded in turn for ROUNDS
#      rounds of SECONDS with 1 client and then 8 clients; medians of p50 latency and clips/s per side, and the
#      peak RSS of each side (the worker side counts the server plus its workers).
# Usage: scripts/bench-decode-isolation.sh [SECONDS] [ROUNDS] [VIDEO]   (default 20 s, 3 rounds, bikes.mp4)
set -euo pipefail
source "$(dirname "$0")/lib/cpu.sh"
cd "$(dirname "$0")/.."
seconds=${1:-20} rounds=${2:-3}
video=${3:-Tests/VideoDecodeTests/Fixtures/bikes.mp4}
swift build -c release --product r2plus1d >/dev/null
bin=.build/release/r2plus1d
echo "== CPU: $(cpu_name), $(nproc) cores; OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}"
for clips in 1 4; do $bin bench-decode "$video" --clips "$clips" --reps 31 --sandboxed; done
source scripts/lib/server.sh
work=$(mktemp -d)
start_demo_server "$work/workers.log"
workers_pid=$SERVER_PID workers_port=$PORT
start_demo_server "$work/inprocess.log" --decode-in-process
inprocess_pid=$SERVER_PID inprocess_port=$PORT
trap 'kill $workers_pid $inprocess_pid 2>/dev/null || true' EXIT
for round in $(seq 1 "$rounds"); do
  for concurrency in 1 8; do
    for side in workers inprocess; do
      port_var=${side}_port pid_var=${side}_pid
      result=$(python3 scripts/load.py --port "${!port_var}" --video "$video" --concurrency "$concurrency" \
        --seconds "$seconds" --pid "${!pid_var}" --children)
      echo "{\"round\": $round, \"side\": \"$side\", \"result\": $result}" | tee -a "$work/results.jsonl"
    done
  done
done
python3 - "$work/results.jsonl" <<'PY'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
def med(side, c, key):
    values = [r["result"][key] if key != "p50" else r["result"]["latency_ms"]["p50"]
              for r in rows if r["side"] == side and r["result"]["concurrency"] == c]
    return statistics.median(values)
for c in (1, 8):
    w, i = med("workers", c, "p50"), med("inprocess", c, "p50")
    cw, ci = med("workers", c, "clips_per_second"), med("inprocess", c, "clips_per_second")
    print(f"{c} client(s): p50 workers {w:.1f} ms, in-process {i:.1f} ms ({w - i:+.1f} ms); "
          f"clips/s workers {cw:.3f}, in-process {ci:.3f} ({cw / ci:.3f}x)")
peak = lambda side: max(r["result"].get("service_peak_rss_mb", 0) for r in rows if r["side"] == side)
print(f"peak RSS: workers side {peak('workers'):.1f} MB (server + workers), in-process side {peak('inprocess'):.1f} MB")
errors = sum(r["result"]["errors"] + sum(n for s, n in r["result"]["statuses"].items() if s != "200") for r in rows)
print(f"errors and non-200 answers: {errors}")
PY
