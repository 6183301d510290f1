#!/usr/bin/env bash
# Label Studio server check for `sightline label --format labelstudio` (issue 29).
#
# NOT RUN IN CI: it installs label-studio (a 1.2 GB venv) and Chromium,
# starts a real Label Studio server and drives it through its HTTP API and a headless
# browser. Run it by hand when the Label Studio export or the reader changes; the
# result is written up in docs/labeling.md ("Checked in a real Label Studio").
#
# What it does, on this machine:
#   1. a private venv ($LS_VENV, default /tmp/ls-venv) with label-studio==$LS_VERSION and
#      playwright (which drives the Debian `chromium`, since Playwright's own browser
#      download cannot be fetched here);
#   2. `sightline label --format labelstudio --device cpu` on a few kitti-tiny frames;
#   3. a Label Studio server on a free localhost port, SQLite, data in a temp folder,
#      a user made non-interactively, local file serving rooted at the label output;
#   4. through the API: project with labelstudio_config.xml, a local-files storage on
#      images/ (Label Studio serves /data/local-files/ only below such a storage),
#      import tasks.json with predictions, one annotation per task = its prediction
#      (a person accepting the pre-labels), export as JSON;
#   5. `sightline eval --dataset labelstudio:export.json --detections detections.jsonl`
#      and a check that every class present has AP 1.0;
#   6. a headless-Chromium screenshot of a pre-labeled task -> docs/img/label-studio-prelabels.png;
#   7. stops the server and removes the temp data.
#
# Environment:
#   SIGHTLINE_BIN     sightline binary (default target/release/sightline; this is not built
#                     here: e.g. SIGHTLINE_BIN=target/debug/sightline after `cargo build`)
#   SIGHTLINE_SHARED  shared data (default ../shared): data/kitti-tiny, models/yolox_nano.onnx
#   LS_VENV           venv for label-studio + playwright (default /tmp/ls-venv)
#   LS_FRAMES         kitti-tiny frames to label (default: 000012 000044 000073, which
#                     between them have all three classes: lights, a stop sign, pedestrians)
#   LS_KEEP=1         keep the temp folder (server data, label output, export) for a look
#   LS_SCREENSHOT     where the PNG goes (default docs/img/label-studio-prelabels.png)
set -euo pipefail

cd "$(dirname "$0")/.."
REPO=$PWD
SIGHTLINE_BIN=${SIGHTLINE_BIN:-target/release/sightline}
SIGHTLINE_SHARED=${SIGHTLINE_SHARED:-../shared}
LS_VERSION=1.23.2          # the version this check was run with (docs/labeling.md)
PLAYWRIGHT_VERSION=1.65.2
# label-studio 1.23.2 asks for sentry-sdk>=2.16 with no upper bound; sentry-sdk 3.0.0
# removed the `send_default_pii` option its settings pass, and every label-studio
# command dies in Django setup with "TypeError: Unknown option 'send_default_pii'".
SENTRY_SDK_VERSION=2.76.0
LS_VENV=${LS_VENV:-/tmp/ls-venv}
LS_FRAMES=${LS_FRAMES:-"000012 000044 000073"}
LS_SCREENSHOT=${LS_SCREENSHOT:-docs/img/label-studio-prelabels.png}

log() { printf '== %s\n' "$*"; }

[ -x "$SIGHTLINE_BIN" ] || { echo "SIGHTLINE_BIN=$SIGHTLINE_BIN is not an executable (build it or point at one)" >&2; exit 1; }
SIGHTLINE_SHARED=$(cd "$SIGHTLINE_SHARED" && pwd)
MODEL=$SIGHTLINE_SHARED/models/yolox_nano.onnx

# ---- 1. venv ---------------------------------------------------------------------------
# A venv of its own: label-studio pins Django and many other packages that must not
# meet the project's .venv or .venv-label.
if ! "$LS_VENV/bin/label-studio" version >/dev/null 2>&1 \
    || ! "$LS_VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('label-studio') != '$LS_VERSION')" \
    || ! "$LS_VENV/bin/python" -c 'import playwright' 2>/dev/null; then
    log "installing label-studio==$LS_VERSION into $LS_VENV (minutes)"
    python3 -m venv "$LS_VENV"
    "$LS_VENV/bin/pip" install -q "label-studio==$LS_VERSION" "sentry-sdk==$SENTRY_SDK_VERSION" \
        "playwright==$PLAYWRIGHT_VERSION"
fi
# Playwright's `install chromium` downloads a browser build from its own CDN, which is not
# reachable here; the distribution's chromium works with executable_path instead.
CHROMIUM=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
if [ -z "$CHROMIUM" ]; then
    log "installing chromium (apt)"
    # A fresh machine has no package lists yet: without the update apt finds no chromium.
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null
    CHROMIUM=$(command -v chromium)
fi
log "label-studio $("$LS_VENV/bin/python" -c "import importlib.metadata as m; print(m.version('label-studio'))"), $("$CHROMIUM" --version 2>/dev/null | head -1)"

