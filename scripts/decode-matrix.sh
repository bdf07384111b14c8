#!/usr/bin/env bash
# The decode matrix through the served API: makes every clip of Tests/VideoDecodeTests/Fixtures/geometry/matrix.txt
# (the list GeometryMatrixTests decodes in-process), starts `r2plus1d serve --demo-weights` on a loopback port under
# glibc's malloc checker (which aborts the server on a heap overrun by FFmpeg's assembly, invisible to
# AddressSanitizer; its decode workers inherit it), POSTs each clip to /v1/classify, and fails unless every answer is 200, /healthz still answers
# 200 at the end and the server then shuts down cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."
matrix=Tests/VideoDecodeTests/Fixtures/geometry/matrix.txt
work=${TMPDIR:-/tmp}/r2plus1d-decode-matrix
rm -rf "$work" && mkdir -p "$work/clips"
malloc_debug=/lib/$(uname -m)-linux-gnu/libc_malloc_debug.so.0
[[ -f $malloc_debug ]] || { echo "no $malloc_debug (glibc 2.34 or later has it)" >&2; exit 1; }

names=()
while read -r name probe arguments; do
  [[ -z $name || $name == \#* ]] && continue
  read -ra arguments <<<"$arguments"  # split on spaces, no globbing: the filters hold '*'
  SVT_LOG=1 ffmpeg -y -loglevel error -nostdin "${arguments[@]}" "$work/clips/$name"  # SVT_LOG: SVT-AV1 errors only
  names+=("$name")
done <"$matrix"
echo "${#names[@]} clips from $matrix"

swift build -c release --product r2plus1d >/dev/null
source scripts/lib/server.sh
log=$work/server.log
LD_PRELOAD=$malloc_debug MALLOC_CHECK_=3 start_demo_server "$log"
server=$SERVER_PID port=$PORT
grep -q libc_malloc_debug "/proc/$server/maps" || { echo "the malloc checker is not loaded in the server" >&2; exit 1; }
# The uploads are decoded in the server's worker processes, which inherit the checker.
workers=$(pgrep -P "$server" -f decode-worker || true)
[[ -n $workers ]] || { echo "the server runs no decode workers" >&2; exit 1; }
for worker in $workers; do
  grep -q libc_malloc_debug "/proc/$worker/maps" || { echo "the malloc checker is not loaded in worker $worker" >&2; exit 1; }
done

failures=0
for name in "${names[@]}"; do
  rm -f "$work/answer.json"
  status=$(curl -s -o "$work/answer.json" -w '%{http_code}' --max-time 120 -H 'Content-Type: application/octet-stream' \
    --data-binary "@$work/clips/$name" "http://127.0.0.1:$port/v1/classify?top_k=1" || true)
  if [[ $status != 200 ]]; then
    echo "$name: HTTP $status $(head -c 300 "$work/answer.json" 2>/dev/null || echo '(no answer)')" >&2
    failures=$((failures + 1))
    kill -0 "$server" 2>/dev/null || break
  fi
done
if ! curl -fs --max-time 10 "http://127.0.0.1:$port/healthz" >/dev/null; then
  echo "the server is gone after the matrix (full log: $log):" >&2
  grep -E -m 6 'malloc|free\(\)|corrupt|crashed' "$log" >&2 || tail -n 20 "$log" >&2
  exit 1
fi
restarts=$(curl -fs "http://127.0.0.1:$port/metrics" | grep '^r2plus1d_decode_worker_restarts_total' || true)
[[ -z $restarts ]] || { echo "decode workers died on the matrix: $restarts" >&2; failures=$((failures + 1)); }
kill -TERM "$server"
code=0
wait "$server" || code=$?
((code == 0)) || { echo "the server exited $code on SIGTERM:" >&2; tail -n 20 "$log" >&2; exit 1; }
((failures == 0)) || { echo "$failures of ${#names[@]} clips were not classified" >&2; exit 1; }
echo "all ${#names[@]} clips classified (200) under the malloc checker; server healthy, exited 0"
