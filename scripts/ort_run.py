"""Runs the ONNX model with onnxruntime (CPU) on input tensors written by a test.

usage: ort_run.py MODEL DIR
For every DIR/*.input.bin (little-endian f32, the model's input shape) writes
DIR/*.ort.bin with the raw model output. Used as the independent reference our
engine is compared against.
"""
import pathlib
import sys

import numpy as np
import onnxruntime as ort

model, directory = sys.argv[1], pathlib.Path(sys.argv[2])
session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
meta = session.get_inputs()[0]
for path in sorted(directory.glob("*.input.bin")):
    x = np.fromfile(path, dtype="<f4").reshape(meta.shape)
    (y,) = session.run(None, {meta.name: x})
    y.astype("<f4").tofile(str(path).replace(".input.bin", ".ort.bin"))
    print(path.name, y.shape)
