#!/usr/bin/env bash
# Jobs across replicas: a redis-server of its own and two `serve --jobs-store redis://...` processes on loopback.
# A job submitted on one pod is polled to done on the other; an Idempotency-Key names the same job on both; a
# cancel on one pod stops the job running on the other; a pod killed with SIGKILL mid-job leaves its job
# reading failed once the lease (2 s here) expires. Bounded: about a minute.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v redis-server >/dev/null || { echo "redis-server is not installed (apt-get install redis-server)" >&2; exit 1; }
swift build --build-tests -Xswiftc -O >/dev/null
bin=.build/debug/r2plus1d
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; for f in "$work"/*.log; do echo "== $f" >&2; tail -n 20 "$f" >&2; done; exit 1; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
field() { python3 -c 'import json, sys; v = json.load(sys.stdin); print(v.get(sys.argv[1]) if isinstance(v.get(sys.argv[1]), (str, int, float, bool)) else json.dumps(v.get(sys.argv[1])))' "$1"; }

redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no >"$work/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$redis_port") 2>/dev/null && break; sleep 0.05; done

start_pod() {  # NAME -> sets POD_PORT, POD_PID
  local log="$work/$1.log"
  POD_PORT=$(free_port)
  $bin serve --demo-weights --host 127.0.0.1 --port "$POD_PORT" --drain-delay-s 0 --threads 1 --decode-threads 1 \
    --jobs-store "redis://127.0.0.1:$redis_port" --job-lease-s 2 --log-level warning >"$log" 2>&1 &
  POD_PID=$!
  pids+=($POD_PID)
  for _ in $(seq 1 300); do
    curl -fs "http://127.0.0.1:$POD_PORT/readyz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  fail "pod $1 did not start"
}
start_pod a; port_a=$POD_PORT pid_a=$POD_PID
start_pod b; port_b=$POD_PORT
echo "pods on $port_a (pid $pid_a) and $port_b, redis on $redis_port"

ffmpeg -loglevel error -f lavfi -i testsrc2=size=320x240:rate=30 -t 4 -c:v libx264 -preset ultrafast -pix_fmt yuv420p "$work/v.mp4"
submit() {  # PORT QUERY [HEADER] -> the response body; the status in $work/status
  curl -s -o "$work/body" -w '%{http_code}' -H 'Content-Type: video/mp4' ${3:+-H "$3"} --data-binary @"$work/v.mp4" \
    "http://127.0.0.1:$1/v1/jobs$2" >"$work/status"
  cat "$work/body"
}
job() { curl -s "http://127.0.0.1:$1/v1/jobs/$2"; }
wait_state() {  # PORT ID STATE SECONDS
  local deadline=$((SECONDS + $4)) state
  while ((SECONDS < deadline)); do
    state=$(job "$1" "$2" | field state)
    [[ $state == "$3" ]] && return 0
    sleep 0.2
  done
  fail "job $2 on port $1 is $state, not $3, after $4 s"
}

echo "== submitted on a, done on b; the same Idempotency-Key names the same job on both"
first=$(submit "$port_a" "" "Idempotency-Key: ci-1")
[[ $(cat "$work/status") == 202 ]] || fail "POST on a: $(cat "$work/status") $first"
id=$(echo "$first" | field id)
again=$(submit "$port_b" "" "Idempotency-Key: ci-1")
[[ $(echo "$again" | field id) == "$id" ]] || fail "the key gave another job on b: $again"
wait_state "$port_b" "$id" done 60
done_json=$(job "$port_b" "$id")
total=$(echo "$done_json" | field windows_total)
windows=$(echo "$done_json" | python3 -c 'import json, sys; print(len(json.load(sys.stdin)["result"]["timeline"]))')
[[ $total -ge 3 && $windows == "$total" && $(echo "$done_json" | field progress) =~ ^1(\.0)?$ ]] || fail "done job: $done_json"
echo "ok: job $id done on b with $windows windows"
[[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port_b/v1/jobs/AAAAAAAAAAAAAAAAAAAAAAAA") == 404 ]] || fail "unknown id not 404"

echo "== a job running on a, cancelled on b"
id=$(submit "$port_a" "?stride_s=0.1&window_s=0.2" | field id)
wait_state "$port_b" "$id" running 30
[[ $(curl -s -o /dev/null -w '%{http_code}' -X DELETE "http://127.0.0.1:$port_b/v1/jobs/$id") == 202 ]] || fail "DELETE on b"
wait_state "$port_b" "$id" cancelled 10
echo "ok: job $id cancelled at $(job "$port_a" "$id" | field windows_done) of $(job "$port_a" "$id" | field windows_total) windows"

echo "== a killed with SIGKILL mid-job: b reads the job failed once its lease expires"
id=$(submit "$port_a" "?stride_s=0.1&window_s=0.2" | field id)
wait_state "$port_b" "$id" running 30
kill -9 "$pid_a"
wait "$pid_a" 2>/dev/null || true
killed=$SECONDS
[[ $(job "$port_b" "$id" | field state) == running ]] || fail "failed before the lease expired"
wait_state "$port_b" "$id" failed 10
echo "ok: job $id read failed on b $((SECONDS - killed)) s after the kill: $(job "$port_b" "$id" | field error)"
# Its place is free again: b takes a new job.
submit "$port_b" "" >/dev/null
[[ $(cat "$work/status") == 202 ]] || fail "b refused a new job after a's died"
echo "jobs-redis: all passed"
