#!/usr/bin/env bash
# The service under load against the engine's own best throughput, in one run (loopback only, bounded).
# Usage: scripts/bench-service.sh [SECONDS] [VIDEO]   (default 60 s per load phase, the committed bikes.mp4)
#   SERVE_ARGS="--workers 2 --threads 1" adds options to serve.
#   1. r2plus1d bench: best clips/s over batch 1,4,8, and batch-1 forward ms;  bench-decode: decode ms
#   2. serve --demo-weights with the default settings
#   3. 1 client for SECONDS: p50 latency against decode + one batch-1 forward
#   4. 8 clients for SECONDS: clips/s against the bench's best; the peak RSS of the server and of its decode workers
#   5. wrk, 64 keep-alive connections on GET /healthz for 10 s
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/cpu.sh
echo "== CPU: $(cpu_name), $(nproc) cores; OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}"
seconds=${1:-60}
video=${2:-Tests/VideoDecodeTests/Fixtures/bikes.mp4}
swift build -c release --product r2plus1d >/dev/null
bin=.build/release/r2plus1d
echo "== engine: $bin bench --demo-weights --batch 1,4,8"
$bin bench --demo-weights --batch 1,4,8 --reps 3
echo "== decode: $bin bench-decode $video"
$bin bench-decode "$video" --reps 10
source scripts/lib/server.sh
log=$(mktemp)
# shellcheck disable=SC2086
start_demo_server "$log" ${SERVE_ARGS:-}
server=$SERVER_PID port=$PORT
echo "== service on port $port: 1 client, ${seconds}s"
python3 scripts/load.py --port "$port" --video "$video" --concurrency 1 --seconds "$seconds" --pid $server
echo "== service: 8 clients, ${seconds}s"
python3 scripts/load.py --port "$port" --video "$video" --concurrency 8 --seconds "$seconds" --pid $server --children
if command -v wrk >/dev/null; then
  echo "== wrk -t2 -c64 -d10s --latency GET /healthz"
  wrk -t2 -c64 -d10s --latency "http://127.0.0.1:$port/healthz"
else
  echo "== wrk skipped: not installed (apt-get install wrk)"
fi
kill -TERM $server
wait $server
