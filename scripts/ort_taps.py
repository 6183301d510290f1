"""Intermediate values of an ONNX model by onnxruntime (CPU), for the engine's taps.

usage: ort_taps.py MODEL DIR NAME...
Adds each value NAME as a graph output, runs DIR/*.input.bin (little-endian f32, the
model's input shape) and writes DIR/<stem>.<k>.ort.bin with value NAME[k].
"""
import pathlib
import sys

import numpy as np
import onnx
import onnxruntime as ort

model_path, directory, names = sys.argv[1], pathlib.Path(sys.argv[2]), sys.argv[3:]
model = onnx.load(model_path)
known = {o for n in model.graph.node for o in n.output}
missing = [n for n in names if n not in known]
if missing:
    sys.exit(f"no such values in {model_path}: {missing}")
model.graph.output.extend(
    onnx.helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, None) for n in names
)
session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
meta = session.get_inputs()[0]
for path in sorted(directory.glob("*.input.bin")):
    x = np.fromfile(path, dtype="<f4").reshape(meta.shape)
    values = session.run(names, {meta.name: x})
    stem = path.name.removesuffix(".input.bin")
    for k, v in enumerate(values):
        v.astype("<f4").tofile(directory / f"{stem}.{k}.ort.bin")
        print(path.name, names[k], v.shape)
