#!/usr/bin/env bash
# Builds everything and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build --build-tests
# Serial: live-server tests block a thread each while the servers' handlers need the 2-core cooperative pool.
swift test --skip-build --no-parallel
