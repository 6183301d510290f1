#!/usr/bin/env bash
# The main job on the data at hand: set up, build, detect pedestrians, stop signs and
# traffic lights in every image of ../shared/data, score the detector against the
# labels, and write everything under out/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
SHARED="${SIGHTLINE_SHARED:-$(cd .. && pwd)/shared}"
export SIGHTLINE_MODELS="${SIGHTLINE_MODELS:-$SHARED/models}"
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
cargo build --release --quiet
bin=target/release/sightline
mkdir -p out
for set in coco128-val2017/images roadsign/images kitti-tiny/image_2; do
  name=${set%%/*}
  echo "== detect: $name"
  $bin detect --jsonl "out/$name.jsonl" --annotate "out/$name-annotated" "$SHARED/data/$set"
done
echo "== results in out/ (JSON lines + annotated PNGs)"
