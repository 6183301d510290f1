#!/usr/bin/env bash
# The whole test suite, as CI runs it: set-up, lints, every test of the workspace, the
# ROS 2 node's lint and integration test, a short soak and a fuzz smoke.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. scripts/mesa-env.sh   # Mesa 25 lavapipe from .mesa/ on a machine without a GPU
export SIGHTLINE_SHARED="${SIGHTLINE_SHARED:-$(cd .. && pwd)/shared}"
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"   # silences the Vulkan loader's warnings
cargo fmt --all -- --check
cargo fmt --manifest-path fuzz/Cargo.toml -- --check
# Lints with the `cuda` feature, so that the CUDA build (third_party/cubecl-cuda, the
# engine's CUDA probe) is checked to compile without a second pass over cubecl.
cargo clippy --workspace --all-targets --features sightline/cuda -- -D warnings
cargo test --workspace
# ROS 2 (docs/ros.md): install kilted from PyPI into .ros/, lint the `ros` feature (it
# needs the ROS environment), then build `sightline node` and run its integration test.
# Feature unification (Cargo.toml) lets both reuse the dependencies compiled above (hence
# `cuda` in this clippy too: without it cubecl would be checked again without `nvidia`).
bash scripts/ros-setup.sh
( . scripts/ros-env.sh && cargo clippy -p sightline -p sightline-ros --all-targets --features ros,sightline/cuda -- -D warnings )
bash scripts/ros-test.sh
# Reliability (docs/reliability.md): a one-minute soak of the node just built, then 20 s
# of each fuzz target from its seeds, unoptimised (the build is the larger part).
bash scripts/soak.sh 60
FUZZ_DEV=1 bash scripts/fuzz.sh 20
