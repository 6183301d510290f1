"""Seed corpora for the fuzz targets (fuzz/fuzz_targets), from real files: the repo's
calibrations, manifest and parameters, ../shared's images, labels and model, and bags
written by the third-party `rosbags` writer (scripts/bag_write_fixtures.py).

usage: python fuzz_seeds.py SHARED_DIR OUT_DIR

Writes OUT_DIR/<target>/<name> files. Nothing here is committed: the ONNX seeds are cut
from YOLOX-Nano's graph (small sub-models with their weights), and the image seeds are
thumbnails of ../shared photos. A target's first byte selects what the rest is (see the
target's source); seeds carry that byte.
"""
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
import onnx
from onnx import TensorProto, helper
from rosbags.rosbag2 import Reader
from ruamel.yaml import YAML  # comes with rosbags

REPO = Path(__file__).resolve().parent.parent
shared, out = Path(sys.argv[1]), Path(sys.argv[2])


def seed(target, name, data):
    d = out / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data if isinstance(data, bytes) else data.encode())


# --- onnx_model: YOLOX-Nano cut after its first nodes, and one graph per op family.
model = onnx.load(str(shared / 'models' / 'yolox_nano.onnx'))
with tempfile.TemporaryDirectory() as tmp:
    full = Path(tmp) / 'full.onnx'
    onnx.save(model, str(full))
    for count in (2, 4, 8, 16):
        outputs = [model.graph.node[count - 1].output[0]]
        part = Path(tmp) / f'first{count}.onnx'
        onnx.utils.extract_model(str(full), str(part), ['images'], outputs)
        seed('onnx_model', f'yolox_first{count}.onnx', part.read_bytes())


def tiny(name, nodes, inputs, outputs, inits=()):
    graph = helper.make_graph(nodes, name, inputs, outputs, list(inits))
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 11)])
    seed('onnx_model', f'{name}.onnx', m.SerializeToString())


