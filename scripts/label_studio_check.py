"""API and browser half of scripts/label-studio-check.sh (not run in CI; see there).

Environment (set by the shell script): LS_URL, LS_USER, LS_PASS, LS_TOKEN, LABELS (the
`sightline label` output folder, also the server's local-files document root), CHROMIUM,
SHOT (PNG path).

Creates a project with LABELS/labelstudio_config.xml, a local-files storage on
LABELS/images, imports LABELS/tasks.json, submits each task's prediction as its
annotation, exports JSON to LABELS/export.json and screenshots one task's editor.
"""
import io
import json
import os
import sys
import time

import requests
from PIL import Image
from playwright.sync_api import sync_playwright

URL = os.environ["LS_URL"]
LABELS = os.environ["LABELS"]
S = requests.Session()
S.headers["Authorization"] = f"Token {os.environ['LS_TOKEN']}"


def api(method, path, **kw):
    r = S.request(method, URL + path, timeout=120, **kw)
    if r.status_code >= 400:
        sys.exit(f"{method} {path}: HTTP {r.status_code}: {r.text[:2000]}")
    return r


def say(msg):
    print("== " + msg, flush=True)


config = open(os.path.join(LABELS, "labelstudio_config.xml")).read()
tasks = json.load(open(os.path.join(LABELS, "tasks.json")))

project = api("POST", "/api/projects", json={"title": "sightline label check", "label_config": config}).json()
pid = project["id"]
say(f"project {pid} created with labelstudio_config.xml")

# Before any storage: the same URL that the tasks use is refused (checked, because
# docs/labeling.md tells users what to set up).
probe = S.get(URL + tasks[0]["data"]["image"], timeout=60)
say(f"before a local-files storage: GET {tasks[0]['data']['image']} -> HTTP {probe.status_code}")

# /data/local-files/?d=… is served only for files below a local-files storage of a
# project the user may see (label_studio/io_storages/localfiles/views.py); LOCAL_FILES_*
# alone gives 404. The storage is only attached, not synced: syncing would import every
# image again as a task without predictions.
storage = api(
    "POST",
    "/api/storages/localfiles",
    json={"project": pid, "title": "sightline images", "path": os.path.join(LABELS, "images"), "use_blob_urls": True},
).json()
say(f"local-files storage {storage['id']} on {storage['path']}")

imp = api("POST", f"/api/projects/{pid}/import", json=tasks).json()
say(
    f"imported {imp.get('task_count')} tasks, {imp.get('prediction_count')} predictions "
    f"({sum(len(p['result']) for t in tasks for p in t['predictions'])} results in tasks.json)"
)

# The imported tasks with their predictions, as the server stored them.
server_tasks = api("GET", "/api/tasks", params={"project": pid, "page_size": 1000, "fields": "all"}).json()
server_tasks = server_tasks["tasks"] if isinstance(server_tasks, dict) else server_tasks
by_image = {t["data"]["image"]: t for t in tasks}

# An image URL must resolve through the server, or the editor shows nothing.
for t in server_tasks:
    r = S.get(URL + t["data"]["image"], timeout=60)
    if r.status_code != 200 or not r.headers.get("content-type", "").startswith("image/"):
        sys.exit(f"task {t['id']} image {t['data']['image']}: HTTP {r.status_code} {r.headers.get('content-type')}")
say(f"all {len(server_tasks)} task images served by /data/local-files/")

# ---- screenshot -------------------------------------------------------------------------
# Taken before the annotations are submitted, so the editor opens on the prediction
# itself (the pre-labels as a labeler first sees them). The task with the most boxes
# shows the most of them.
def n_boxes(t):
    return sum(r["type"] == "rectanglelabels" for r in by_image[t["data"]["image"]]["predictions"][0]["result"])


shot_task = max(server_tasks, key=n_boxes)
with sync_playwright() as p:
    browser = p.chromium.launch(executable_path=os.environ["CHROMIUM"], args=["--no-sandbox"])
    page = browser.new_page(viewport={"width": 1600, "height": 620})
    # Log in through the form, as a person would; the session cookie does the rest.
    page.goto(URL + "/user/login/")
    page.fill('input[name="email"]', os.environ["LS_USER"])
    page.fill('input[name="password"]', os.environ["LS_PASS"])
    page.click('button[type="submit"], input[type="submit"]')
    page.wait_for_load_state("networkidle")
    page.goto(f"{URL}/projects/{pid}/data?task={shot_task['id']}")
    # The editor draws the image and the regions into canvases (Konva).
    page.wait_for_selector("canvas", timeout=120_000)
    page.wait_for_load_state("networkidle")
    time.sleep(3)
    png = page.screenshot()
    browser.close()

img = Image.open(io.BytesIO(png)).convert("RGB")
# Keep the committed PNG small (< 300 KB): 3/4 size, quantized to a palette.
img = img.resize((img.width * 3 // 4, img.height * 3 // 4), Image.LANCZOS).quantize(colors=128)
img.save(os.environ["SHOT"], optimize=True)
say(f"screenshot of task {shot_task['id']} ({shot_task['data']['image']}) -> {os.environ['SHOT']}")

# A person accepting the pre-labels: each task gets one annotation whose result is the
# prediction as stored by the server (so what the editor would submit unchanged).
for t in server_tasks:
    preds = api("GET", "/api/predictions", params={"task": t["id"]}).json()
    preds = preds["results"] if isinstance(preds, dict) else preds
    if len(preds) != 1:
        sys.exit(f"task {t['id']}: {len(preds)} predictions, expected 1")
    mine = by_image[t["data"]["image"]]["predictions"][0]
    if preds[0]["result"] != mine["result"]:
        sys.exit(f"task {t['id']}: the stored prediction differs from tasks.json")
    if preds[0].get("model_version") != mine["model_version"]:
        say(f"note: task {t['id']} model_version {preds[0].get('model_version')!r} != {mine['model_version']!r}")
    api(
        "POST",
        f"/api/tasks/{t['id']}/annotations",
        params={"project": pid},
        json={"result": preds[0]["result"], "was_cancelled": False, "ground_truth": False, "lead_time": 1.0},
    )
say(f"submitted {len(server_tasks)} annotations (= the predictions)")

export = api("GET", f"/api/projects/{pid}/export", params={"exportType": "JSON"}).json()
with open(os.path.join(LABELS, "export.json"), "w") as f:
    json.dump(export, f, indent=1)
n_results = sum(len(a["result"]) for t in export for a in t.get("annotations", []))
say(f"exported {len(export)} tasks, {n_results} annotation results -> export.json")

print(json.dumps({"project": pid, "screenshot_task": shot_task["id"]}))
