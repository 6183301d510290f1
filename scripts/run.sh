#!/usr/bin/env bash
# The main job on the data at hand: set up, build, detect pedestrians, stop signs and
# traffic lights in every image of ../shared/data, score the detector against the
# labels, and write everything under out/. Ends with a one-screen summary.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. scripts/mesa-env.sh   # Mesa 25 lavapipe from .mesa/ on a machine without a GPU
SHARED="${SIGHTLINE_SHARED:-$(cd .. && pwd)/shared}"
export SIGHTLINE_MODELS="${SIGHTLINE_MODELS:-$SHARED/models}"
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
cargo build --release --quiet
bin=target/release/sightline
mkdir -p out
# data set, its images, its labels for `sightline eval`
sets=(
  "coco128-val2017 coco128-val2017/images yolo:$SHARED/data/coco128-val2017"
  "roadsign roadsign/images voc:$SHARED/data/roadsign"
  "kitti-tiny kitti-tiny/image_2 kitti:$SHARED/data/kitti-tiny"
)
for entry in "${sets[@]}"; do
  read -r name images labels <<<"$entry"
  echo "== detect: $name"
  $bin detect --jsonl "out/$name.jsonl" --annotate "out/$name-annotated" "$SHARED/data/$images"
  echo "== score: $name against its labels"
  $bin eval --dataset "$labels" --detections "out/$name.jsonl" --report "out/$name-report" >/dev/null
done
echo "== results in out/ (JSON lines, annotated PNGs, <set>-report/report.md)"
echo
echo "Summary: the detector (score >= 0.3) on each data set; AP is COCO AP@[.5:.95]"
echo "against the labels, from these detections (a low-score tail would raise it)."
.venv/bin/python - "$SHARED/data" "${sets[@]}" <<'PY'
import json, sys, pathlib
data = pathlib.Path(sys.argv[1])
classes = ["pedestrian", "traffic_light", "stop_sign"]
print(f"{'data set':<16} {'images':>6}  " + "  ".join(f"{c + ' dets/AP':>22}" for c in classes))
for entry in sys.argv[2:]:
    name, images, _ = entry.split()
    n = sum(1 for p in (data / images).iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    counts = {c: 0 for c in classes}
    for line in open(f"out/{name}.jsonl"):
        counts[json.loads(line)["class"]] += 1
    report = json.load(open(f"out/{name}-report/report.json"))
    cells = []
    for c in classes:
        ap = report["classes"].get(c, {}).get("ap")
        cells.append(f"{counts[c]:>8} / {'  n/a' if ap is None else f'{ap:.3f}':>11}")
    print(f"{name:<16} {n:>6}  " + "  ".join(f"{cell:>22}" for cell in cells))
PY
