#!/usr/bin/env bash
# Makes the hostile-media corpus and POSTs it to a live `serve --demo-weights` running under
# `strace -f -e trace=openat,connect` (which follows its decode workers too) and glibc's malloc checker (loopback only; bounded). Fails on a wrong status,
# a missing problem+json body, an unhealthy server (the checker aborts it on a heap overrun, which
# AddressSanitizer cannot see in FFmpeg's assembly), RSS growth over 10%, or any file opened or socket connected
# during the corpus.
set -euo pipefail
cd "$(dirname "$0")/.."
work=${TMPDIR:-/tmp}/r2plus1d-hostile
rm -rf "$work" && mkdir -p "$work"
python3 scripts/hostile_corpus.py make "$work/corpus"  # ffmpeg: about a minute
swift build -c release --product r2plus1d >/dev/null
log=$work/server.log trace=$work/strace.log
malloc_debug=/lib/$(uname -m)-linux-gnu/libc_malloc_debug.so.0
[[ -f $malloc_debug ]] || { echo "no $malloc_debug (glibc 2.34 or later has it)" >&2; exit 1; }
strace -f -qq --seccomp-bpf -e trace=openat,connect -o "$trace" \
  env LD_PRELOAD="$malloc_debug" MALLOC_CHECK_=3 .build/release/r2plus1d serve --demo-weights --host 127.0.0.1 --port 0 --drain-delay-s 0 --log-level warning 2>"$log" &
tracer=$!
pid="" port=""
# Stop the server itself (killing strace would only detach it), then strace ends with it.
trap '[[ -n $pid ]] && kill $pid 2>/dev/null; wait $tracer 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do
  pid=$(pgrep -f -n "^.build/release/r2plus1d serve --demo-weights --host 127.0.0.1 --port 0" || true)
  [[ -n $pid ]] && port=$(ss -ltnp 2>/dev/null | grep "pid=$pid," | grep -o '127.0.0.1:[0-9]*' | head -n1 | cut -d: -f2 || true)
  [[ -n $port ]] && curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
[[ -n $port ]] || { cat "$log"; echo "the server did not start" >&2; exit 1; }
grep -q libc_malloc_debug "/proc/$pid/maps" || { echo "the malloc checker is not loaded in the server" >&2; exit 1; }
python3 scripts/hostile_corpus.py run "$work/corpus" --port "$port" --pid "$pid" --trace "$trace"
