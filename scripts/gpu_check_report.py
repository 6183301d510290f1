#!/usr/bin/env python3
"""The table at the end of scripts/gpu-check.sh (standard library only: it runs on the lent
GPU machine). Arguments: the CPU reference (the detections of the same binary on lavapipe, score >=
0.25), the output directory, the devices. Reads, for each device, from that directory:

  <device>.unavailable            the device's one-line reason, where this machine lacks it
  <device>.jsonl                  ours on <device> (score >= 0.25)
  <device>.bench.json             `sightline bench` at 1280x720, one camera
  <device>.bench8.json            the same with 8 cameras (GPU_CHECK_CAMERAS) at 30 Hz

Detections agree when every detection of one side with score >= 0.3 has one of the
other side (score >= 0.25, same image and class) with IoU >= 0.9 and |score diff| <= 0.02;
the margin keeps scores near the threshold from counting as misses.

A device the machine lacks is reported, not failed; the check fails when a device it has
fails or differs, or when it has none of them.
"""

import json
import sys
from pathlib import Path


def load_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def iou(a, b):
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    area = lambda r: max(0.0, r[2] - r[0]) * max(0.0, r[3] - r[1])
    union = area(a) + area(b) - inter
    return inter / union if union > 0 else 0.0


def unmatched(strong_side, weak_side):
    """Detections of strong_side (score >= 0.3) with no counterpart in weak_side."""
    missing = []
    for d in strong_side:
        if d["score"] < 0.3:
            continue
        if not any(
            o["image"] == d["image"]
            and o["class"] == d["class"]
            and iou(o["box"], d["box"]) >= 0.9
            and abs(o["score"] - d["score"]) <= 0.02
            for o in weak_side
        ):
            missing.append(d)
    return missing


def stage(report, name, q):
    for n, stats in report["stages_ms"]:
        if n == name:
            return stats[q]
    return float("nan")


def main():
    reference = load_jsonl(sys.argv[1])
    out = Path(sys.argv[2])
    rows = []
    failed = False
    devices = sys.argv[3:]
    absent = []
    for device in devices:
        reason_path = out / f"{device}.unavailable"
        if reason_path.exists():
            absent.append(device)
            rows.append(f"| {device} | not on this machine: {reason_path.read_text().strip()} | | | | | |")
            continue
        det_path = out / f"{device}.jsonl"
        if not det_path.exists():
            rows.append(f"| {device} | did not run (see {device}.detect.log) | | | | | |")
            failed = True
            continue
        ours = load_jsonl(det_path)
        missed = unmatched(reference, ours)
        extra = unmatched(ours, reference)
        strong = sum(d["score"] >= 0.3 for d in reference)
        agree = not missed and not extra
        failed |= not agree
        check = f"{'ok' if agree else 'DIFFERS'}: {strong - len(missed)}/{strong} found, {len(extra)} extra"
        for d in (missed + extra)[:5]:
            print(f"{device}: unmatched {d}", file=sys.stderr)
        one, eight = out / f"{device}.bench.json", out / f"{device}.bench8.json"
        if not one.exists():
            rows.append(f"| {device} | | {check} | bench did not run | | | |")
            continue
        b = json.loads(one.read_text())
        per_stage = " / ".join(
            f"{stage(b, s, 'p50'):.2f}" for s in ("upload", "preprocess", "inference", "postprocess")
        )
        multi = "did not run"
        if eight.exists():
            fr = json.loads(eight.read_text()).get("fixed_rate")
            if fr:
                lat = fr["latency_ms"]
                multi = (f"{fr['cameras']} × {fr['rate_hz']:.0f} Hz: {lat['p50']:.2f} / {lat['p99']:.2f} ms, "
                         f"{100 * fr['dropped_fraction']:.1f} % dropped")
        rows.append(
            f"| {device} | {b['device']} | {check} | {b['startup_ms'] / 1e3:.1f} s "
            f"| {stage(b, 'total', 'p50'):.2f} / {stage(b, 'total', 'p99'):.2f} ms ({per_stage}) "
            f"| {b['throughput_fps']:.1f} | {multi} |"
        )
    print()
    print("| device | adapter | detections vs CPU reference | start-up "
          "| 1280×720 frame p50 / p99 (upload / pre / inference / post p50) "
          "| frames/s | cameras at 30 Hz: p50 / p99 |")
    print("|---|---|---|---:|---|---:|---|")
    for row in rows:
        print(row)
    ran = [d for d in devices if d not in absent]
    print()
    print(f"devices run: {' '.join(ran) or 'none'}; not on this machine: {' '.join(absent) or 'none'}")
    sys.exit(1 if failed or not ran else 0)


if __name__ == "__main__":
    main()
