#!/usr/bin/env python3
"""Grid search of the traffic-light state rule on the TUNING part of ../shared/data/tl-state.

How the constants of crates/detect/src/tl_state.rs were chosen (docs/accuracy.md). Only
crops whose file name starts with 0-7 are read (the held-out part is never opened).
Each crop is sampled as the kernel does (32 rows along the long axis x 16 across,
nearest pixel at origin + (2p + 1) * size // 2n), samples become HSV, lit samples
(s >= smin, v >= vmin) add s * v**vexp to the red / yellow / green mass of their row;
the rows are weighed by the lamp zones and the colour with the most mass wins if it is
at least min_lit per sample. Prints the best configurations by accuracy + 0.2 * the
lowest per-state recall. Deterministic (no randomness).

  .venv/bin/python scripts/tl_state_tune.py [--shared ../shared]
"""
import argparse
import itertools
import os

import cv2
import numpy as np

LONG, SHORT = 32, 16
STATES = ["red", "yellow", "green"]


def samples(path):
    """(row, hue deg, s, v) of the kernel's sample grid over the whole crop."""
    bgr = cv2.imread(path)
    h, w = bgr.shape[:2]
    rgb = bgr[:, :, ::-1].astype(np.float32) / 255.0
    upright = h >= w
    out = []
    for row in range(LONG):
        for across in range(SHORT):
            if upright:
                x, y = (2 * across + 1) * w // (2 * SHORT), (2 * row + 1) * h // (2 * LONG)
            else:
                x, y = (2 * row + 1) * w // (2 * LONG), (2 * across + 1) * h // (2 * SHORT)
            r, g, b = rgb[y, x]
            hi, lo = max(r, g, b), min(r, g, b)
            d = hi - lo
            s = d / hi if hi > 0 else 0.0
            if d <= 0:
                hue = 0.0
            elif hi == r:
                hue = 60 * (g - b) / d
            elif hi == g:
                hue = 60 * (b - r) / d + 120
            else:
                hue = 60 * (r - g) / d + 240
            out.append((row, hue + 360 if hue < 0 else hue, s, hi))
    return np.array(out), upright


def masses(a, m):
    row, hue, s, v = a.T
    lit = (s >= m["smin"]) & (v >= m["vmin"])
    w = np.where(lit, s * v ** m["vexp"], 0.0)
    red = (hue >= 320) | (hue < m["yellow_from"])
    yellow = (hue >= m["yellow_from"]) & (hue < 50)
    green = (hue >= 150) & (hue < 200)
    out = np.zeros((LONG, 3))
    for k, mask in enumerate([red, yellow, green]):
        np.add.at(out[:, k], row[mask].astype(int), w[mask])
    return out


def decide(rows, upright, z):
    at = (np.arange(LONG) + 0.5) / LONG
    if upright:
        wr = np.where(at < z["red_to"], 1, z["off"])
        wy = np.where((at > z["yellow_zone"]) & (at < 1 - z["yellow_zone"]), 1, z["yellow_off"])
        wg = np.where(at > z["green_from"], 1, z["off"])
    else:
        wr = wy = wg = np.ones(LONG)
    c = np.array([(rows[:, 0] * wr).sum(), (rows[:, 1] * wy).sum(), (rows[:, 2] * wg).sum()])
    k = int(np.argmax(c))
    return 3 if c[k] / (LONG * SHORT) < z["min_lit"] else k


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=os.environ.get("SIGHTLINE_SHARED", "../shared"))
    args = ap.parse_args()
    crops = []
    for k, state in enumerate(STATES):
        d = os.path.join(args.shared, "data/tl-state", state)
        for f in sorted(os.listdir(d)):
            if f.lower().endswith(".jpg") and f[0] in "01234567":
                crops.append((k, *samples(os.path.join(d, f))))
    print(f"tuning part: {len(crops)} crops")
    results = []
    for smin, vmin, vexp, yellow_from in itertools.product([0.04], [0.4], [2, 4], [5, 10, 15]):
        m = dict(smin=smin, vmin=vmin, vexp=vexp, yellow_from=yellow_from)
        rows = [(k, masses(a, m), up) for k, a, up in crops]
        for red_to, green_from, off, yz, yoff, ml in itertools.product(
                [0.4, 0.5], [0.5, 0.6], [0.1, 0.3], [0.0, 0.2, 0.25], [0.3, 1.0], [0.0002, 0.0005, 0.001]):
            z = dict(red_to=red_to, green_from=green_from, off=off, yellow_zone=yz, yellow_off=yoff, min_lit=ml)
            conf = np.zeros((3, 4), int)
            for k, r, up in rows:
                conf[k, decide(r, up, z)] += 1
            acc = np.trace(conf[:, :3]) / conf.sum()
            rec = conf.diagonal() / conf.sum(1)
            results.append((acc + 0.2 * rec.min(), acc, tuple(np.round(rec, 3)), m, z))
    results.sort(key=lambda r: -r[0])
    for objective, acc, rec, m, z in results[:10]:
        print(f"{objective:.4f} accuracy {acc:.4f} recall {rec} masks {m} zones {z}")


if __name__ == "__main__":
    main()