TMP=$(mktemp -d /tmp/ls-check.XXXXXX)
SERVER_PID=
cleanup() {
    # The server must not outlive the check (it holds the port and the SQLite file).
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    if [ "${LS_KEEP:-0}" = 1 ]; then echo "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

# ---- 2. pre-label a few frames -----------------------------------------------------------
mkdir -p "$TMP/frames"
for f in $LS_FRAMES; do cp "$SIGHTLINE_SHARED/data/kitti-tiny/image_2/$f.jpg" "$TMP/frames/"; done
log "sightline label ($LS_FRAMES)"
"$SIGHTLINE_BIN" label --device cpu --model "$MODEL" --format labelstudio \
    --out "$TMP/labels" "$TMP/frames" 2>&1 | grep -v XDG_RUNTIME_DIR
# tasks.json names images as /data/local-files/?d=images/<name>, i.e. relative to the
# label output folder: with the document root at $TMP/labels no path is rewritten.

# ---- 3. the server -------------------------------------------------------------------------
PORT=$("$LS_VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
LS_USER=check@sightline.local
LS_PASS=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
LS_TOKEN=$(head -c 20 /dev/urandom | od -An -tx1 | tr -d ' \n')
export LABEL_STUDIO_BASE_DATA_DIR=$TMP/ls-data        # SQLite DB, media, exports
export LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED=true
export LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT=$TMP/labels
export LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK=true
export SENTRY_DSN= FRONTEND_SENTRY_DSN=               # no telemetry from a check
log "starting Label Studio on 127.0.0.1:$PORT (log: $TMP/server.log)"
"$LS_VENV/bin/label-studio" start --no-browser --internal-host 127.0.0.1 --port "$PORT" \
    --data-dir "$TMP/ls-data" --username "$LS_USER" --password "$LS_PASS" \
    --user-token "$LS_TOKEN" --enable-legacy-api-token \
    >"$TMP/server.log" 2>&1 &
SERVER_PID=$!
# First start runs every Django migration on a fresh SQLite file: about a minute or more.
for _ in $(seq 1 300); do
    if curl -fsS "http://127.0.0.1:$PORT/health" >/dev/null 2>&1; then break; fi
    kill -0 "$SERVER_PID" 2>/dev/null || { tail -30 "$TMP/server.log" >&2; echo "server exited" >&2; exit 1; }
    sleep 2
done
curl -fsS "http://127.0.0.1:$PORT/health" >/dev/null || { tail -30 "$TMP/server.log" >&2; echo "server not up after 600 s" >&2; exit 1; }
log "server up: $(curl -fsS "http://127.0.0.1:$PORT/api/version" | "$LS_VENV/bin/python" -c 'import json,sys; v=json.load(sys.stdin); print("label-studio-os", v.get("release") or v.get("label-studio-os-package",{}).get("version"))')"

# ---- 4. API: project, storage, import, accept, export; 6. screenshot ------------------------
mkdir -p "$(dirname "$LS_SCREENSHOT")"
LS_URL=http://127.0.0.1:$PORT LS_USER=$LS_USER LS_PASS=$LS_PASS LS_TOKEN=$LS_TOKEN \
LABELS=$TMP/labels CHROMIUM=$CHROMIUM SHOT=$REPO/$LS_SCREENSHOT \
    "$LS_VENV/bin/python" "$REPO/scripts/label_studio_check.py"

# ---- 5. read the export back --------------------------------------------------------------
log "sightline eval --dataset labelstudio:export.json"
"$SIGHTLINE_BIN" eval --dataset "labelstudio:$TMP/labels/export.json" \
    --detections "$TMP/labels/detections.jsonl" --report "$TMP/report" 2>&1 | grep -v XDG_RUNTIME_DIR
"$LS_VENV/bin/python" - "$TMP/report/report.json" "$TMP/labels/detections.jsonl" <<'EOF'
# Accepted pre-labels scored against the same detections: every class that has a box
# must come out at AP 1.0, else the export or the reader lost or moved something.
import json, sys
report = json.load(open(sys.argv[1]))
present = sorted({json.loads(l)["class"] for l in open(sys.argv[2]) if l.strip()})
def find_ap(node, cls):
    # report.json layout: look for a per-class entry holding "ap"
    if isinstance(node, dict):
        if node.get("class") == cls and "ap" in node:
            return node
        if cls in node and isinstance(node[cls], dict) and "ap" in node[cls]:
            return node[cls]
        for v in node.values():
            r = find_ap(v, cls)
            if r is not None:
                return r
    elif isinstance(node, list):
        for v in node:
            r = find_ap(v, cls)
            if r is not None:
                return r
    return None
bad = []
print("| class | AP |")
print("|---|---|")
for cls in present:
    e = find_ap(report, cls)
    ap = None if e is None else e["ap"]
    print(f"| {cls} | {'missing' if ap is None else f'{ap:.6f}'} |")
    if ap is None or abs(ap - 1.0) > 1e-9:
        bad.append(cls)
if bad:
    sys.exit(f"AP != 1.0 for {bad}")
print("AP 1.0 for every class present:", ", ".join(present))
EOF

# ---- 7. stop ----------------------------------------------------------------------------
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=
log "server stopped; screenshot: $LS_SCREENSHOT ($(stat -c %s "$REPO/$LS_SCREENSHOT") bytes)"
log "OK"
