#!/usr/bin/env bash
# ROS 2 integration test of `sightline node`, as CI runs it after the main tests:
# installs ROS 2 kilted from PyPI into .ros/ (scripts/ros-setup.sh, idempotent),
# builds the node with `--features ros`, and runs scripts/ros_test.py (rclpy peers).
# Prints `ros: N passed, M failed`, then the time each phase took; exits non-zero on
# any failure.
#   SIGHTLINE_NODE_CMD   command running the node (default: the built `sightline node`)
#   ROS_TEST_OVERLOAD_S  length of the overload test (default 20 s)
set -euo pipefail
cd "$(dirname "$0")/.."
T0=$(date +%s)
bash scripts/ros-setup.sh
# shellcheck source=scripts/ros-env.sh
. scripts/ros-env.sh
export SIGHTLINE_SHARED="${SIGHTLINE_SHARED:-$(cd .. && pwd)/shared}"
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
# raw 1.4 MB images over best effort need Fast DDS's shared memory (see the file);
# ros_test.py's last case removes it for a node and a camera of its own
export FASTDDS_DEFAULT_PROFILES_FILE="$PWD/launch/fastdds_large_images.xml"
T1=$(date +%s)
[ -n "${SIGHTLINE_NODE_CMD:-}" ] || sightline_build_node
T2=$(date +%s)
echo "ros-test: set-up $((T1 - T0)) s, build $((T2 - T1)) s"
rc=0
"$ROS_VENV/bin/python" scripts/ros_test.py --node "$SIGHTLINE_NODE_CMD" \
  --overload-seconds "${ROS_TEST_OVERLOAD_S:-20}" --log-dir "$ROS_LOG_DIR" || rc=$?
echo "ros-test: set-up $((T1 - T0)) s, build $((T2 - T1)) s, test $(( $(date +%s) - T2 )) s"
exit $rc
