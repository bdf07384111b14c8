#!/usr/bin/env bash
# The decode stage against torchcodec (+ torchvision's preset), in alternated rounds, on 10 s clips made from
# ../shared/clips/bigbuckbunny.mp4: H.264 (GOP 60, B-frames) in MP4 at 1920x1080 and 640x360, the same 640x360
# stream remuxed to Matroska, and VP9 in WebM at 640x360 (libvpx's good quality, as downloads are). Each round
# runs both sides on every case, the order reversed every other round; the summary gives each side's median and
# the per-round ratios (ours / torchcodec, lower is faster).
# Usage: scripts/bench-decode.sh [REPS] [ROUNDS]   Needs ffmpeg, the reference venv (scripts/make-reference-venv.sh)
# and decode_bench.py from ../shared/tools (or $REFERENCE_TOOLS).
set -euo pipefail
source "$(dirname "$0")/lib/cpu.sh"
cd "$(dirname "$0")/.."
reps=${1:-5}
rounds=${2:-1}
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
[[ -f $work/bbb_640x360.mkv ]] || ffmpeg -v error -y -i "$work/bbb_640x360.mp4" -c copy "$work/bbb_640x360.mkv"
[[ -f $work/bbb_640x360_vp9.webm ]] || ffmpeg -v error -y -stream_loop 1 -i "$tools/../clips/bigbuckbunny.mp4" -t 10 -an \
  -vf "scale=640:360,fps=30" -c:v libvpx-vp9 -deadline good -cpu-used 4 -row-mt 1 -b:v 800k -g 60 "$work/bbb_640x360_vp9.webm"
videos=(bbb_1920x1080.mp4 bbb_640x360.mp4 bbb_640x360.mkv bbb_640x360_vp9.webm)
swift build -c release --product r2plus1d >/dev/null
echo "CPU: $(cpu_name), $(nproc) cores; OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}"
results=$work/results.jsonl
: >"$results"
ours() { .build/release/r2plus1d bench-decode "$1" --clips "$2" --reps "$reps" --threads 0 --json; }
theirs() { "$python" "$tools/decode_bench.py" "$1" --clips "$2" --reps "$reps" --json; }
for round in $(seq 1 "$rounds"); do
  for clips in 1 5; do
    for name in "${videos[@]}"; do
      video="$work/$name"
      if (( round % 2 )); then a=$(ours "$video" "$clips"); b=$(theirs "$video" "$clips")
      else b=$(theirs "$video" "$clips"); a=$(ours "$video" "$clips"); fi
      echo "{\"round\": $round, \"case\": \"${name#bbb_}, $clips clip(s)\", \"ours\": $a, \"theirs\": $b}" >>"$results"
    done
  done
done
"$python" - "$results" <<'PY'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
for case in dict.fromkeys(r["case"] for r in rows):
    mine = [r["ours"]["ms"] for r in rows if r["case"] == case]
    ref = [next(x["ms"] for x in r["theirs"]["results"] if x["reference"].startswith("torchcodec")) for r in rows if r["case"] == case]
    ratios = [a / b for a, b in zip(mine, ref)]
    frames = rows[[r["case"] for r in rows].index(case)]["ours"]["decoded_frames"]
    print(f"{case:30s} r2plus1d {statistics.median(mine):7.1f} ms ({frames} frames)  torchcodec {statistics.median(ref):7.1f} ms  "
          f"ratio {statistics.median(ratios):.2f}x  per round {', '.join(f'{x:.2f}' for x in ratios)}")
PY
