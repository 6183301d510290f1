"""Peer timing for `sightline bench --peers`: onnxruntime (CPU) and tract running the
same model on the same images, each with the reference pre-processing (cv2 letterbox)
and post-processing (decode + NMS), with the thread count Sightline has. Prints JSON on
stdout: one object per peer.

usage: bench_peers.py --model M --frames N --threads T IMAGE...
"""
import argparse
import json
import pathlib
import sys
import time
import types

import cv2
import numpy as np
import onnxruntime as ort
import tract

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from ort_detect import detect, grids  # noqa: E402  (the reference pipeline itself)


def stats(ms):
    ms = sorted(ms)
    at = lambda q: ms[min(len(ms), max(1, int(np.ceil(q * len(ms))))) - 1]  # noqa: E731
    return {"p50": at(0.5), "p90": at(0.9), "p99": at(0.99), "max": ms[-1], "mean": float(np.mean(ms))}


class TractSession:
    """tract's runnable model behind the two onnxruntime calls the reference uses."""

    def __init__(self, path):
        self.runnable = tract.onnx().load(path).into_model().into_runnable()

    def get_inputs(self):
        return [types.SimpleNamespace(name="images")]

    def run(self, _outputs, feeds):
        (blob,) = feeds.values()
        return [self.runnable.run([blob])[0].to_numpy()]


def measure(session, images, frames):
    """Whole-frame latency: rgb8 frame in (decoded up front, as Sightline's bench does),
    detections out."""
    grid, stride = grids()
    for i in range(3):
        detect(session, cv2.cvtColor(images[i % len(images)], cv2.COLOR_RGB2BGR), grid, stride, 0.3, 0.65)
    total = []
    for i in range(frames):
        rgb = images[i % len(images)]
        t = time.perf_counter()
        # The frame arrives as rgb8, like Sightline's input; the model wants BGR.
        detect(session, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), grid, stride, 0.3, 0.65)
        total.append((time.perf_counter() - t) * 1e3)
    return stats(total)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--frames", type=int, default=50)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("images", nargs="+")
    a = ap.parse_args()
    images = [cv2.cvtColor(cv2.imread(p), cv2.COLOR_BGR2RGB) for p in a.images]
    report = {}

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = a.threads
    opts.inter_op_num_threads = 1
    t0 = time.perf_counter()
    session = ort.InferenceSession(a.model, opts, providers=["CPUExecutionProvider"])
    startup = (time.perf_counter() - t0) * 1e3
    report["onnxruntime"] = {"version": ort.__version__, "threads": a.threads, "startup_ms": startup,
                             "total_ms": measure(session, images, a.frames)}

    # The tract wheel takes no thread count; on this model it used one core here (user
    # time below wall time over 20 runs), so it is reported as single-threaded.
    t0 = time.perf_counter()
    session = TractSession(a.model)
    startup = (time.perf_counter() - t0) * 1e3
    report["tract"] = {"version": tract.version(), "threads": 1, "startup_ms": startup,
                       "total_ms": measure(session, images, a.frames)}
    json.dump(report, sys.stdout)


if __name__ == "__main__":
    main()
