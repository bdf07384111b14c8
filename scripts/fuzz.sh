#!/usr/bin/env bash
# Runs one libFuzzer target for a bounded time.
# Usage: scripts/fuzz.sh TARGET SECONDS     TARGET: http-parser | multipart | decode
# Builds with -sanitize=fuzzer,address into .build-fuzz (lld: gold trips over the sanitizer runtime's DWARF),
# grows a working corpus in .build-fuzz/corpus/TARGET from the committed seeds in fuzz/TARGET/seeds, and writes
# any crashing input to fuzz-artifacts/TARGET/. Exits non-zero if a crash was found. Prints libFuzzer's stats.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?usage: scripts/fuzz.sh TARGET SECONDS}
seconds=${2:?usage: scripts/fuzz.sh TARGET SECONDS}
case $target in
  http-parser) product=FuzzHTTPParser ;;
  multipart) product=FuzzMultipart ;;
  decode) product=FuzzDecode ;;
  *) echo "unknown target $target (http-parser, multipart, decode)" >&2; exit 2 ;;
esac
swift build --scratch-path .build-fuzz -c release -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING \
  --toolset "$PWD/fuzz/toolset.json" --product "$product" >&2
corpus=.build-fuzz/corpus/$target
artifacts=fuzz-artifacts/$target
mkdir -p "$corpus" "$artifacts"
".build-fuzz/release/$product" "$corpus" "fuzz/$target/seeds" -dict="fuzz/$target.dict" \
  -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=${MAX_LEN:-65536} -artifact_prefix="$artifacts/" -print_final_stats=1
