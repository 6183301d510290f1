#!/usr/bin/env bash
# The GPU check, in two halves, for a lent GPU machine that has no network and no Rust
# (the `device` tool: docs/performance.md, "GPU").
#
#   bash scripts/gpu-check.sh pack   here: a release build with CUDA and Vulkan (Vulkan
#                                    only where CUDA cannot be built, see below), the
#                                    model, test images (also scaled to 1280x720), the
#                                    CPU reference (the same binary's detections on
#                                    lavapipe, whose raw output CI checks against
#                                    onnxruntime) and the Vulkan loader, into .gpu/
#                                    (ignored; ~40 MB)
#   bash scripts/gpu-check.sh        there (carry .gpu): for CUDA and Vulkan, detections
#                                    checked against the CPU reference, then `sightline
#                                    bench` at 1280x720 on one camera and on 8 cameras at
#                                    30 Hz; one table at the end
#
# cubecl-cuda 0.11 depends on cubecl-llvm, whose build script downloads an LLVM bundle
# from GitHub: where that is unreachable (this project's machines reach only crates.io,
# PyPI and Debian) pack says so and packs the Vulkan build alone.
#
# The run half takes about 3 minutes and stays well inside one 10-minute device call.
# GPU_CHECK_DEVICES (default: what pack built), GPU_CHECK_FRAMES (300) and
# GPU_CHECK_CAMERAS (8) let the run half be tried here first, on lavapipe, in ~3 min:
# GPU_CHECK_DEVICES=cpu GPU_CHECK_FRAMES=2 GPU_CHECK_CAMERAS=1.
set -euo pipefail
cd "$(dirname "$0")/.."
PACK=.gpu

if [ "${1:-run}" = pack ]; then
  SHARED="${SIGHTLINE_SHARED:-$(cd .. && pwd)/shared}"
  rm -rf "$PACK" && mkdir -p "$PACK/models" "$PACK/images" "$PACK/images-720p" "$PACK/gl"
  if cargo build --release --features cuda --bin sightline; then
    echo "cuda vulkan" > "$PACK/devices"
  else
    echo "gpu-check: the CUDA build failed (above; cubecl-llvm's LLVM download?): packing Vulkan only" >&2
    cargo build --release --bin sightline
    echo "vulkan" > "$PACK/devices"
  fi
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
  du -sh "$PACK"
  echo "packed: now run 'bash scripts/gpu-check.sh' on the GPU machine, carrying $PACK"
  exit 0
fi

[ -x "$PACK/sightline" ] || { echo "$PACK/sightline missing: run 'bash scripts/gpu-check.sh pack' first" >&2; exit 2; }
OUT="${OUT:-$PACK/out}"
DEVICES="${GPU_CHECK_DEVICES:-$(cat "$PACK/devices")}"
FRAMES="${GPU_CHECK_FRAMES:-300}"
CAMERAS="${GPU_CHECK_CAMERAS:-8}"
mkdir -p "$OUT"
export SIGHTLINE_MODELS="$PWD/$PACK/models"
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
if ! ldconfig -p | grep -q libvulkan.so.1; then
  for deb in "$PACK"/gl/*.deb; do dpkg -x "$deb" /; done
  ldconfig
fi
for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json; do
  [ -f "$icd" ] && { export VK_DRIVER_FILES="$icd"; break; }
done
# cudarc loads libcuda and libnvrtc at run time
for lib in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib; do
  [ -d "$lib" ] && export LD_LIBRARY_PATH="$lib:${LD_LIBRARY_PATH:-}"
done
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader || true

for device in $DEVICES; do
  if ! "$PACK/sightline" detect --device "$device" --score-threshold 0.25 \
       --jsonl "$OUT/$device.jsonl" "$PACK/images" >"$OUT/$device.detect.log" 2>&1; then
    echo "$device: detect failed:"; tail -5 "$OUT/$device.detect.log"; continue
  fi
  "$PACK/sightline" bench --device "$device" --input "$PACK/images-720p" --frames "$FRAMES" \
    --calibration calibration/front_1280x720.yaml --json "$OUT/$device.bench.json" \
    >"$OUT/$device.bench.log" 2>&1 || { echo "$device: bench failed"; tail -5 "$OUT/$device.bench.log"; }
  "$PACK/sightline" bench --device "$device" --input "$PACK/images-720p" --frames "$((FRAMES * 8 / 5))" \
    --cameras "$CAMERAS" --rate 30 --calibration calibration/front_1280x720.yaml \
    --json "$OUT/$device.bench8.json" >"$OUT/$device.bench8.log" 2>&1 \
    || { echo "$device: $CAMERAS-camera bench failed"; tail -5 "$OUT/$device.bench8.log"; }
done
python3 scripts/gpu_check_report.py "$PACK/reference.jsonl" "$OUT" $DEVICES
