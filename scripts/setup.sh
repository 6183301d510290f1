#!/usr/bin/env bash
# One-time (idempotent) set-up of a Debian/Ubuntu machine for Sightline:
#   - Mesa's software Vulkan driver (lavapipe), so the GPU kernels run without a GPU;
#   - a Python venv (.venv) with the independent peers tests compare against
#     (onnxruntime, pycocotools, rosbags, OpenCV), and .venv-label with the annotation
#     tools' libraries (datumaro, label-studio-sdk) that read `sightline label` exports.
# Rust (rustup, stable >= 1.85) must already be installed.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
ldconfig -p | grep -q 'libvulkan.so.1' || need_apt+=(libvulkan1)
ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1 || need_apt+=(mesa-vulkan-drivers)
command -v python3 >/dev/null || need_apt+=(python3 python3-venv)
ls /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf >/dev/null 2>&1 || need_apt+=(fonts-dejavu-core)  # plot labels
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ] || ! cmp -s scripts/requirements.txt .venv/.requirements; then
  echo "setup: creating .venv (Python peers for tests)"
  python3 -m venv .venv
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -r scripts/requirements.txt
  cp scripts/requirements.txt .venv/.requirements
fi
if [ ! -x .venv-label/bin/python ] || ! cmp -s scripts/requirements-label.txt .venv-label/.requirements; then
  echo "setup: creating .venv-label (datumaro, label-studio-sdk for the label tests)"
  python3 -m venv .venv-label
  .venv-label/bin/pip install -q --upgrade pip
  .venv-label/bin/pip install -q -r scripts/requirements-label.txt
  cp scripts/requirements-label.txt .venv-label/.requirements
fi
echo "setup: ok"
