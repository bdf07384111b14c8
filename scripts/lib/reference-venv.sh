# Sourced: the reference venv's folder ($REFERENCE_VENV, default $HOME/.cache/r2plus1d-reference-venv) and $python,
# its interpreter. reference_venv_ready is true when that python imports the whole reference stack;
# require_reference_venv exits, saying how to make the venv, when it does not.
reference_venv=${REFERENCE_VENV:-$HOME/.cache/r2plus1d-reference-venv}
python=$reference_venv/bin/python
reference_venv_ready() {
  "$python" -c 'import torch, torchvision, onnx, onnxruntime, openvino, av, torchcodec, safetensors, numpy' 2>/dev/null
}
require_reference_venv() {
  reference_venv_ready && return
  echo "no reference venv at $reference_venv (PyTorch, torchvision, ONNX Runtime, OpenVINO, PyAV, torchcodec):" >&2
  echo "make it with: bash scripts/make-reference-venv.sh   (about 6 GB and a few minutes; REFERENCE_VENV=DIR for another folder)" >&2
  exit 2
}
