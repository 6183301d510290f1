"""Read a bag written by `sightline-bag` with the third-party `rosbags` reader and print
every message as JSON (one object per line), so Rust tests can compare decoded fields
with what they wrote.

usage: python bag_read_detections.py BAG MSG_DIR
MSG_DIR holds our vision_msgs/*.msg; they are registered in rosbags' typestore from the
.msg text (rosbags does not ship vision_msgs). Also prints, once per connection, whether
the schema stored in the bag parses to the same fields as the registered type.
"""
import json
import sys
from pathlib import Path

from rosbags.rosbag2 import Reader
from rosbags.typesys import Stores, get_types_from_msg, get_typestore

bag, msg_dir = Path(sys.argv[1]), Path(sys.argv[2])
ts = get_typestore(Stores.ROS2_HUMBLE)
types = {}
for f in sorted((msg_dir / 'vision_msgs').glob('*.msg')):
    types.update(get_types_from_msg(f.read_text(), f'vision_msgs/msg/{f.stem}'))
ts.register(types)


def header(h):
    return {'sec': int(h.stamp.sec), 'nanosec': int(h.stamp.nanosec), 'frame_id': h.frame_id}


def pose(p):
    return {'position': [p.position.x, p.position.y, p.position.z],
            'orientation': [p.orientation.x, p.orientation.y, p.orientation.z, p.orientation.w]}


def results(rs):
    return [{'class_id': r.hypothesis.class_id, 'score': r.hypothesis.score, 'pose': pose(r.pose.pose),
             'covariance': r.pose.covariance.tolist()} for r in rs]


def detection(d, msgtype):
    out = {'header': header(d.header), 'results': results(d.results), 'id': d.id}
    if msgtype.endswith('Detection2DArray'):
        b = d.bbox
        out['bbox'] = [b.center.position.x, b.center.position.y, b.center.theta, b.size_x, b.size_y]
    else:
        out['bbox'] = {'center': pose(d.bbox.center), 'size': [d.bbox.size.x, d.bbox.size.y, d.bbox.size.z]}
    return out


with Reader(bag) as reader:
    for c in reader.connections:
        # The schema text we stored must define the same fields as upstream's .msg files.
        stored = get_types_from_msg(c.msgdef.data, c.msgtype)
        same = all(stored[k] == types[k] for k in stored if k in types) if c.msgtype in types else None
        print(json.dumps({'connection': c.topic, 'type': c.msgtype, 'count': c.msgcount,
                          'schema_matches': same}))
    for conn, t, raw in reader.messages():
        m = ts.deserialize_cdr(raw, conn.msgtype)
        line = {'topic': conn.topic, 'type': conn.msgtype, 'log_time_ns': t}
        if conn.msgtype.startswith('vision_msgs/msg/Detection'):
            line['header'] = header(m.header)
            line['detections'] = [detection(d, conn.msgtype) for d in m.detections]
        elif conn.msgtype == 'sensor_msgs/msg/Image':
            line.update(header=header(m.header), width=int(m.width), height=int(m.height),
                        encoding=m.encoding, step=int(m.step), data_len=len(m.data),
                        data_sum=int(m.data.astype('uint64').sum()))
        elif conn.msgtype == 'sensor_msgs/msg/CompressedImage':
            line.update(header=header(m.header), format=m.format, data_len=len(m.data),
                        data_sum=int(m.data.astype('uint64').sum()))
        print(json.dumps(line))
