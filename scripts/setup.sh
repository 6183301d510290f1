#!/usr/bin/env bash
# One-time (idempotent) set-up of a Debian/Ubuntu machine for Sightline:
#   - Mesa's software Vulkan driver (lavapipe), so the GPU kernels run without a GPU, and
#     on Debian 12 Mesa 25's lavapipe from bookworm-backports unpacked into .mesa/ (the
#     system's Mesa 22 stays installed and untouched; scripts/mesa-env.sh selects .mesa/);
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

# Mesa 25's lavapipe runs the kernels' SPIR-V 1.3–1.5× faster than Mesa 22 runs either
# path (docs/performance.md, "Compiler path and Mesa"). Unpacked, not installed: nothing
# of the system changes but an apt source for Debian's own backports suite.
install_mesa25() {
  local SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  if ! grep -qs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
      /etc/apt/sources.list.d/*.sources; then
    echo "deb http://deb.debian.org/debian bookworm-backports main" |
      $SUDO tee /etc/apt/sources.list.d/sightline-bookworm-backports.list >/dev/null
  fi
  local tmp; tmp=$(mktemp -d) && chmod 777 "$tmp"  # apt's download user must write there
  (cd "$tmp" && apt-get download -qq mesa-vulkan-drivers/bookworm-backports 2>/dev/null) ||
    { $SUDO apt-get update -qq && (cd "$tmp" && apt-get download -qq mesa-vulkan-drivers/bookworm-backports); }
  rm -rf .mesa && mkdir -p .mesa
  dpkg -x "$tmp"/mesa-vulkan-drivers_*.deb .mesa/root || return 1
  dpkg-deb -f "$tmp"/mesa-vulkan-drivers_*.deb Version >.mesa/VERSION || return 1
  rm -rf "$tmp"
  local lib; lib=$(ls "$PWD"/.mesa/root/usr/lib/*/libvulkan_lvp.so) || return 1
  # The package's manifest names its library by a system path; this one by where it is.
  sed "s|\"library_path\": *\"[^\"]*\"|\"library_path\": \"$lib\"|" \
    .mesa/root/usr/share/vulkan/icd.d/lvp_icd*.json >.mesa/lvp_icd.json
}
if [ ! -f .mesa/lvp_icd.json ] && grep -qs '^VERSION_CODENAME=bookworm' /etc/os-release; then
  echo "setup: unpacking Mesa 25's lavapipe (bookworm-backports) into .mesa/"
  install_mesa25 || { rm -rf .mesa; echo "setup: WARNING: no Mesa 25 (kernels run on the system's Mesa, slower)"; }
fi

# lavapipe's JIT tuned for "skylake" instead of the "znver3" LLVM detects runs the model
# 1.3-2.4x faster on AMD Zen 3/4 (scripts/llvm-host-cpu.c); mesa-env.sh preloads it there.
if [ -f .mesa/lvp_icd.json ] && [ scripts/llvm-host-cpu.c -nt .mesa/libllvm-host-cpu.so ]; then
  cc -O2 -shared -fPIC -o .mesa/libllvm-host-cpu.so scripts/llvm-host-cpu.c ||
    echo "setup: WARNING: no C compiler for .mesa/libllvm-host-cpu.so (kernels tuned for the detected CPU)"
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
