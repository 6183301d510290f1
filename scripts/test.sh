#!/usr/bin/env bash
# The whole test suite, as CI runs it: set-up, lints, then every test of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export SIGHTLINE_SHARED="${SIGHTLINE_SHARED:-$(cd .. && pwd)/shared}"
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"   # silences the Vulkan loader's warnings
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace
