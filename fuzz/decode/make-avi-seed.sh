#!/usr/bin/env bash
# Makes seeds/cut-bframes.avi: a tiny H.264 AVI with B-frames, cut before its index chunk (an interrupted
# recording), so the decode fuzzers start from the paths that index an AVI by reading it and time its reordered
# frames by their order (Demuxer.indexedByReading, Demuxer.timesByOrder).
set -euo pipefail
cd "$(dirname "$0")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ffmpeg -loglevel error -nostdin -y -f lavfi -i "testsrc2=size=32x32:rate=10" -t 2 -c:v libx264 -preset veryfast \
  -bf 3 -g 8 -threads 1 -f avi "$work/whole.avi"
python3 -c '
import sys
data = open(sys.argv[1], "rb").read()
open(sys.argv[2], "wb").write(data[: data.rfind(b"idx1")])' "$work/whole.avi" seeds/cut-bframes.avi
