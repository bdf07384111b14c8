#!/usr/bin/env bash
# A served timeline of a long 640x360 H.264 video at stride = window, against decode + one forward per window
# measured alone in the same run; then the peak RSS of a timeline over a short and a long video.
# Usage: scripts/bench-timeline.sh [MINUTES] [LONG_MINUTES] [RSS_STRIDE_S]   (default 10, 60 and 10)
#   1. bench-decode: 8 windows' clips of an 8.53 s excerpt of the same video (what one walk chunk decodes), per window
#   2. bench --batch 8: one chunk's forward pass, per window
#   3. serve --demo-weights; POST the MINUTES video with timeline=1 through the decode workers: windows/s
#   4. classify --timeline --stride-s RSS_STRIDE_S on the MINUTES and the LONG_MINUTES video: peak RSS of each
# Videos are made once with ffmpeg into $BENCH_VIDEOS (default /tmp/r2plus1d-bench-videos).
set -euo pipefail
source "$(dirname "$0")/lib/cpu.sh"
cd "$(dirname "$0")/.."
minutes=${1:-10}
long_minutes=${2:-60}
rss_stride=${3:-10}
videos=${BENCH_VIDEOS:-/tmp/r2plus1d-bench-videos}
mkdir -p "$videos"
swift build -c release --product r2plus1d >/dev/null
bin=.build/release/r2plus1d
echo "== $(cpu_name), $(nproc) cores; OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}"

make_video() {  # MINUTES -> path; testsrc2 with moving content, GOP 2 s, low bitrate so the upload stays small
  local path=$videos/timeline_${1}min_360p.mp4
  if [[ ! -s $path ]]; then
    ffmpeg -y -loglevel error -nostdin -f lavfi -i "testsrc2=size=640x360:rate=30,noise=alls=8:allf=t" -t $(($1 * 60)) \
      -c:v libx264 -preset ultrafast -crf 32 -g 60 -pix_fmt yuv420p "$path"
  fi
  echo "$path"
}
video=$(make_video "$minutes")
excerpt=$videos/timeline_excerpt_360p.mp4
[[ -s $excerpt ]] || ffmpeg -y -loglevel error -nostdin -ss 60 -t 8.533 -i "$video" -c:v libx264 -preset ultrafast -crf 32 -g 60 "$excerpt"
echo "== video: $video ($(du -m "$video" | cut -f1) MB)"

decode_ms=$($bin bench-decode "$excerpt" --clips 8 --reps 5 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["ms"])')
forward_ms=$($bin bench --demo-weights --batch 8 --reps 3 --json | python3 -c 'import json,sys; r=json.load(sys.stdin)["results"][0]; print(r["ms"])')
python3 - "$decode_ms" "$forward_ms" <<'PY'
import sys
d, f = float(sys.argv[1]) / 8, float(sys.argv[2]) / 8
print(f"== alone, per window: decode {d:.1f} ms + forward {f:.1f} ms = {d + f:.1f} ms, {1000 / (d + f):.3f} windows/s")
PY

source scripts/lib/server.sh
log=$(mktemp)
start_demo_server "$log" --max-upload-mb 1024
echo "== served timeline, stride = window"
start=$(date +%s.%N)
curl -sf -H 'Content-Type: video/mp4' --data-binary "@$video" "http://127.0.0.1:$PORT/v1/classify?timeline=1&top_k=1" -o "$videos/answer.json"
end=$(date +%s.%N)
python3 - "$videos/answer.json" "$start" "$end" "$decode_ms" "$forward_ms" <<'PY'
import json, sys
answer = json.load(open(sys.argv[1]))
seconds = float(sys.argv[3]) - float(sys.argv[2])
windows = len(answer["timeline"])
alone = 1000 / ((float(sys.argv[4]) + float(sys.argv[5])) / 8)
rate = windows / seconds
print(f"   {windows} windows in {seconds:.1f} s: {rate:.3f} windows/s = {rate / alone:.2f}x decode + forward alone")
PY
kill -TERM "$SERVER_PID"; wait "$SERVER_PID" || true

long=$(make_video "$long_minutes")
for v in "$video" "$long"; do
  /usr/bin/time -f '%M' -o "$videos/rss.txt" $bin classify --demo-weights --timeline --stride-s "$rss_stride" --json "$v" >/dev/null
  echo "== classify --timeline --stride-s $rss_stride $(basename "$v") ($(du -m "$v" | cut -f1) MB): peak RSS $(( $(cat "$videos/rss.txt") / 1024 )) MB"
done
