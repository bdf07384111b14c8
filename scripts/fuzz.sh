#!/usr/bin/env bash
# Runs one libFuzzer target (sources in fuzz/Sources/, seeds and dictionaries beside them) for a bounded time.
# Usage: scripts/fuzz.sh TARGET SECONDS     TARGET: http-parser | multipart | decode | decode-malloc-check | checkpoint
# Builds with -sanitize=fuzzer,address into .build-fuzz (lld: gold trips over the sanitizer runtime's DWARF),
# grows a working corpus in .build-fuzz/corpus/TARGET from the committed seeds in fuzz/TARGET/seeds, and writes
# any crashing input to fuzz-artifacts/TARGET/. Exits non-zero if a crash was found. Prints libFuzzer's stats.
# decode-malloc-check is the decode target built without AddressSanitizer (into .build-fuzz-malloc) and run under
# glibc's malloc checker: FFmpeg's assembly is not instrumented, so AddressSanitizer cannot see it write past a
# buffer, and its allocator replaces the one the checker guards; the checker catches such a write when the block is
# freed. It shares the decode corpus.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?usage: scripts/fuzz.sh TARGET SECONDS}
seconds=${2:?usage: scripts/fuzz.sh TARGET SECONDS}
scratch=.build-fuzz sanitizers=fuzzer,address corpus_name=$target run=()
case $target in
  http-parser) product=FuzzHTTPParser ;;
  multipart) product=FuzzMultipart ;;
  decode) product=FuzzDecode ;;
  checkpoint) product=FuzzCheckpoint ;;
  decode-malloc-check)
    product=FuzzDecode scratch=.build-fuzz-malloc sanitizers=fuzzer corpus_name=decode
    malloc_debug=/lib/$(uname -m)-linux-gnu/libc_malloc_debug.so.0
    [[ -f $malloc_debug ]] || { echo "no $malloc_debug (glibc 2.34 or later has it)" >&2; exit 2; }
    run=(env LD_PRELOAD="$malloc_debug" MALLOC_CHECK_=3) ;;
  *) echo "unknown target $target (http-parser, multipart, decode, decode-malloc-check, checkpoint)" >&2; exit 2 ;;
esac
swift build --scratch-path "$scratch" -c release -Xswiftc -sanitize="$sanitizers" -Xswiftc -DFUZZING \
  --toolset "$PWD/fuzz/toolset.json" --product "$product" >&2
corpus=.build-fuzz/corpus/$corpus_name
artifacts=fuzz-artifacts/$target
mkdir -p "$corpus" "$artifacts"
"${run[@]}" "$scratch/release/$product" "$corpus" "fuzz/$corpus_name/seeds" -dict="fuzz/$corpus_name.dict" \
  -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=${MAX_LEN:-65536} -artifact_prefix="$artifacts/" -print_final_stats=1
