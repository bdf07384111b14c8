#!/usr/bin/env bash
# Makes the reference venv that the benchmark and parity scripts and tools/make_*fixtures.py run: PyTorch,
# torchvision, ONNX and ONNX Runtime, OpenVINO, PyAV, torchcodec, safetensors and numpy from PyPI, pinned (torch,
# torchvision, ONNX Runtime, OpenVINO, PyAV and torchcodec at the versions docs/ gives figures for).
# Usage: scripts/make-reference-venv.sh   Into $REFERENCE_VENV (default $HOME/.cache/r2plus1d-reference-venv); prints
# its python last. About 6 GB (PyPI's torch pulls the CUDA libraries) and a few minutes; needs Python 3.11 or later
# (PyAV 18). A venv that already imports the whole stack is left as it is: delete it to reinstall these versions.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/reference-venv.sh
if ! reference_venv_ready; then
  python3 -m venv "$reference_venv"
  "$python" -m pip install -q --upgrade pip >&2
  "$python" -m pip install -q torch==2.15.0 torchvision==0.29.2 onnx==1.23.2 onnxruntime==1.32.0 openvino==2026.4.1 \
    av==18.1.0 torchcodec==0.17.0 safetensors==0.8.0 numpy==2.4.6 >&2
  reference_venv_ready || { echo "the venv at $reference_venv still cannot import the reference stack" >&2; exit 1; }
fi
echo "$python"
