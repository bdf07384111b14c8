#!/usr/bin/env bash
# Installs the Debian packages the build, the tests and the service need. Run as root (or with sudo).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
sudo=""
[[ $(id -u) -eq 0 ]] || sudo="sudo"
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends \
  pkg-config libopenblas-dev libavformat-dev libavcodec-dev libavutil-dev libswscale-dev libssl-dev \
  ffmpeg curl openssl strace iproute2 zlib1g-dev redis-server chromium chromium-driver qemu-user >/dev/null
