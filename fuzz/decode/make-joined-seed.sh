#!/usr/bin/env bash
# Makes seeds/joined.ts: two tiny transport streams joined byte for byte, so the decode fuzzers start from a clock
# that restarts mid-file (Demuxer's PacketIndex sections).
set -euo pipefail
cd "$(dirname "$0")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for source in testsrc2 smptebars; do
  ffmpeg -loglevel error -nostdin -y -f lavfi -i "$source=size=32x32:rate=10" -t 0.5 -c:v libx264 -preset ultrafast \
    -g 3 -f mpegts "$work/$source.ts"
done
cat "$work/testsrc2.ts" "$work/smptebars.ts" >seeds/joined.ts
