#!/usr/bin/env bash
# The HTTP attack cases (smuggling, floods, oversize, slow and stuck clients, the connection cap) against a live
# `serve --demo-weights` on loopback, and a server under an open-file limit (scripts/http_attacks.py). About a
# minute.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product r2plus1d >/dev/null
ulimit -n 4096
python3 scripts/http_attacks.py --binary .build/release/r2plus1d
