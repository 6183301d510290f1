"""Read a `sightline label` export back with the annotation tools' own libraries.

usage: python label_tools_check.py OUT_DIR

- datumaro (CVAT's dataset library) imports OUT_DIR/annotations.xml as CVAT for images
  1.1 and OUT_DIR/annotations/instances_default.json as COCO instances;
- label-studio-sdk's converter turns OUT_DIR/tasks.json into YOLO and COCO, after the
  tasks are made what Label Studio exports once a person submits the pre-labels
  unchanged (task and annotation ids, predictions copied into annotations).

Prints one JSON object: {tool: {image stem: [[label, x1, y1, x2, y2, state], ...]}},
boxes in pixels sorted, state null where the tool keeps none. The Rust test compares
every tool's boxes with the detections Sightline exported.
"""
import json
import os
import sys
import tempfile
from pathlib import Path

import datumaro as dm
from label_studio_sdk.converter import Converter

out = Path(sys.argv[1])


def stem(name):
    return Path(str(name).replace('\\', '/').split('=')[-1]).stem


def from_datumaro(path, fmt):
    ds = dm.Dataset.import_from(str(path), fmt)
    labels = ds.categories()[dm.AnnotationType.label]
    boxes = {}
    for item in ds:
        rows = boxes.setdefault(stem(item.id), [])
        for ann in item.annotations:
            if ann.type != dm.AnnotationType.bbox:
                continue
            x, y, w, h = ann.get_bbox()
            rows.append([labels[ann.label].name, x, y, x + w, y + h, ann.attributes.get('state')])
    return boxes


def submitted(tasks):
    """The tasks as Label Studio exports them after each was submitted unchanged."""
    for i, task in enumerate(tasks, 1):
        task['id'] = i
        task['annotations'] = [{
            'id': i, 'completed_by': 1, 'was_cancelled': False,
            'created_at': '2026-01-01T00:00:00Z', 'updated_at': '2026-01-01T00:00:00Z',
            'result': task['predictions'][0]['result'],
        }]
    return tasks


def from_label_studio():
    config = (out / 'labelstudio_config.xml').read_text()
    tasks = submitted(json.loads((out / 'tasks.json').read_text()))
    sizes = {stem(t['data']['image']): (r['original_width'], r['original_height'])
             for t in tasks for r in t['predictions'][0]['result']}
    with tempfile.TemporaryDirectory() as tmp:
        export = Path(tmp) / 'export.json'
        export.write_text(json.dumps(tasks))
        conv = Converter(config=config, project_dir=tmp, download_resources=False)
        conv.convert_to_yolo(str(export), str(Path(tmp) / 'yolo'), is_dir=False)
        conv.convert_to_coco(str(export), str(Path(tmp) / 'coco'), is_dir=False)
        names = (Path(tmp) / 'yolo/classes.txt').read_text().split()
        yolo = {}
        for t in tasks:
            name = stem(t['data']['image'])
            label_file = Path(tmp) / 'yolo/labels' / f'{name}.txt'
            w, h = sizes.get(name, (1, 1))
            rows = yolo.setdefault(name, [])
            for line in label_file.read_text().split('\n') if label_file.exists() else []:
                if not line.strip():
                    continue
                k, cx, cy, bw, bh = line.split()
                cx, cy, bw, bh = (float(v) for v in (cx, cy, bw, bh))
                rows.append([names[int(k)], (cx - bw / 2) * w, (cy - bh / 2) * h,
                             (cx + bw / 2) * w, (cy + bh / 2) * h, None])
        coco_file = json.loads((Path(tmp) / 'coco/result.json').read_text())
    cats = {c['id']: c['name'] for c in coco_file['categories']}
    images = {i['id']: stem(i['file_name']) for i in coco_file['images']}
    coco = {name: [] for name in images.values()}
    for a in coco_file['annotations']:
        x, y, w, h = a['bbox']
        coco[images[a['image_id']]].append([cats[a['category_id']], x, y, x + w, y + h, None])
    return yolo, coco


os.environ.setdefault('TQDM_DISABLE', '1')
ls_yolo, ls_coco = from_label_studio()
result = {
    'datumaro_cvat': from_datumaro(out / 'annotations.xml', 'cvat'),
    'datumaro_coco': from_datumaro(out / 'annotations/instances_default.json', 'coco_instances'),
    'labelstudio_yolo': ls_yolo,
    'labelstudio_coco': ls_coco,
}
for boxes in result.values():
    for rows in boxes.values():
        rows.sort(key=lambda r: (r[1], r[2], r[0]))
print(json.dumps(result))
