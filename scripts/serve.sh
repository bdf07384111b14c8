#!/usr/bin/env bash
# Sets up a fresh Debian/Ubuntu machine (system packages, release build) and starts the service on port 8080
# (R2PLUS1D_PORT to change it): with the weights in weights/ if there are any, else with demo weights.
# Extra arguments go to `r2plus1d serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-packages.sh
swift build -c release --product r2plus1d
shopt -s nullglob
weights=(weights/*.pth weights/*.safetensors weights/*.ckpt)
if ((${#weights[@]} == 0)); then
  echo "no weights in weights/: serving demo weights (scripts/fetch-weights.sh gets the real ones)" >&2
  exec .build/release/r2plus1d serve --demo-weights "$@"
fi
exec .build/release/r2plus1d serve "$@"