def vi(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


rng = np.random.default_rng(1)
w = helper.make_tensor('w', TensorProto.FLOAT, [4, 3, 3, 3], rng.standard_normal(108).astype(np.float32))
b = helper.make_tensor('b', TensorProto.FLOAT, [4], np.zeros(4, np.float32))
tiny('conv_silu', [
    helper.make_node('Conv', ['x', 'w', 'b'], ['c'], kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[2, 2]),
    helper.make_node('Sigmoid', ['c'], ['s']),
    helper.make_node('Mul', ['c', 's'], ['y']),
], [vi('x', [1, 3, 8, 8])], [vi('y', [1, 4, 4, 4])], [w, b])
tiny('pool_concat_resize', [
    helper.make_node('MaxPool', ['x'], ['p'], kernel_shape=[5, 5], pads=[2, 2, 2, 2], strides=[1, 1]),
    helper.make_node('Concat', ['x', 'p'], ['c'], axis=1),
    helper.make_node('Resize', ['c', '', 'scales'], ['y'], mode='nearest'),
], [vi('x', [1, 3, 8, 8])], [vi('y', [1, 6, 16, 16])],
    [helper.make_tensor('scales', TensorProto.FLOAT, [4], [1, 1, 2, 2])])
tiny('slice_reshape_transpose', [
    helper.make_node('Slice', ['x', 'starts', 'ends', 'axes', 'steps'], ['s']),
    helper.make_node('Reshape', ['s', 'shape'], ['r']),
    helper.make_node('Transpose', ['r'], ['y'], perm=[0, 2, 1]),
], [vi('x', [1, 3, 8, 8])], [vi('y', [1, 16, 3])], [
    helper.make_tensor('starts', TensorProto.INT64, [2], [0, 0]),
    helper.make_tensor('ends', TensorProto.INT64, [2], [8, 8]),
    helper.make_tensor('axes', TensorProto.INT64, [2], [2, 3]),
    helper.make_tensor('steps', TensorProto.INT64, [2], [2, 2]),
    helper.make_tensor('shape', TensorProto.INT64, [3], [1, 3, 16]),
])

# --- bags: the fixtures the bag tests read, in both storages; cdr_messages: their messages.
CDR_SELECTOR = {'sensor_msgs/msg/Image': 0, 'sensor_msgs/msg/CompressedImage': 1,
                'sensor_msgs/msg/CameraInfo': 2}
with tempfile.TemporaryDirectory() as tmp:
    subprocess.run([sys.executable, str(REPO / 'scripts' / 'bag_write_fixtures.py'), tmp], check=True,
                   stdout=subprocess.DEVNULL)
    for storage, target, ext in (('mcap', 'bag_mcap', 'mcap'), ('sqlite3', 'bag_sqlite', 'db3')):
        for f in sorted((Path(tmp) / storage).glob(f'*.{ext}')):
            seed(target, f.name, f.read_bytes())
            if ext == 'mcap':  # bag_recover: whole, and cut short as a killed writer leaves it
                data = f.read_bytes()
                seed('bag_recover', f.name, data)
                seed('bag_recover', f'cut_{f.name}', data[:len(data) * 2 // 3])
    with Reader(Path(tmp) / 'mcap') as reader:
        for n, (conn, _, raw) in enumerate(reader.messages()):
            selector = CDR_SELECTOR[conn.msgtype]
            seed('cdr_messages', f'{n:03d}_{conn.msgtype.split("/")[-1]}', bytes([selector]) + bytes(raw))
            if selector != 2:  # frame_pixels reads stored image messages too (0x40 | compressed/raw)
                seed('frame_pixels', f'bag_{n:03d}', bytes([0x40 | (1 if selector == 0 else 0)]) + bytes(raw))

# --- frame_pixels: encoded thumbnails of real photos, and raw frames of each encoding.
photos = sorted((shared / 'data' / 'kitti-tiny' / 'image_2').glob('*.png'))[:2] + \
    sorted((shared / 'data' / 'roadsign' / 'images').glob('*.png'))[:2]
for k, p in enumerate(photos):
    img = cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
    small = cv2.resize(img, (24, 16), interpolation=cv2.INTER_AREA)
    for ext in ('.jpg', '.png'):  # png keeps 16-bit sources 16-bit; jpeg is 8-bit
        ok, buf = cv2.imencode(ext, small if ext == '.png' or small.dtype == np.uint8 else (small // 257).astype(np.uint8))
        assert ok
        seed('frame_pixels', f'photo{k}{ext}', bytes([0]) + buf.tobytes())
for index, (encoding, channels) in enumerate([('rgb8', 3), ('bgr8', 3), ('mono8', 1), ('rgba8', 4)]):
    width, height, step = 6, 4, 6 * channels + 2
    header = np.array([width, height, step], dtype='<u4').tobytes()
    pixels = rng.integers(0, 255, step * height, dtype=np.uint8).tobytes()
    seed('frame_pixels', f'raw_{encoding}', bytes([1 | (index << 1)]) + header + pixels)

# --- calibration_yaml, model_manifest, node_params: the repo's own files.
for p in sorted((REPO / 'calibration').glob('*.yaml')):
    seed('calibration_yaml', p.name, p.read_bytes())
for p in sorted((REPO / 'models').glob('*.yaml')):
    seed('model_manifest', p.name, p.read_bytes())


def flatten(prefix, value, lines):
    if isinstance(value, dict):
        for k, v in value.items():
            flatten(f'{prefix}.{k}' if prefix else k, v, lines)
    elif isinstance(value, list):
        lines.append(f'{prefix}=[{",".join(map(str, value))}]')
    else:
        lines.append(f'{prefix}={str(value).lower() if isinstance(value, bool) else value}')


for p in sorted((REPO / 'launch' / 'params').glob('*.yaml')):
    params = next(iter(YAML(typ='safe').load(p.read_text()).values()))['ros__parameters']
    lines = []
    flatten('', params, lines)
    seed('node_params', p.stem, '\n'.join(lines) + '\n')
seed('node_params', 'one_camera', 'cameras=[/camera/front]\ncamera.front.transport=compressed\n'
     'camera.front.calibration=calibration/kitti_cam2.yaml\ntiling=grid:3x2\ndevice=cpu\n')

# --- eval_labels: real KITTI, YOLO (COCO ids) and VOC labels, a YOLO data.yaml, a COCO file.
for p in sorted((shared / 'data' / 'kitti-tiny' / 'label_2').glob('*.txt'))[:3]:
    seed('eval_labels', f'kitti_{p.name}', bytes([0]) + p.read_bytes())
for p in sorted((shared / 'data' / 'coco128-val2017' / 'labels').glob('*.txt'))[:3]:
    seed('eval_labels', f'yolo_{p.name}', bytes([1]) + p.read_bytes())
seed('eval_labels', 'yolo_data.yaml', bytes([2]) + b'names:\n  0: person\n  1: red\n  2: yellow\n  3: green\n')
for p in sorted((shared / 'data' / 'roadsign' / 'annotations').glob('*.xml'))[:3]:
    seed('eval_labels', f'voc_{p.name}', bytes([3]) + p.read_bytes())
coco = {'images': [{'id': 1, 'file_name': '000001.png'}],
        'annotations': [{'image_id': 1, 'category_id': 1, 'bbox': [0.5, 0.5, 2, 1.5], 'area': 3.0, 'iscrowd': 0}],
        'categories': [{'id': 1, 'name': 'person'}, {'id': 13, 'name': 'stop sign'}]}
seed('eval_labels', 'coco.json', bytes([4]) + json.dumps(coco).encode())

for d in sorted(out.iterdir()):
    files = list(d.iterdir())
    print(f'{d.name}: {len(files)} seeds, {sum(f.stat().st_size for f in files)} bytes')
