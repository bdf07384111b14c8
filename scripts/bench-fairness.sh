#!/usr/bin/env bash
# Fairness between a long job and interactive requests: the p50 of single-clip POST /classify requests (one
# client, back to back) with the server idle, then while a job computes the timeline of a 10-minute 640x360
# H.264 video (made here with ffmpeg, stride = window). Target: loaded p50 at most 1.5x idle. Also prints the
# job's windows per second meanwhile, so a job starved to nothing shows. Bounded: about 2 x SECONDS plus the
# video's encoding (about a minute).
# Usage: scripts/bench-fairness.sh [SECONDS] [VIDEO]   (default 40 s per phase, the committed bikes.mp4)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/cpu.sh
echo "== CPU: $(cpu_name), $(nproc) cores; OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}"
seconds=${1:-40}
video=${2:-Tests/VideoDecodeTests/Fixtures/bikes.mp4}
swift build --build-tests -Xswiftc -O >/dev/null
bin=.build/debug/r2plus1d
work=$(mktemp -d)
server=""
cleanup() {
  [[ -n $server ]] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
field() { python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

echo "== a 10-minute 640x360 H.264 video"
ffmpeg -loglevel error -f lavfi -i testsrc2=size=640x360:rate=30 -t 600 -c:v libx264 -preset ultrafast -b:v 800k \
  -pix_fmt yuv420p "$work/long.mp4"
ls -la "$work/long.mp4" | awk '{print $5 " bytes"}'

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
$bin serve --demo-weights --host 127.0.0.1 --port "$port" --drain-delay-s 0 --max-upload-mb 256 --log-level warning \
  >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 1 300); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break; sleep 0.1; done

echo "== idle: 1 client, ${seconds}s of single-clip /classify"
idle=$(python3 scripts/load.py --port "$port" --video "$video" --concurrency 1 --seconds "$seconds")
echo "$idle"

echo "== the same while a job runs the 10-minute video's timeline"
job=$(curl -s -H 'Content-Type: video/mp4' --data-binary @"$work/long.mp4" "http://127.0.0.1:$port/v1/jobs")
id=$(echo "$job" | field id)
for _ in $(seq 1 600); do
  status=$(curl -s "http://127.0.0.1:$port/v1/jobs/$id")
  [[ $(echo "$status" | field state) == running && $(echo "$status" | field windows_done) -gt 0 ]] && break
  sleep 0.2
done
before=$(echo "$status" | field windows_done)
total=$(echo "$status" | field windows_total)
loaded=$(python3 scripts/load.py --port "$port" --video "$video" --concurrency 1 --seconds "$seconds")
echo "$loaded"
status=$(curl -s "http://127.0.0.1:$port/v1/jobs/$id")
after=$(echo "$status" | field windows_done)
echo "job $(echo "$status" | field state): $after of $total windows ($((after - before)) during the ${seconds}s; its progress is written every second)"
curl -s -X DELETE "http://127.0.0.1:$port/v1/jobs/$id" >/dev/null
python3 - "$idle" "$loaded" <<'PY'
import json, sys
idle, loaded = (json.loads(a)["latency_ms"]["p50"] for a in sys.argv[1:3])
ratio = loaded / idle
print(f"p50 idle {idle} ms, under the job {loaded} ms: {ratio:.2f}x (target at most 1.5x): {'ok' if ratio <= 1.5 else 'OVER'}")
PY
