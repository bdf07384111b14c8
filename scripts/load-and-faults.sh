#!/usr/bin/env bash
# Load and fault runs (scripts/load_faults.py) against demo-weight servers on loopback.
# Usage: scripts/load-and-faults.sh [SECONDS]   (mixed-load duration; default 300)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-300}
work=${TMPDIR:-/tmp}/r2plus1d-load
[[ -f $work/corpus/manifest.json ]] || python3 scripts/hostile_corpus.py make "$work/corpus"
swift build -c release --product r2plus1d >/dev/null
ulimit -n 4096
python3 scripts/load_faults.py --binary .build/release/r2plus1d --corpus "$work/corpus" --seconds "$seconds"
