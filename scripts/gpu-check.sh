#!/usr/bin/env bash
# The GPU check, in two halves, for a lent GPU machine that has no network and no Rust
# (the `device` tool: docs/performance.md, "GPU").
#
#   bash scripts/gpu-check.sh pack   here: one release build with CUDA (its wgpu runtime is
#                                    the Vulkan build), the model, test images (also scaled
#                                    to 1280x720), the CPU reference (the same binary's
#                                    detections on lavapipe, whose raw output CI checks
#                                    against onnxruntime), NVRTC from PyPI and the Vulkan
#                                    loader, into .gpu/ (ignored; ~32 MB, binary and NVRTC
#                                    xz-compressed)
#   bash scripts/gpu-check.sh        there (carry .gpu): says which of CUDA and Vulkan the
#                                    machine has, and why not the other; for each it has,
#                                    detections checked against the CPU reference, then
#                                    `sightline bench` at 1280x720 on one camera and on 8
#                                    cameras at 30 Hz; one table at the end
#
# The run half takes about 3 minutes per device and stays inside one 10-minute device call.
# GPU_CHECK_DEVICES (default: cuda vulkan), GPU_CHECK_FRAMES (300) and GPU_CHECK_CAMERAS
# (8) let the run half be tried here first, on lavapipe, in ~3 min:
# GPU_CHECK_DEVICES=cpu GPU_CHECK_FRAMES=2 GPU_CHECK_CAMERAS=1.
set -euo pipefail
cd "$(dirname "$0")/.."
PACK=.gpu
# NVRTC compiles the CUDA kernels at run time; a machine with only the driver lacks it.
# 12.6 writes PTX that drivers from 560 (CUDA 12.6) on load, and its wheel is a quarter of
# 12.9's (24 against 90 MB). sightline-engine's cudarc pin (cuda-12060) matches it.
NVRTC_WHEEL=nvidia-cuda-nvrtc-cu12==12.6.85

if [ "${1:-run}" = pack ]; then
  SHARED="${SIGHTLINE_SHARED:-$(cd .. && pwd)/shared}"
  rm -rf "$PACK" && mkdir -p "$PACK/models" "$PACK/images" "$PACK/images-720p" "$PACK/gl"
  # One binary for every device: `cuda` adds the CUDA runtime beside wgpu, and it loads
  # libcuda/libnvrtc only when asked for CUDA.
  cargo build --release --features cuda --bin sightline
  strip -o "$PACK/sightline" target/release/sightline
  cp "$SHARED/models/yolox_nano.onnx" "$PACK/models/"
  cp "$SHARED"/data/kitti-tiny/image_2/00000[0-5].jpg "$SHARED"/data/roadsign/images/road{0,1,10,12}.png \
     "$SHARED"/data/coco128-val2017/images/000000000{139,724}.jpg "$PACK/images/"
  # 1280x720 frames, the size the latency targets are stated for
  .venv/bin/python - "$PACK/images" "$PACK/images-720p" <<'EOF'
import sys, pathlib, cv2
src, dst = map(pathlib.Path, sys.argv[1:])
for p in sorted(src.iterdir()):
    img = cv2.resize(cv2.imread(str(p)), (1280, 720), interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(dst / (p.stem + ".jpg")), img, [cv2.IMWRITE_JPEG_QUALITY, 95])
EOF
  # The CPU reference: these kernels on lavapipe (tests/ort_parity.rs holds them to
  # onnxruntime), so a difference on the GPU is the GPU's.
  XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}" "$PACK/sightline" detect --device cpu --model "$PACK/models/yolox_nano.onnx" \
    --score-threshold 0.25 --jsonl "$PACK/reference.jsonl" "$PACK/images" >/dev/null
  # The machine's image may lack the Vulkan loader (libvulkan1): carried as a .deb.
  (cd "$PACK/gl" && apt-get download libvulkan1 >/dev/null)
  # NVRTC: the wheel (kept under target/ so that a second pack does not fetch it again),
  # of which the two libraries and the licence travel.
  wheels=target/gpu-check-wheels
  ls "$wheels"/nvidia_cuda_nvrtc_cu12-"${NVRTC_WHEEL#*==}"-*.whl >/dev/null 2>&1 ||
    .venv/bin/python -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
      --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d "$wheels" "$NVRTC_WHEEL"
  .venv/bin/python - "$wheels"/nvidia_cuda_nvrtc_cu12-"${NVRTC_WHEEL#*==}"-*.whl "$PACK/nvrtc.tar.xz" "$NVRTC_WHEEL" <<'PY'
import io, sys, tarfile, zipfile
wheel, out, name = sys.argv[1:]
with zipfile.ZipFile(wheel) as z, tarfile.open(out, "w:xz") as tar:
    for member in z.namelist():
        base = member.rsplit("/", 1)[-1]
        if base.startswith("libnvrtc") or base == "License.txt":
            data = z.read(member)
            info = tarfile.TarInfo(("lib/" if base.startswith("lib") else "") + base)
            info.size, info.mode = len(data), 0o755
            tar.addfile(info, io.BytesIO(data))
    info = tarfile.TarInfo("VERSION")
    info.size = len(name) + 1
    tar.addfile(info, io.BytesIO(name.encode() + b"\n"))
