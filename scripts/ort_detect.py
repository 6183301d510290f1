#!/usr/bin/env python3
"""Reference YOLOX-Nano detector on onnxruntime (CPU), independent of Sightline's own pipeline.

It is the yardstick that `sightline eval` numbers are compared with: letterbox 416x416
(image at the top-left, pad 114, scale r = min(416/h, 416/w)), raw 0-255 BGR NCHW float32,
grid decoding with strides 8/16/32, score = objectness x class probability for the three
COCO classes Sightline reports, class-aware NMS at IoU 0.65, boxes mapped back to the
original image and clipped. Output: one JSON object per line in the `sightline detect`
schema: {"image": stem, "class": name, "score": s, "box": [x1, y1, x2, y2]}.

Usage:
    python scripts/ort_detect.py --model ../shared/models/yolox_nano.onnx \
        --score-threshold 0.001 --jsonl out.jsonl IMAGE_OR_DIR...
"""

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

SIZE = 416
STRIDES = (8, 16, 32)
# COCO class id -> Sightline class name.
CLASSES = {0: "pedestrian", 9: "traffic_light", 11: "stop_sign"}
IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp"}


def letterbox(img):
    h, w = img.shape[:2]
    r = min(SIZE / h, SIZE / w)
    resized = cv2.resize(img, (int(w * r), int(h * r)), interpolation=cv2.INTER_LINEAR)
    padded = np.full((SIZE, SIZE, 3), 114, dtype=np.uint8)
    padded[: resized.shape[0], : resized.shape[1]] = resized
    blob = padded.astype(np.float32).transpose(2, 0, 1)[None]
    return np.ascontiguousarray(blob), r


def grids():
    cells, strides = [], []
    for s in STRIDES:
        n = SIZE // s
        ys, xs = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
        cells.append(np.stack([xs, ys], axis=-1).reshape(-1, 2))
        strides.append(np.full((n * n, 1), s))
    return np.concatenate(cells).astype(np.float32), np.concatenate(strides).astype(np.float32)


def nms(boxes, scores, iou_thr):
    """Greedy NMS in numpy (x1, y1, x2, y2 boxes); returns kept indices, best first."""
    order = np.argsort(-scores, kind="stable")
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    keep = []
    while order.size:
        i = order[0]
        keep.append(i)
        rest = order[1:]
        xx1 = np.maximum(boxes[i, 0], boxes[rest, 0])
        yy1 = np.maximum(boxes[i, 1], boxes[rest, 1])
        xx2 = np.minimum(boxes[i, 2], boxes[rest, 2])
        yy2 = np.minimum(boxes[i, 3], boxes[rest, 3])
        inter = np.clip(xx2 - xx1, 0, None) * np.clip(yy2 - yy1, 0, None)
        iou = inter / (areas[i] + areas[rest] - inter + 1e-12)
        order = rest[iou <= iou_thr]
    return keep


def detect(session, img, grid, stride, score_thr, nms_thr):
    h, w = img.shape[:2]
    blob, r = letterbox(img)
    out = session.run(None, {session.get_inputs()[0].name: blob})[0][0]
    xy = (out[:, :2] + grid) * stride
    wh = np.exp(out[:, 2:4]) * stride
    boxes = np.concatenate([xy - wh / 2, xy + wh / 2], axis=1)
    dets = []
    for cls_id, name in CLASSES.items():
        scores = out[:, 4] * out[:, 5 + cls_id]
        mask = scores >= score_thr
        if not mask.any():
            continue
        b, s = boxes[mask], scores[mask]
        for i in nms(b, s, nms_thr):
            x1, y1, x2, y2 = (b[i] / r).tolist()
            x1, x2 = min(max(x1, 0.0), w), min(max(x2, 0.0), w)
            y1, y2 = min(max(y1, 0.0), h), min(max(y2, 0.0), h)
            dets.append((name, float(s[i]), [x1, y1, x2, y2]))
    dets.sort(key=lambda d: -d[1])
    return dets


def image_paths(inputs):
    for arg in inputs:
        p = Path(arg)
        if p.is_dir():
            yield from sorted(q for q in p.iterdir() if q.suffix.lower() in IMAGE_EXTS)
        else:
            yield p


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--score-threshold", type=float, default=0.001)
    ap.add_argument("--nms-threshold", type=float, default=0.65)
    ap.add_argument("--jsonl", required=True, help="output file ('-' for stdout)")
    ap.add_argument("inputs", nargs="+", help="image files or directories")
    args = ap.parse_args()

    opts = ort.SessionOptions()
    session = ort.InferenceSession(args.model, opts, providers=["CPUExecutionProvider"])
    grid, stride = grids()
    out = sys.stdout if args.jsonl == "-" else open(args.jsonl, "w")
    n = 0
    for path in image_paths(args.inputs):
        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if img is None:
            print(f"warning: cannot read image {path}, skipped", file=sys.stderr)
            continue
        for name, score, box in detect(session, img, grid, stride, args.score_threshold, args.nms_threshold):
            rec = {"image": path.stem, "class": name, "score": round(score, 6),
                   "box": [round(v, 2) for v in box]}
            out.write(json.dumps(rec) + "\n")
            n += 1
    if out is not sys.stdout:
        out.close()
    print(f"{n} detections", file=sys.stderr)


if __name__ == "__main__":
    main()
