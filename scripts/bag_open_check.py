"""Open a rosbag2 folder the way people's tools do and print what each one reads, as one
JSON object: {"rosbags": {topic: [log_time, ...]} or {"error": ...},
"mcap": {...} or {"error": ...}, "mcap_summary": bool}.

- rosbags: `rosbags.highlevel.AnyReader`, which needs `metadata.yaml`;
- mcap: the `mcap` package's documented entry point, `make_reader(f).iter_messages()`,
  on each .mcap file of the folder (it seeks to the footer first).

usage: python bag_open_check.py BAG_DIR
"""
import json
import sys
from collections import defaultdict
from pathlib import Path

from mcap.reader import make_reader
from rosbags.highlevel import AnyReader

bag = Path(sys.argv[1])
out = {}
try:
    times = defaultdict(list)
    with AnyReader([bag]) as reader:
        for connection, log_time, _raw in reader.messages():
            times[connection.topic].append(log_time)
    out['rosbags'] = times
except Exception as e:  # noqa: BLE001 - the point is to report what the tool said
    out['rosbags'] = {'error': f'{type(e).__name__}: {e}'}

try:
    times = defaultdict(list)
    summary = False
    for path in sorted(bag.glob('*.mcap')):
        with open(path, 'rb') as f:
            reader = make_reader(f)
            summary = summary or reader.get_summary() is not None
            for _schema, channel, message in reader.iter_messages(log_time_order=False):
                times[channel.topic].append(message.log_time)
    out['mcap'] = times
    out['mcap_summary'] = summary
except Exception as e:  # noqa: BLE001
    out['mcap'] = {'error': f'{type(e).__name__}: {e}'}
print(json.dumps(out))
