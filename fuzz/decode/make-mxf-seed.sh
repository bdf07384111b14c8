#!/usr/bin/env bash
# Makes seeds/tiny-bframes.mxf: a tiny H.264 MXF with B-frames and no temporal offsets in its index (as FFmpeg's
# muxer writes it), so the decode fuzzers start from the MXF demuxer and the probe that times such frames by their
# order (Demuxer.readMXFPackets).
set -euo pipefail
cd "$(dirname "$0")"
ffmpeg -loglevel error -nostdin -y -f lavfi -i "testsrc2=size=32x32:rate=25" -t 2 -c:v libx264 -preset veryfast \
  -bf 3 -g 8 -threads 1 -f mxf seeds/tiny-bframes.mxf
