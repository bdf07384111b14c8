#!/usr/bin/env bash
# `serve` in a memory cgroup barely above its idle size, as in a container whose limit is too tight for what it
# is sent: four 4K uploads and three small ones at once. The kernel's out-of-memory killer must pick decode
# workers, never the server: the 4K uploads whose workers it kills get 503 with Retry-After, every other upload
# 200, the server stays ready, and each kill the cgroup counts is a worker restart counted as out_of_memory.
# Needs a writable cgroup v1 memory hierarchy (this project's CI machines have one); skips, and says so, without.
set -euo pipefail
cd "$(dirname "$0")/.."
root=/sys/fs/cgroup/memory
swift build -c release --product r2plus1d >/dev/null
if [[ ! -f $root/memory.limit_in_bytes ]] || ! mkdir "$root/r2plus1d-memory-$$" 2>/dev/null; then
  echo "memory-limit: no writable cgroup v1 memory hierarchy here; skipped"
  exit 0
fi
group=$root/r2plus1d-memory-$$
work=$(mktemp -d)
server=""
cleanup() {
  [[ -n $server ]] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
  for _ in $(seq 1 50); do rmdir "$group" 2>/dev/null && break; sleep 0.1; done
  [[ -d $group ]] && echo "memory-limit: could not remove $group" >&2
  rm -rf "$work"
}
trap cleanup EXIT
# Swap would let the cgroup page out instead of reaching its limit.
echo 0 >"$group/memory.swappiness" 2>/dev/null || true
fail() { echo "memory-limit: $*" >&2; tail -n 5 "$work/serve.log" >&2 || true; exit 1; }

ffmpeg -v error -f lavfi -i testsrc2=size=3840x2160:rate=30 -t 10 -c:v libx264 -preset ultrafast -crf 40 -bf 3 "$work/4k.mp4"
ffmpeg -v error -f lavfi -i testsrc2=size=640x360:rate=30 -t 10 -c:v libx264 -preset ultrafast "$work/small.mp4"

sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$group" \
  .build/release/r2plus1d serve --demo-weights --host 127.0.0.1 --port 0 --drain-delay-s 0 --threads 2 --decode-threads 2 \
  >"$work/serve.log" 2>&1 &
server=$!
port="" ready=""
for _ in $(seq 1 600); do
  port=$(grep -o 'server.port=[0-9]*' "$work/serve.log" | head -n1 | cut -d= -f2 || true)
  [[ -n $port ]] && curl -sf "127.0.0.1:$port/readyz" >/dev/null && ready=1 && break
  sleep 0.1
done
[[ -n $ready ]] || fail "the server was not ready within a minute"
url=127.0.0.1:$port
post() { curl -s -o "$work/$1.json" -D "$work/$1.head" -w "%{http_code}" -F "video=@$work/$2" "$url/v1/classify?clips=$3" || true; }
[[ $(post warm small.mp4 3) == 200 ]] || fail "a small upload failed before the limit"

idle=$(cat "$group/memory.usage_in_bytes")
limit=$((idle + 160 * 1024 * 1024))
echo "$limit" >"$group/memory.limit_in_bytes"
echo "memory-limit: idle $((idle >> 20)) MiB, limit set to $((limit >> 20)) MiB"

pids=()
for i in 1 2 3 4; do (post "big$i" 4k.mp4 10 >"$work/big$i.status") & pids+=($!); done
sleep 0.5
for i in 1 2 3; do (post "small$i" small.mp4 3 >"$work/small$i.status") & pids+=($!); done
wait "${pids[@]}"

statuses() { for f in "$work"/$1?.status; do printf '%s ' "$(cat "$f")"; done; }
big=$(statuses big) small=$(statuses small)
kills=$(sed -n 's/^oom_kill //p' "$group/memory.oom_control")
echo "memory-limit: 4K uploads $big; small uploads $small; processes killed by the kernel $kills"
kill -0 "$server" 2>/dev/null || fail "the server was killed"
[[ ${kills:-0} -ge 1 ]] || fail "the limit did not bite: no process was killed (raise the load or lower the limit)"
for i in 1 2 3 4; do
  case $(cat "$work/big$i.status") in
    200) ;;
    503) grep -qi '^retry-after:' "$work/big$i.head" && grep -q 'ran out of memory' "$work/big$i.json" ||
      fail "a 503 without Retry-After or its reason: $(cat "$work/big$i.json")" ;;
    *) fail "a 4K upload answered $(cat "$work/big$i.status")" ;;
  esac
done
[[ $small == "200 200 200 " ]] || fail "small uploads beside them answered $small"
echo "$((idle + 1024 * 1024 * 1024))" >"$group/memory.limit_in_bytes"
for i in 1 2 3; do [[ $(post "after$i" small.mp4 3) == 200 ]] || fail "an upload after the storm failed"; done
curl -sf "$url/readyz" >/dev/null || fail "the server is not ready after the storm"
# A worker killed while idle is counted when its decoder next hands it an upload: after the uploads above.
counted=$(curl -s "$url/metrics" | sed -n 's/^r2plus1d_decode_worker_restarts_total{reason="out_of_memory"} //p' || true)
[[ $counted == "$kills" ]] || fail "the kernel killed $kills processes, $counted of them counted as decode workers"
echo "memory-limit: the server survived; only the killed workers' uploads failed, with 503; $counted kills counted as out_of_memory"
