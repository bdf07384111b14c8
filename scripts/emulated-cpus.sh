#!/usr/bin/env bash
# The executable on CPUs this machine is not, emulated by QEMU's user mode. For each CPU model below:
# - the kernel set the engine chooses there must be the one listed;
# - with that set, the start-up self-test, the narrow network of Tests/R2Plus1DTests/Fixtures (against
#   torchvision's logits, within 1e-4 of the largest) and `preprocess` of a real clip (against this machine's
#   tensors, within six uint8 levels, as GeometryMatrixTests allows between FFmpeg's SIMD paths) run emulated.
# Then an operator's OPENBLAS_CORETYPE that the CPU cannot run (SkylakeX on Haswell) must give way to Haswell.
#
# OpenBLAS 0.3.21 picks kernels by CPU family without checking their instructions: on QEMU's default model (an
# AMD family 15) it picks Opteron kernels, which use 3DNow!, and on the Opteron_G4/G5 models Bulldozer's, which use
# FMA4. No current CPU has either, so under KVM such VMs would die of SIGILL at the first product; the engine
# replaces such a pick (BLASKernelChoice). A replaced pick is loaded by the process executing itself again, which
# leaves the emulator (the host runs the new image): so the choice is read from an emulated run, and the emulated
# checks then pin that set with OPENBLAS_CORETYPE, as the new image would run.
# Usage: scripts/emulated-cpus.sh   Needs qemu-user (scripts/install-system-packages.sh installs it).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v qemu-x86_64 >/dev/null || { echo "no qemu-x86_64: install qemu-user" >&2; exit 1; }
# MODEL=KERNELS: QEMU's model and the kernel set the engine must run on it. The AVX-512 models get Haswell because
# QEMU 7.2 does not emulate AVX-512 and hides it; their Intel cousins without it are the point.
expected=(
  qemu64=Prescott Opteron_G2=Prescott Opteron_G4=Sandybridge Opteron_G5=Sandybridge kvm64=Prescott
  Penryn=Penryn Nehalem=Nehalem SandyBridge=Sandybridge Haswell=Haswell EPYC=Zen Skylake-Server=Haswell
)
work=${TMPDIR:-/tmp}/r2plus1d-emulated-cpus
rm -rf "$work" && mkdir -p "$work"
swift build -c release --product r2plus1d >/dev/null
binary=.build/release/r2plus1d
fixtures=Tests/R2Plus1DTests/Fixtures
network=(--weights "$fixtures/tiny_r2plus1d.safetensors" --input "$fixtures/tiny_io.safetensors")
video=Tests/VideoDecodeTests/Fixtures/bikes.mp4
"$binary" preprocess "$video" --clips 1 -o "$work/clips-native.safetensors" >/dev/null
# The kernel set `forward` records in its output's metadata.
kernels_of() {
  python3 -c 'import json, struct, sys; data = open(sys.argv[1], "rb").read(); length = struct.unpack("<Q", data[:8])[0]
print(json.loads(data[8:8 + length]).get("__metadata__", {}).get("blas_kernels", "?"))' "$1"
}
failures=0
for entry in "${expected[@]}"; do
  model=${entry%%=*} kernels=${entry#*=}
  log=$work/$model.log
  # TCG warns of every feature a model names that it does not emulate; those are then absent, as on a host that
  # lacks them.
  if ! qemu-x86_64 -cpu "$model" "$binary" forward "${network[@]}" -o "$work/plan-$model.safetensors" 2>"$log" \
    || ! OPENBLAS_CORETYPE=$kernels qemu-x86_64 -cpu "$model" "$binary" forward "${network[@]}" \
      -o "$work/logits-$model.safetensors" 2>>"$log" \
    || ! OPENBLAS_CORETYPE=$kernels qemu-x86_64 -cpu "$model" "$binary" preprocess "$video" --clips 1 \
      -o "$work/clips-$model.safetensors" >/dev/null 2>>"$log"; then
    echo "$model: failed: $(grep -v "TCG doesn't" "$log" | tail -n 3)" >&2
    failures=$((failures + 1))
    continue
  fi
  python3 - "$work" "$model" "$kernels" "$(kernels_of "$work/plan-$model.safetensors")" "$fixtures/tiny_io.safetensors" \
    <<'PY' || failures=$((failures + 1))
import json, struct, sys
work, model, kernels, chosen, reference = sys.argv[1:]
def read(path, tensor):
    data = open(path, "rb").read()
    length = struct.unpack("<Q", data[:8])[0]
    start, end = json.loads(data[8:8 + length])[tensor]["data_offsets"]
    body = data[8 + length + start:8 + length + end]
    return struct.unpack(f"<{len(body) // 4}f", body)
torchvision = read(reference, "logits")
logits = read(f"{work}/logits-{model}.safetensors", "logits")
native = read(f"{work}/clips-native.safetensors", "clips")
clips = read(f"{work}/clips-{model}.safetensors", "clips")
logit_error = max(abs(a - b) for a, b in zip(torchvision, logits)) / max(abs(a) for a in torchvision)
clip_error = max(abs(a - b) for a, b in zip(native, clips)) if len(clips) == len(native) else float("inf")
ok = chosen.split(" ")[0] == kernels and logit_error <= 1e-4 and clip_error < 0.11
print(f"{model:15s} {'ok  ' if ok else 'FAIL'} {chosen}; logits within {logit_error:.1e} of torchvision's largest, "
      f"clips within {clip_error:.3f} of this CPU's" + ("" if ok else f" (expected {kernels})"))
sys.exit(0 if ok else 1)
PY
done
# An operator's pin the CPU cannot run (OpenBLAS loads a pinned set unchecked) gives way to the CPU's best set.
if OPENBLAS_CORETYPE=SkylakeX qemu-x86_64 -cpu Haswell "$binary" forward "${network[@]}" -o "$work/pinned.safetensors" \
    2>"$work/pinned.log"; then
  chosen=$(kernels_of "$work/pinned.safetensors")
  echo "Haswell, OPENBLAS_CORETYPE=SkylakeX: $chosen"
  [[ $chosen == "Haswell (chosen from CPUID: OPENBLAS_CORETYPE=SkylakeX needs avx512f"* ]] || failures=$((failures + 1))
else
  echo "Haswell, OPENBLAS_CORETYPE=SkylakeX: failed: $(grep -v "TCG doesn't" "$work/pinned.log" | tail -n 3)" >&2
  failures=$((failures + 1))
fi
((failures == 0)) || { echo "$failures emulated checks failed (logs in $work)" >&2; exit 1; }
echo "all ${#expected[@]} emulated CPUs chose the expected kernels and decoded and classified as this one does; a pin the CPU cannot run gave way"
