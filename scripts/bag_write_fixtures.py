"""Write rosbag2 fixtures for `sightline-bag`'s tests with the third-party `rosbags` writer.

usage: python bag_write_fixtures.py OUT_DIR

Writes OUT_DIR/sqlite3 and OUT_DIR/mcap (the same messages in both storages) and
OUT_DIR/expected.json: every field of every message, so the Rust reader is checked
against values it did not produce. Image rows carry padding (`step` > width * channels)
filled with a marker byte; one topic is serialised big-endian.
"""
import io
import json
import shutil
import sys
from pathlib import Path

import cv2
import numpy as np
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

out_dir = Path(sys.argv[1])
ts = get_typestore(Stores.ROS2_JAZZY)
T = ts.types
Image, CompressedImage, CameraInfo = (
    T['sensor_msgs/msg/Image'], T['sensor_msgs/msg/CompressedImage'], T['sensor_msgs/msg/CameraInfo'])
Header, Time, Roi = T['std_msgs/msg/Header'], T['builtin_interfaces/msg/Time'], T['sensor_msgs/msg/RegionOfInterest']

BASE_NS = 1_700_000_000_123_456_789
rng = np.random.default_rng(7)


def header(t_ns, frame):
    return Header(stamp=Time(sec=t_ns // 10**9, nanosec=t_ns % 10**9), frame_id=frame)


def raw_image(t_ns, frame, encoding, width, height, pad):
    channels = {'rgb8': 3, 'bgr8': 3, 'mono8': 1}[encoding]
    step = width * channels + pad
    data = np.full((height, step), 0xEE, dtype=np.uint8)  # 0xEE marks the padding
    data[:, : width * channels] = rng.integers(0, 255, (height, width * channels), dtype=np.uint8)
    return Image(header=header(t_ns, frame), height=height, width=width, encoding=encoding,
                 is_bigendian=0, step=step, data=data.reshape(-1))


def compressed(t_ns, frame, fmt, width, height):
    rgb = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
    ok, buf = cv2.imencode('.jpg' if fmt == 'jpeg' else '.png', rgb[:, :, ::-1])
    assert ok
    msg = CompressedImage(header=header(t_ns, frame), format=fmt, data=buf.reshape(-1))
    # The reference pixels: lossless for png, OpenCV's own decode for jpeg.
    decoded = cv2.imdecode(buf, cv2.IMREAD_COLOR)[:, :, ::-1]
    return msg, decoded


def camera_info(t_ns, frame, i):
    return CameraInfo(
        header=header(t_ns, frame), height=375, width=1242, distortion_model='plumb_bob',
        d=np.array([-0.3 + i, 0.1, 0.001, -0.002, 0.0]),
        k=np.array([721.5, 0.0, 609.5, 0.0, 721.5, 172.8, 0.0, 0.0, 1.0]) + i,
        r=np.eye(3).reshape(-1) * (1 + i),
        p=np.arange(12, dtype=np.float64) * 0.5 + i,
        binning_x=1 + i, binning_y=2, roi=Roi(x_offset=3, y_offset=4 + i, height=100, width=200,
                                                do_rectify=bool(i % 2)))


def hexs(a):
    """Byte arrays as hex (simple to decode in a test)."""
    return np.asarray(a, dtype=np.uint8).tobytes().hex()


# (topic, type, little_endian, make(t_ns, i) -> (msg, extra expected fields))
TOPICS = [
    ('/cam_front/image_raw', 'sensor_msgs/msg/Image', True,
     lambda t, i: (raw_image(t, 'cam_front', 'rgb8', 7, 5, 3), {})),
    ('/cam_bgr/image_raw', 'sensor_msgs/msg/Image', True,
     lambda t, i: (raw_image(t, 'cam_bgr', 'bgr8', 5, 3, 1), {})),
    ('/cam_mono/image_raw', 'sensor_msgs/msg/Image', True,
     lambda t, i: (raw_image(t, 'cam_mono', 'mono8', 9, 4, 3), {})),
    ('/cam_be/image_raw', 'sensor_msgs/msg/Image', False,
     lambda t, i: (raw_image(t, 'cam_be', 'rgb8', 3, 2, 2), {})),
    ('/cam_front/image_raw/compressed', 'sensor_msgs/msg/CompressedImage', True,
     lambda t, i: (lambda m, d: (m, {'pixels_rgb8': hexs(d), 'width': d.shape[1], 'height': d.shape[0]}))(
         *compressed(t, 'cam_front', 'jpeg', 33, 17))),
    ('/cam_png/image/compressed', 'sensor_msgs/msg/CompressedImage', True,
     lambda t, i: (lambda m, d: (m, {'pixels_rgb8': hexs(d), 'width': d.shape[1], 'height': d.shape[0]}))(
         *compressed(t, 'cam_png', 'png', 13, 9))),
    ('/cam_front/camera_info', 'sensor_msgs/msg/CameraInfo', True,
     lambda t, i: (camera_info(t, 'cam_front', i), {})),
]
FRAMES = 3


def fields(msg, typename):
    h = {'sec': int(msg.header.stamp.sec), 'nanosec': int(msg.header.stamp.nanosec),
         'frame_id': msg.header.frame_id}
    if typename.endswith('/Image'):
        return {'header': h, 'height': int(msg.height), 'width': int(msg.width), 'encoding': msg.encoding,
                'is_bigendian': int(msg.is_bigendian), 'step': int(msg.step), 'data': hexs(msg.data)}
    if typename.endswith('/CompressedImage'):
        return {'header': h, 'format': msg.format, 'data': hexs(msg.data)}
    return {'header': h, 'height': int(msg.height), 'width': int(msg.width),
            'distortion_model': msg.distortion_model, 'd': msg.d.tolist(), 'k': msg.k.tolist(),
            'r': msg.r.tolist(), 'p': msg.p.tolist(), 'binning_x': int(msg.binning_x),
            'binning_y': int(msg.binning_y),
            'roi': {'x_offset': int(msg.roi.x_offset), 'y_offset': int(msg.roi.y_offset),
                    'height': int(msg.roi.height), 'width': int(msg.roi.width),
                    'do_rectify': bool(msg.roi.do_rectify)}}


# Messages are made once, then written identically to both storages.
messages = []  # (topic, type, little_endian, log_time_ns, index, msg, extra)
for i in range(FRAMES):
    for k, (topic, typename, le, make) in enumerate(TOPICS):
        t_ns = BASE_NS + i * 100_000_000 + k * 1_000
        msg, extra = make(t_ns, i)
        messages.append((topic, typename, le, t_ns, i, msg, extra))

expected = {'topics': {t: {'type': ty, 'count': FRAMES} for t, ty, _, _ in TOPICS}, 'messages': []}
for topic, typename, le, t_ns, i, msg, extra in messages:
    expected['messages'].append({'topic': topic, 'type': typename, 'log_time_ns': t_ns, 'index': i,
                                 'little_endian': le, 'fields': fields(msg, typename), **extra})
expected['start_ns'] = min(m[3] for m in messages)
expected['end_ns'] = max(m[3] for m in messages)

for plugin, name in [(StoragePlugin.SQLITE3, 'sqlite3'), (StoragePlugin.MCAP, 'mcap')]:
    out = out_dir / name
    shutil.rmtree(out, ignore_errors=True)
    with Writer(out, version=9, storage_plugin=plugin) as w:
        conns = {t: w.add_connection(t, ty, typestore=ts) for t, ty, _, _ in TOPICS}
        # Written in reverse topic order inside each frame, so that file order != time order.
        for frame in range(FRAMES):
            batch = [m for m in messages if m[4] == frame]
            for topic, typename, le, t_ns, i, msg, extra in reversed(batch):
                w.write(conns[topic], t_ns, bytes(ts.serialize_cdr(msg, typename, little_endian=le)))
(out_dir / 'expected.json').write_text(json.dumps(expected, indent=1))
print(f'wrote {len(messages)} messages per storage to {out_dir}')