PY
  xz -6 -T1 "$PACK/sightline"   # 32 MB -> ~8 MB; the run half unpacks it
  echo "cuda vulkan" > "$PACK/devices"
  du -sh "$PACK"
  echo "packed: now run 'bash scripts/gpu-check.sh' on the GPU machine, carrying $PACK"
  exit 0
fi

# The pack's compressed parts, unpacked once (python3: the machine may lack xz).
if [ ! -x "$PACK/sightline" ] && [ -f "$PACK/sightline.xz" ]; then
  python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' \
    "$PACK/sightline.xz" "$PACK/sightline" && chmod +x "$PACK/sightline"
fi
[ -x "$PACK/sightline" ] || { echo "$PACK/sightline missing: run 'bash scripts/gpu-check.sh pack' first" >&2; exit 2; }
if [ ! -d "$PACK/nvrtc/lib" ] && [ -f "$PACK/nvrtc.tar.xz" ]; then
  python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$PACK/nvrtc.tar.xz" "$PACK/nvrtc"
fi
OUT="${OUT:-$PACK/out}"
DEVICES="${GPU_CHECK_DEVICES:-$(cat "$PACK/devices")}"
FRAMES="${GPU_CHECK_FRAMES:-300}"
CAMERAS="${GPU_CHECK_CAMERAS:-8}"
mkdir -p "$OUT"
rm -f "$OUT"/*.unavailable
export SIGHTLINE_MODELS="$PWD/$PACK/models"
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"

# What this machine has for each device; the binary itself has the last word (below).
echo "gpu-check: what this machine has"
if command -v nvidia-smi >/dev/null; then
  echo "  GPU: $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>&1 | head -1) (name, driver)"
else
  echo "  GPU: no nvidia-smi (no NVIDIA driver installed or mounted?)"
fi
if ! ldconfig -p | grep -q libvulkan.so.1; then
  for deb in "$PACK"/gl/*.deb; do dpkg -x "$deb" /; done
  ldconfig
  echo "  Vulkan loader: none on the machine, the carried libvulkan1 unpacked"
else
  echo "  Vulkan loader: the machine's"
fi
for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json; do
  [ -f "$icd" ] && { export VK_DRIVER_FILES="$icd"; break; }
done
echo "  Vulkan driver: ${VK_DRIVER_FILES:-no NVIDIA ICD (nvidia_icd.json) in /usr/local/nvidia or /usr/share/vulkan}"
# cudarc dlopens libcuda (the driver's) and libnvrtc: the carried NVRTC first, so that
# every machine compiles with the same one; a toolkit's libraries after it.
for lib in /usr/local/cuda/targets/x86_64-linux/lib /usr/local/cuda/lib64 "$PWD/$PACK/nvrtc/lib"; do
  [ -d "$lib" ] && export LD_LIBRARY_PATH="$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
done
if [ -d "$PACK/nvrtc/lib" ]; then
  echo "  NVRTC: carried, $(cat "$PACK/nvrtc/VERSION")"
else
  echo "  NVRTC: none carried (an old pack?): the machine's, if any"
fi

for device in $DEVICES; do
  if ! SIGHTLINE_LOG="${SIGHTLINE_LOG:-warn,sightline=info,wgpu_hal=off}" "$PACK/sightline" detect \
       --device "$device" --score-threshold 0.25 \
       --jsonl "$OUT/$device.jsonl" "$PACK/images" >"$OUT/$device.detect.log" 2>&1; then
    # The device's own one-line reason ("device \"cuda\" unavailable: no NVIDIA driver: ...")
    reason=$(grep -o 'unavailable: .*' "$OUT/$device.detect.log" | head -1 | cut -d' ' -f2-)
    if [ -n "$reason" ]; then
      echo "gpu-check: $device: NOT FOUND: $reason"
      echo "$reason" > "$OUT/$device.unavailable"
    else
      echo "gpu-check: $device: found, but detect FAILED:"; tail -5 "$OUT/$device.detect.log"
    fi
    continue
  fi
  echo "gpu-check: $device: found: $(grep 'detector ready' "$OUT/$device.detect.log" | grep -o 'device[^"]*"[^"]*"' | head -1 | cut -d'"' -f2)"
  "$PACK/sightline" bench --device "$device" --input "$PACK/images-720p" --frames "$FRAMES" \
    --calibration calibration/front_1280x720.yaml --json "$OUT/$device.bench.json" \
    >"$OUT/$device.bench.log" 2>&1 || { echo "$device: bench failed"; tail -5 "$OUT/$device.bench.log"; }
  "$PACK/sightline" bench --device "$device" --input "$PACK/images-720p" --frames "$((FRAMES * 8 / 5))" \
    --cameras "$CAMERAS" --rate 30 --calibration calibration/front_1280x720.yaml \
    --json "$OUT/$device.bench8.json" >"$OUT/$device.bench8.log" 2>&1 \
    || { echo "$device: $CAMERAS-camera bench failed"; tail -5 "$OUT/$device.bench8.log"; }
done
python3 scripts/gpu_check_report.py "$PACK/reference.jsonl" "$OUT" $DEVICES
