#!/usr/bin/env bash
# Soak test of `sightline node` (scripts/soak.py says what it does and checks):
#   bash scripts/soak.sh [SECONDS]      default 1800; CI runs 60
# Builds the node as scripts/ros-test.sh does (after it, nothing to do), or runs
# SIGHTLINE_NODE_CMD. Samples go to $ROS_LOG_DIR/soak.jsonl, one line per 10 s.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-1800}"
bash scripts/ros-setup.sh >/dev/null
# shellcheck source=scripts/ros-env.sh
. scripts/ros-env.sh
export SIGHTLINE_SHARED="${SIGHTLINE_SHARED:-$(cd .. && pwd)/shared}"
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
export FASTDDS_DEFAULT_PROFILES_FILE="$PWD/launch/fastdds_large_images.xml"
# up to date after scripts/ros-test.sh: then this only checks
[ -n "${SIGHTLINE_NODE_CMD:-}" ] || sightline_build_node
"$ROS_VENV/bin/python" scripts/soak_windows.py   # the liveness rule's self-test
exec "$ROS_VENV/bin/python" scripts/soak.py --node "$SIGHTLINE_NODE_CMD" --seconds "$seconds" \
  --out "$ROS_LOG_DIR/soak.jsonl" --log-dir "$ROS_LOG_DIR"
