#!/usr/bin/env bash
# Builds everything and runs the whole test suite, then the decode tests again under glibc's malloc checker.
set -euo pipefail
cd "$(dirname "$0")/.."
# -O for every module: the tests run the full network, far too slow unoptimised. Still the debug configuration, so
# .build/debug holds the executable ShutdownTests starts and .build/release only the shipped build. Any other debug
# build of this checkout must pass the same flags, or it recompiles every module.
flags=(-Xswiftc -O)
swift build --build-tests "${flags[@]}"
# Serial: live-server tests block a thread each while the servers' handlers need the 2-core cooperative pool.
swift test --skip-build --no-parallel "${flags[@]}"
# FFmpeg's assembly is not instrumented, so AddressSanitizer cannot see swscale write past a buffer; the checker
# sees it when the block is freed (it caught the 426x240 RGB overrun). GeometryMatrixTests.mallocCheckerIsActive
# fails this run if the checker is not really on in the test process.
malloc_debug=/lib/$(uname -m)-linux-gnu/libc_malloc_debug.so.0
[[ -f $malloc_debug ]] || { echo "no $malloc_debug (glibc 2.34 or later has it)" >&2; exit 1; }
LD_PRELOAD=$malloc_debug MALLOC_CHECK_=3 swift test --skip-build --no-parallel --filter VideoDecodeTests "${flags[@]}"
