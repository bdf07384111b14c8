#!/usr/bin/env bash
# The decode stage against torchcodec (+ torchvision's preset) and PyAV, in one run, on 10 s H.264 clips
# (GOP 60, B-frames) at 1920x1080 and 640x360 made from ../shared/clips/bigbuckbunny.mp4.
# Usage: scripts/bench-decode.sh [REPS]   Needs ffmpeg, the reference venv (scripts/make-reference-venv.sh) and
# decode_bench.py from ../shared/tools (or $REFERENCE_TOOLS).
set -euo pipefail
cd "$(dirname "$0")/.."
reps=${1:-5}
source scripts/lib/reference-venv.sh
require_reference_venv
tools=${REFERENCE_TOOLS:-../shared/tools}
work=${TMPDIR:-/tmp}/r2plus1d-bench-decode
mkdir -p "$work"
for size in 1920x1080 640x360; do
  out="$work/bbb_$size.mp4"
  [[ -f $out ]] || ffmpeg -v error -y -stream_loop 1 -i "$tools/../clips/bigbuckbunny.mp4" -t 10 -an \
    -vf "scale=${size/x/:},fps=30" -c:v libx264 -preset medium -g 60 -bf 2 -pix_fmt yuv420p "$out"
done
swift build -c release --product r2plus1d >/dev/null
for clips in 1 5; do
  for size in 1920x1080 640x360; do
    video="$work/bbb_$size.mp4"
    echo "== $size, $clips clip(s)"
    .build/release/r2plus1d bench-decode "$video" --clips "$clips" --reps "$reps" --threads 0
    "$python" "$tools/decode_bench.py" "$video" --clips "$clips" --reps "$reps"
  done
done
