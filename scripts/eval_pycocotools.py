#!/usr/bin/env python3
"""pycocotools' per-class AP and AP50 for a YOLO-txt dataset and a detections JSONL.

The independent reference that `crates/eval`'s COCO metric is tested against. Converts
YOLO labels (`images/`, `labels/`, COCO 80-class ids, normalized cx cy w h) and
`sightline detect` JSONL to COCO format in memory, runs COCOeval (bbox, default params:
IoU .5:.95, 101 recall points, maxDets 100, area "all") and prints, as JSON,
{"pedestrian": {"ap": .., "ap50": .., "n_gt": ..}, "traffic_light": .., "stop_sign": ..}
(null AP where a class has no ground truth, pycocotools' -1).

Images are numbered 1..N in file-stem order and detections keep file order, which is
the order `sightline-eval` uses, so even score ties resolve the same way.

Usage: python scripts/eval_pycocotools.py --yolo DIR --detections FILE.jsonl
"""

import argparse
import contextlib
import json
import sys
from pathlib import Path

import cv2
import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

# Sightline class -> (our category id, COCO 80-class id used in YOLO labels)
CLASSES = {"pedestrian": (1, 0), "traffic_light": (2, 9), "stop_sign": (3, 11)}
IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}


def yolo_to_coco(root):
    by_yolo_id = {yid: cid for cid, yid in CLASSES.values()}
    images, anns = [], []
    paths = sorted((p for p in (root / "images").iterdir() if p.suffix.lower() in IMAGE_EXTS),
                   key=lambda p: p.stem)
    stems = {}
    for img_id, path in enumerate(paths, start=1):
        img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if img is None:
            print(f"warning: cannot read {path}, skipped", file=sys.stderr)
            continue
        h, w = img.shape[:2]
        images.append({"id": img_id, "file_name": path.name, "width": w, "height": h})
        stems[path.stem] = img_id
        label = root / "labels" / (path.stem + ".txt")
        if not label.exists():
            continue
        for line in label.read_text().splitlines():
            tok = line.split()
            if not tok:
                continue
            cid = by_yolo_id.get(int(tok[0]))
            if cid is None:
                continue
            cx, cy, bw, bh = (float(t) for t in tok[1:5])
            # Same arithmetic as crates/eval/src/dataset/yolo.rs.
            x1, y1 = (cx - bw / 2.0) * w, (cy - bh / 2.0) * h
            x2, y2 = (cx + bw / 2.0) * w, (cy + bh / 2.0) * h
            anns.append({"id": len(anns) + 1, "image_id": img_id, "category_id": cid,
                         "bbox": [x1, y1, x2 - x1, y2 - y1], "area": (x2 - x1) * (y2 - y1),
                         "iscrowd": 0})
    cats = [{"id": cid, "name": name} for name, (cid, _) in CLASSES.items()]
    return {"images": images, "annotations": anns, "categories": cats}, stems


def load_dets(path, stems):
    dets = []
    for line in Path(path).read_text().splitlines():
        if not line.strip():
            continue
        d = json.loads(line)
        img_id = stems.get(Path(d["image"]).stem if "/" in d["image"] else d["image"])
        if img_id is None:
            continue
        x1, y1, x2, y2 = d["box"]
        dets.append({"image_id": img_id, "category_id": CLASSES[d["class"]][0],
                     "bbox": [x1, y1, x2 - x1, y2 - y1], "score": d["score"]})
    return dets


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--yolo", required=True, type=Path)
    ap.add_argument("--detections", required=True)
    args = ap.parse_args()

    gt_dict, stems = yolo_to_coco(args.yolo)
    with contextlib.redirect_stdout(sys.stderr):
        gt = COCO()
        gt.dataset = gt_dict
        gt.createIndex()
        dets = load_dets(args.detections, stems)
        dt = gt.loadRes(dets) if dets else COCO()
        ev = COCOeval(gt, dt, "bbox")
        ev.evaluate()
        ev.accumulate()
    prec = ev.eval["precision"]  # [T, R, K, A, M]
    out = {}
    for k, cid in enumerate(ev.params.catIds):
        name = next(n for n, (c, _) in CLASSES.items() if c == cid)
        p = prec[:, :, k, 0, -1]
        valid = p[p > -1]
        n_gt = sum(1 for a in gt_dict["annotations"] if a["category_id"] == cid and not a["iscrowd"])
        out[name] = {
            "ap": float(np.mean(valid)) if valid.size else None,
            "ap50": float(np.mean(p[0][p[0] > -1])) if (p[0] > -1).any() else None,
            "n_gt": n_gt,
        }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
