#!/usr/bin/env python3
"""Adds a flat-ground `range_m` to KITTI detections: a baseline for range-error plots.

Not Sightline's localizer (that is crates/geometry): the simplest independent estimate,
so `sightline eval` range-error reports and plots can be exercised and compared. For
each pedestrian box, the ray through the bottom-centre pixel (u, y2) of camera 2 meets
a flat road `--camera-height` metres (KITTI: 1.65) below the camera:
Z = fy * h / (y2 - cy), X = ((u - cx) * Z - P2[0,3]) / fx, range = hypot(X, Z) — the
horizontal range `crates/eval` compares with hypot(x, z) of the label. Boxes whose
bottom is at or above the horizon get no range.

Usage: python scripts/eval_ground_range.py --calib-dir KITTI/calib IN.jsonl OUT.jsonl
"""

import argparse
import json
import math
from pathlib import Path


def read_p2(path):
    for line in Path(path).read_text().splitlines():
        if line.startswith("P2:"):
            v = [float(x) for x in line.split()[1:]]
            return v[0], v[5], v[2], v[6], v[3]  # fx, fy, cx, cy, fx*tx
    raise ValueError(f"{path}: no P2 line")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--calib-dir", required=True, type=Path)
    ap.add_argument("--camera-height", type=float, default=1.65)
    ap.add_argument("input")
    ap.add_argument("output")
    args = ap.parse_args()
    cache = {}
    with open(args.input) as src, open(args.output, "w") as dst:
        for line in src:
            if not line.strip():
                continue
            d = json.loads(line)
            if d["class"] == "pedestrian":
                if d["image"] not in cache:
                    cache[d["image"]] = read_p2(args.calib_dir / f"{d['image']}.txt")
                fx, fy, cx, cy, p03 = cache[d["image"]]
                x1, _, x2, y2 = d["box"]
                if y2 - cy > 1.0:
                    z = fy * args.camera_height / (y2 - cy)
                    x = (((x1 + x2) / 2.0 - cx) * z - p03) / fx
                    d["range_m"] = round(math.hypot(x, z), 3)
            dst.write(json.dumps(d) + "\n")


if __name__ == "__main__":
    main()
