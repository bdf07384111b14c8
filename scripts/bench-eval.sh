#!/usr/bin/env bash
# `r2plus1d eval` against `serve` under load, on the same video, clips and demo weights, alternated rounds.
# Usage: scripts/bench-eval.sh [ROUNDS] [SECONDS] [VIDEO] [CLIPS]   (default 2 rounds, 30 s, bikes.mp4, 1 clip)
#   serve: 8 clients of scripts/load.py for SECONDS, clips/s as load.py counts them (answered requests x clips);
#   eval: a Kinetics-layout folder of links to VIDEO, sized to take about SECONDS at serve's last rate; clips/s
#   from its --json report (its own wall time, start-up excluded). Both with their default settings.
#   R2PLUS1D_BIN=path uses that executable instead of building the release one.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/cpu.sh
echo "== CPU: $(cpu_name), $(nproc) cores; OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}"
rounds=${1:-2}
seconds=${2:-30}
video=$(realpath "${3:-Tests/VideoDecodeTests/Fixtures/bikes.mp4}")
clips=${4:-1}
bin=${R2PLUS1D_BIN:-}
if [[ -z $bin ]]; then
  swift build -c release --product r2plus1d >/dev/null
  bin=.build/release/r2plus1d
fi
work=$(mktemp -d)
server=""
trap '[[ -n $server ]] && kill $server 2>/dev/null; rm -rf "$work"' EXIT
lscpu | grep -E '^(Model name|CPU\(s\)):' | sed 's/  */ /g'
echo "executable $bin, video $video, $clips clip(s) per video"
for round in $(seq 1 "$rounds"); do
  "$bin" serve --demo-weights --host 127.0.0.1 --port 0 --drain-delay-s 0 >"$work/serve.log" 2>&1 &
  server=$!
  port=""
  for _ in $(seq 1 600); do
    port=$(grep -o 'server.port=[0-9]*' "$work/serve.log" | head -n1 | cut -d= -f2 || true)
    [[ -n $port ]] && curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
    sleep 0.1
  done
  serve_rate=$(python3 scripts/load.py --port "$port" --video "$video" --concurrency 8 --seconds "$seconds" --clips "$clips" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["clips_per_second"])')
  kill -TERM $server
  wait $server || true
  server=""
  videos=$(python3 -c "import math; print(max(16, math.ceil($serve_rate * $seconds / $clips)))")
  rm -rf "$work/data"
  mkdir -p "$work/data/abseiling"
  for i in $(seq 1 "$videos"); do ln -s "$video" "$work/data/abseiling/v$i.mp4"; done
  "$bin" eval "$work/data" --demo-weights --clips "$clips" --json "$work/eval.json" >/dev/null 2>"$work/eval.log"
  eval_rate=$(python3 -c "import json; print(round(json.load(open('$work/eval.json'))['clips_per_second'], 3))")
  python3 -c "print(f'round $round: serve (8 clients) $serve_rate clips/s, eval ($videos videos) $eval_rate clips/s, eval/serve {$eval_rate / $serve_rate:.3f}')"
done
