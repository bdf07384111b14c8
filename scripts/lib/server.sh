# Sourced by scripts that need a live demo server. start_demo_server LOG [SERVE ARGS...] starts
# `.build/release/r2plus1d serve --demo-weights` on a free loopback port, waits until /readyz answers 200,
# and sets SERVER_PID and PORT (the server logs its port at info level). Stops it on exit.
start_demo_server() {
  local log=$1
  shift
  .build/release/r2plus1d serve --demo-weights --host 127.0.0.1 --port 0 --drain-delay-s 0 "$@" >"$log" 2>&1 &
  SERVER_PID=$!
  trap 'kill $SERVER_PID 2>/dev/null || true' EXIT
  PORT=""
  for _ in $(seq 1 300); do
    PORT=$(grep -o 'server.port=[0-9]*' "$log" | head -n1 | cut -d= -f2 || true)
    [[ -n $PORT ]] && curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  cat "$log" >&2
  echo "the server did not start" >&2
  return 1
}
