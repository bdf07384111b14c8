#!/usr/bin/env bash
# Downloads torchvision's official r2plus1d_18 Kinetics-400 weights into weights/ and checks their SHA-256
# against the 8 hex digits in the file name (torchvision's convention).
set -euo pipefail
cd "$(dirname "$0")/.."
url=${1:-https://download.pytorch.org/models/r2plus1d_18-91a641e6.pth}
name=$(basename "$url")
prefix=$(sed -E 's/.*-([0-9a-f]{8})\.pth$/\1/' <<<"$name")
if [[ ! -f weights/$name ]]; then
  curl -fL --retry 3 -o "weights/$name.part" "$url"
  mv "weights/$name.part" "weights/$name"
fi
sum=$(sha256sum "weights/$name" | cut -d' ' -f1)
if [[ $sum != "$prefix"* ]]; then
  echo "weights/$name: SHA-256 $sum does not start with $prefix; delete it and download again" >&2
  exit 1
fi
echo "weights/$name: SHA-256 $sum (ok)"
