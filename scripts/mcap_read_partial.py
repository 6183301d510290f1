"""Read an MCAP file front to back with the third-party `mcap` package's streaming
reader, as a tool would read the file of a writer that was killed (no summary, maybe a
torn last record), and print one JSON line per message ({"topic", "log_time"}), then
{"end": "complete"} or {"end": "truncated: <why>"}.

usage: python mcap_read_partial.py FILE.mcap
"""
import json
import sys

from mcap.records import Channel, Footer, Message
from mcap.stream_reader import StreamReader

topics = {}
end = 'truncated: no footer'
with open(sys.argv[1], 'rb') as f:
    try:
        # Chunks are decoded on the way: their messages come out as records too.
        for record in StreamReader(f).records:
            if isinstance(record, Channel):
                topics[record.id] = record.topic
            elif isinstance(record, Message):
                print(json.dumps({'topic': topics[record.channel_id], 'log_time': record.log_time}))
            elif isinstance(record, Footer):
                end = 'complete'
    except Exception as e:  # noqa: BLE001 - the point is to say where reading stopped
        end = f'truncated: {type(e).__name__}: {e}'
print(json.dumps({'end': end}))
