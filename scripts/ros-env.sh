# Source me (bash):  . scripts/ros-env.sh
# Environment for building and running `sightline node` against ROS 2 kilted installed
# from PyPI wheels by scripts/ros-setup.sh into .ros/ (override with ROS_WORK). Each
# line works around one property of the wheels; see docs/ros.md "Installing ROS".
#
# With a full ROS 2 install already sourced (/opt/ros/<distro>/setup.bash) and no
# .ros/venv, only the r2r-specific variables below are set.
_sl_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export ROS_WORK=${ROS_WORK:-$_sl_root/.ros}
# Messages r2r generates Rust bindings for (it always adds rcl_interfaces,
# builtin_interfaces, unique_identifier_msgs and action_msgs). Keeping the list short
# keeps the r2r build at ~1.5 min.
export IDL_PACKAGE_FILTER="std_msgs;sensor_msgs;geometry_msgs;builtin_interfaces;diagnostic_msgs;vision_msgs"
# rcl logging needs a writable directory; without HOME or this, Node::create fails.
export ROS_LOG_DIR=${ROS_LOG_DIR:-$ROS_WORK/log}
# r2r 0.9.7 knows foxy..jazzy, lyrical and rolling, not kilted; jazzy selects the same
# code paths (bindings come from the installed headers through bindgen).
[ "${ROS_DISTRO:-}" = kilted ] && export ROS_DISTRO=jazzy
# the node's kernels on Mesa 25's lavapipe (.mesa/) where the machine has no GPU
. "$_sl_root/scripts/mesa-env.sh"
# keep DDS discovery on this host (tests run several nodes side by side)
export ROS_AUTOMATIC_DISCOVERY_RANGE=${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}

if [ -x "$ROS_WORK/venv/bin/python" ]; then
  export ROS_VENV=$ROS_WORK/venv
  export ROS_SHIM=$ROS_WORK/shim
  export ROS_WS_INSTALL=$ROS_WORK/ws/install
  _sl_py=$ROS_VENV/bin/python
  # the venv's .pth re-execs Python with LD_LIBRARY_PATH set; not wanted for queries
  _sl_sp=$(_ROS_WHEELS_BOOTSTRAP_COMPLETE=1 $_sl_py -c 'import sysconfig;print(sysconfig.get_paths()["purelib"])')
  export PYTHON_LIBDIR=$(_ROS_WHEELS_BOOTSTRAP_COMPLETE=1 $_sl_py -c 'import sysconfig;print(sysconfig.get_config_var("LIBDIR"))')
  export PYTHON_LDLIBRARY=$(_ROS_WHEELS_BOOTSTRAP_COMPLETE=1 $_sl_py -c 'import sysconfig;print(sysconfig.get_config_var("LDLIBRARY"))')
  # r2r finds headers, libraries and message packages through AMENT_PREFIX_PATH. The
  # shim holds librmw_implementation.so -> librmw_fastrtps_cpp.so: r2r links
  # -lrmw_implementation, the wheels disable runtime RMW selection and do not ship it.
  export AMENT_PREFIX_PATH=$ROS_WS_INSTALL:$ROS_VENV:$ROS_SHIM
  export CMAKE_PREFIX_PATH=$ROS_VENV
  export ROS_DISTRO=jazzy
  # only Fast DDS is linked in; any other value makes rcl_init exit with 102
  export RMW_IMPLEMENTATION=rmw_fastrtps_cpp
  # the wheels' RPATHs ($ORIGIN/../../../ros_X.libs) are wrong once installed into
  # <venv>/lib; r2r's build script runs linked against these libraries too.
  export LD_LIBRARY_PATH=$ROS_WS_INSTALL/lib:$ROS_VENV/lib:$(ls -d "$_sl_sp"/ros_*.libs | paste -sd:):$ROS_SHIM/lib:$PYTHON_LIBDIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  # rclpy peers find the vendored vision_msgs here
  export PYTHONPATH=$ROS_WS_INSTALL/lib/$(basename "$(dirname "$_sl_sp")")/site-packages${PYTHONPATH:+:$PYTHONPATH}
  # env complete: stop the wheels' .pth from re-exec'ing every python
  export _ROS_WHEELS_BOOTSTRAP_COMPLETE=1
  unset _sl_py _sl_sp
elif [ -z "${AMENT_PREFIX_PATH:-}" ]; then
  echo "ros-env: no ROS found: run scripts/ros-setup.sh (or source a ROS 2 install first)" >&2
fi
# Builds `sightline node` (debug, --features ros) and sets SIGHTLINE_NODE_CMD to run it
# from a private hard link: a plain build in the same target directory replaces
# target/debug/sightline with a binary without ROS support. The build's output also
# goes to $ROS_LOG_DIR/cargo-build.log. (scripts/ros-test.sh, scripts/soak.sh)
sightline_build_node() {
  local log=$ROS_LOG_DIR/cargo-build.log bin=${CARGO_TARGET_DIR:-target}/debug/sightline
  mkdir -p "$ROS_LOG_DIR" "$ROS_WORK/bin"
  cargo build --features ros --bin sightline 2>&1 | tee "$log"
  [ "${PIPESTATUS[0]}" -eq 0 ] || return 1
  # Feature unification (Cargo.toml, crates/ros/Cargo.toml) lets this build reuse the
  # dependencies `cargo build`/`cargo test` compiled; say so when it stopped working.
  if grep -q '^ *Compiling cubecl-core ' "$log"; then
    echo "ros: warning: the ros build recompiled cubecl: some dependency's features" \
      "differ from the plain build's; scripts/shared-units.py names them"
  fi
  ln -f "$bin" "$ROS_WORK/bin/sightline" 2>/dev/null || cp -f "$bin" "$ROS_WORK/bin/sightline"
  SIGHTLINE_NODE_CMD="$ROS_WORK/bin/sightline node"
}
unset _sl_root
