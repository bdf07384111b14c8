#!/usr/bin/env bash
# The whole test suite under a sanitizer: address (ASan + LeakSanitizer) or thread (TSan).
# Usage: scripts/sanitizers.sh address|thread   Builds into .build-SANITIZER (lld, as for the fuzzers).
set -euo pipefail
cd "$(dirname "$0")/.."
sanitizer=${1:?usage: scripts/sanitizers.sh address|thread}
scratch=.build-$sanitizer
# -O as in scripts/test.sh: the tests run the full network, and instrumented -Onone kernels take far too long.
flags=(--scratch-path "$scratch" --sanitize="$sanitizer" --toolset "$PWD/fuzz/toolset.json" -Xswiftc -O)
swift build --build-tests "${flags[@]}"
# FFmpeg, OpenBLAS and OpenSSL are not instrumented; leaks inside them at exit are theirs to own.
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} LSAN_OPTIONS=suppressions=$PWD/scripts/lsan.supp swift test --skip-build --no-parallel "${flags[@]}"
