#!/usr/bin/env bash
# The KServe v2 and v1 routes driven by tritonclient[http] and the KServe SDK (scripts/kserve_clients.py, pytest),
# and /classify by requests, httpx and aiohttp as they usually upload (scripts/http_clients.py; the SDK brings them)
# against a live `serve --demo-weights --auth-token-file` on loopback (every call passes the bearer token through
# the clients' headers=; one test rotates it with SIGHUP). First it checks deploy/kserve-inferenceservice.yaml
# against the KServe SDK's InferenceService models. The clients live in their own venv. About a minute.
# R2PLUS1D_BINARY picks the executable (default: a release build).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.build-venv-kserve
if ! "$venv/bin/python" -c 'import tritonclient.http, kserve, pytest' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
  "$venv/bin/pip" install -q 'tritonclient[http]==2.73.0' 'kserve==0.21.0' 'pytest==9.2.0'
fi
"$venv/bin/python" scripts/validate_inferenceservice.py deploy/kserve-inferenceservice.yaml
binary=${R2PLUS1D_BINARY:-}
if [[ -z $binary ]]; then
  swift build -c release --product r2plus1d >/dev/null
  binary=.build/release/r2plus1d
fi
work=$(mktemp -d)
log=$work/server.log
ffmpeg -y -loglevel error -nostdin -f lavfi -i testsrc2=size=320x240:rate=25 -t 2 -c:v libx264 -pix_fmt yuv420p \
  "$work/clip.mp4"
"$binary" preprocess "$work/clip.mp4" --clips 2 -o "$work/clips.safetensors"
head -c 24 /dev/urandom | base64 | tr '+/' '-_' >"$work/tokens"
"$binary" serve --demo-weights --host 127.0.0.1 --port 0 --drain-delay-s 0 --max-clips 4 --auth-token-file "$work/tokens" \
  "$@" >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$work"' EXIT
port=""
for _ in $(seq 1 600); do
  port=$(grep -o 'server.port=[0-9]*' "$log" | head -n1 | cut -d= -f2 || true)
  [[ -n $port ]] && curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  port=""
  sleep 0.1
done
[[ -n $port ]] || { cat "$log" >&2; echo "the server did not start" >&2; exit 1; }
KSERVE_TEST_PORT=$port KSERVE_TEST_VIDEO=$work/clip.mp4 KSERVE_TEST_CLIPS=$work/clips.safetensors \
  KSERVE_TEST_TOKEN_FILE=$work/tokens KSERVE_TEST_PID=$pid \
  "$venv/bin/python" -m pytest -q -p no:cacheprovider scripts/kserve_clients.py scripts/http_clients.py
