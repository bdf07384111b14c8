#!/usr/bin/env bash
# The page in a real browser: Debian's chromium, headless, driven through /usr/bin/chromedriver by Selenium (from
# PyPI, in a venv). Starts `r2plus1d serve --demo-weights --max-upload-mb 1 --queue-size 4` on a free loopback
# port, uploads a fixture clip and checks the page shows /classify's top label, that an oversized file is refused
# before upload, the demo banner, errors in plain words (415, 503), the webcam recorder (Chromium's fake camera),
# the timeline (live when the server has one, else against the NDJSON contract through a loopback proxy), the
# page's transfer size, and that the browser logged no errors. Screenshots at 1920 and 360 px wide, light and dark,
# go to .build/browser-artifacts/. Then the page over HTTPS, cross-origin calls from pages on other origins
# (scripts/browser_cors.py), and `serve --no-ui` answers 404 at /.
# Usage: scripts/browser-test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.build/browser-venv
artifacts=.build/browser-artifacts
if ! "$venv/bin/python" -c 'import selenium, PIL' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
  "$venv/bin/pip" install -q selenium pillow
fi
# The configuration scripts/test.sh builds, so CI compiles nothing again.
swift build -Xswiftc -O --product r2plus1d >/dev/null
bin=$PWD/.build/debug/r2plus1d
mkdir -p "$artifacts"
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# start SCHEME LOG ARGS...: a demo server on a free loopback port; sets PORT once /readyz answers 200.
start() {
  local scheme=$1 log=$2
  shift 2
  "$bin" serve --demo-weights --host 127.0.0.1 --port 0 --drain-delay-s 0 "$@" >"$log" 2>&1 &
  pids+=($!)
  PORT=""
  for _ in $(seq 1 600); do
    PORT=$(grep -o 'server.port=[0-9]*' "$log" | head -n1 | cut -d= -f2 || true)
    [[ -n $PORT ]] && curl -fsk "$scheme://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  cat "$log" >&2
  echo "the server did not start" >&2
  return 1
}

stop_last() {
  kill "${pids[-1]}"
  wait "${pids[-1]}" || true
}
clip=Tests/VideoDecodeTests/Fixtures/bikes.mp4

start http "$work/serve.log" --max-upload-mb 1 --queue-size 4
"$venv/bin/python" scripts/browser_test.py --url "http://127.0.0.1:$PORT/" --artifacts "$artifacts" \
  --clip "$clip" --work "$work" --bin "$bin"
stop_last

# Over TLS (a self-signed certificate): the relative URLs hold, and the page is a secure context for the webcam.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/key.pem" -out "$work/cert.pem" -days 1 -subj /CN=127.0.0.1 \
  2>/dev/null
start https "$work/tls.log" --tls-cert "$work/cert.pem" --tls-key "$work/key.pem"
"$venv/bin/python" scripts/browser_test.py --url "https://127.0.0.1:$PORT/" --artifacts "$artifacts" \
  --clip "$clip" --work "$work" --bin "$bin" --tls
stop_last

# Pages on other origins (CORS): a listed origin's page uploads with a bearer token and reads the answers, an
# unlisted one is refused; without --cors-origins every cross-origin call is refused.
echo browser-test-token >"$work/tokens"
page_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
start http "$work/cors.log" --auth-token-file "$work/tokens" --cors-origins "http://127.0.0.1:$page_port" --max-upload-mb 1
"$venv/bin/python" scripts/browser_cors.py --service "http://127.0.0.1:$PORT" --token browser-test-token --clip "$clip" \
  --page-port "$page_port"
stop_last
start http "$work/no-cors.log" --auth-token-file "$work/tokens" --max-upload-mb 1
"$venv/bin/python" scripts/browser_cors.py --service "http://127.0.0.1:$PORT" --token browser-test-token --clip "$clip" \
  --page-port "$page_port" --expect-refused
stop_last

start http "$work/no-ui.log" --no-ui
status=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/")
[[ $status == 404 ]] || { echo "serve --no-ui: GET / answered $status, not 404" >&2; exit 1; }
echo "serve --no-ui: GET / 404"
