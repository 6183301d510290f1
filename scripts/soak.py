#!/usr/bin/env python3
"""Soak test of `sightline node`: hours in a vehicle, compressed into a chosen time.

Run by scripts/soak.sh (ROS environment, node built). Starts the node with
launch/params/sightline.yaml (two cameras: /camera/front raw rgb8, /camera/rear jpeg),
measures its service time, then for --seconds:

  - publishes KITTI frames on both cameras, each at 2x the node's throughput;
  - every 30 s, a burst of malformed messages on both cameras (wrong encoding, size
    mismatch, empty, step too small, a 100k x 100k header, random bytes, a corrupt or
    truncated jpeg);
  - the rear camera's publisher is its own process, killed with SIGKILL every 60 s and
    started again 10 s later (a camera driver that crashes and comes back);
  (runs shorter than 2.5 min scale these so that each happens at least twice);
  - every 10 s records the node's RSS, the latency (image stamp -> Detection2DArray
    received) p50/p99 of the last 10 s, and /diagnostics' received, processed,
    dropped and bad counts per camera, as one JSON line in --out.

Then, with the cameras quiet, sends malformed messages one at a time on each camera and
checks each is counted bad. Passes when: the node is alive and stops cleanly on SIGINT; every frame
the node received is processed, dropped (displaced by a newer one) or counted bad;
each lone malformed message raises bad_inputs by one; latency p99 of every window
after the first stays within 3 x (cameras x service time) + 0.3 s (a frame can wait for
the other camera's); every camera is answered in every window after the first while its
publisher is up (scripts/soak_windows.py); answers resume on the rear camera after each
restart; RSS grows by
<= 5 MB over the last 2/3 of the run (runs of 10 min and longer; shorter ones: 32 MB,
as the overload test). Prints `soak: passed` or what failed.
"""
import argparse
import json
import os
import shlex
import signal
import statistics
import subprocess
import sys
import threading
import time

import rclpy
from soak_windows import silent_windows
from diagnostic_msgs.msg import DiagnosticArray
from PIL import Image as PILImage
from rclpy.node import Node
from rclpy.qos import QoSProfile, qos_profile_sensor_data
from sensor_msgs.msg import CompressedImage, Image
from vision_msgs.msg import Detection2DArray

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ros_test import kitti_calibration, rss_kb, spinning, wait_until  # noqa: E402

CAMERAS = ("/camera/front", "/camera/rear")
BURST_EVERY_S = 30
RESTART_EVERY_S = 60
DOWN_S = 10
SAMPLE_EVERY_S = 10


def stamp_now(seq):
    """Wall-clock stamp made unique by a sequence number in the last microsecond digits."""
    ns = time.time_ns() // 1000 * 1000 + seq % 1000
    return ns // 10**9, ns % 10**9


class Camera:
    """One camera's publisher: good frames at a rate, and malformed ones on demand."""

    def __init__(self, node, ns, shared):
        self.ns = ns
        self.raw = ns == "/camera/front"
        jpg = os.path.join(shared, "data/kitti-tiny/image_2/000000.jpg")
        self.rgb = PILImage.open(jpg).convert("RGB")
        with open(jpg, "rb") as f:
            self.jpeg = f.read()
        if self.raw:
            self.pub = node.create_publisher(Image, f"{ns}/image_raw", qos_profile_sensor_data)
        else:
            self.pub = node.create_publisher(CompressedImage, f"{ns}/image_raw/compressed", qos_profile_sensor_data)
        self.seq = 0
        self.sent = 0
        self.malformed = 0
        self.kind = 0

    def _send(self, frame_id, data, encoding="rgb8", step=None, width=None, height=None):
        self.seq += 1
        if self.raw:
            m = Image()
            m.width = self.rgb.width if width is None else width
            m.height = self.rgb.height if height is None else height
            m.encoding = encoding
            m.step = m.width * 3 if step is None else step
        else:
            m = CompressedImage()
            m.format = "jpeg"
        m.header.stamp.sec, m.header.stamp.nanosec = stamp_now(self.seq)
        m.header.frame_id = frame_id
        m.data = data
        self.pub.publish(m)

    def good(self):
        self._send("soak", self.rgb.tobytes() if self.raw else self.jpeg)
        self.sent += 1

    def bad(self, kind):
        """One malformed message; `kind` cycles through what a broken driver sends."""
        w, h = self.rgb.width, self.rgb.height
        if self.raw:
            sends = [
                lambda: self._send("bad", bytes(w * h * 2), encoding="yuv422", step=w * 2),
                lambda: self._send("bad", bytes(w * 3 * h - 7)),
                lambda: self._send("bad", b""),
                lambda: self._send("bad", bytes(w * h), step=w),
                lambda: self._send("bad", bytes(12), width=100_000, height=100_000, step=300_000),
            ]
        else:
            sends = [
                lambda: self._send("bad", os.urandom(5000)),
                lambda: self._send("bad", b"\xff\xd8\xff\xe0" + os.urandom(3000)),
                lambda: self._send("bad", self.jpeg[: len(self.jpeg) // 3]),
                lambda: self._send("bad", b""),
            ]
        sends[kind % len(sends)]()
        self.malformed += 1

    def burst(self, n=8):
        """`n` malformed messages back to back, each of the next kind."""
        for _ in range(n):
            self.bad(self.kind)
            self.kind += 1


def publish_process(args):
    """The rear camera's own process: good frames at --rate, a burst every 30 s. Writes
    its counts to --counts after every burst and every second (it is killed, not asked
    to stop)."""
    rclpy.init()
    node = Node("sightline_soak_rear_camera")
    cam = Camera(node, args.publish, args.shared)
    period = 1.0 / args.rate
    t0 = next_t = time.time()
    next_burst = t0 + BURST_EVERY_S / 2
    next_write = t0
    while True:
        cam.good()
        now = time.time()
        if now >= next_burst:
            cam.burst()
            next_burst += BURST_EVERY_S
        if now >= next_write:
            with open(args.counts + ".tmp", "w") as f:
                json.dump({"sent": cam.sent, "malformed": cam.malformed}, f)
            os.replace(args.counts + ".tmp", args.counts)
            next_write += 1.0
        next_t += period
        time.sleep(max(0.0, next_t - time.time()))


class Observer(Node):
    """Collects the node's answers (latency from the image stamp) and /diagnostics."""

    def __init__(self):
        super().__init__("sightline_soak_observer")
        self.lock = threading.Lock()
        self.latencies = {ns: [] for ns in CAMERAS}  # (receive time, latency s)
        self.status = {}
        reliable = QoSProfile(depth=100)
        for ns in CAMERAS:
            self.create_subscription(Detection2DArray, f"{ns}/detections", self.answer(ns), reliable)
        self.create_subscription(DiagnosticArray, "/diagnostics", self.on_diag, reliable)

    def answer(self, ns):
        def cb(msg):
            now = time.time()
            if msg.header.frame_id != "soak":
                return
            sent = msg.header.stamp.sec + msg.header.stamp.nanosec / 1e9
            with self.lock:
                self.latencies[ns].append((now, now - sent))
        return cb

    def on_diag(self, msg):
        with self.lock:
            for s in msg.status:
                for ns in CAMERAS:
                    if s.name == f"sightline: {ns}":
                        self.status[ns] = (time.time(), {kv.key: kv.value for kv in s.values})

    def counts(self, ns):
        with self.lock:
            t, values = self.status.get(ns, (0, {}))
        keys = ("frames_received", "frames_processed", "dropped_frames", "bad_inputs")
        return t, {k: int(values.get(k, 0)) for k in keys}

    def window(self, ns, since):
        with self.lock:
            return [lat for t, lat in self.latencies[ns] if t >= since]

    def answers_after(self, ns, since):
        return len(self.window(ns, since))


def percentile(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(p / 100 * len(s)))] if s else None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--node", default=os.environ.get("SIGHTLINE_NODE_CMD", "target/debug/sightline node"))
    ap.add_argument("--params", default="launch/params/sightline.yaml")
    ap.add_argument("--shared", default=os.environ.get("SIGHTLINE_SHARED", "../shared"))
    ap.add_argument("--seconds", type=float, default=1800)
    ap.add_argument("--out", default="soak.jsonl", help="one JSON line per 10 s sample")
    ap.add_argument("--log-dir", default=os.environ.get("ROS_LOG_DIR", "/tmp"))
    ap.add_argument("--publish", help="internal: run the publisher of this camera")
    ap.add_argument("--rate", type=float, help="internal: the publisher's frame rate")
    ap.add_argument("--counts", help="internal: where the publisher writes its counts")
    args = ap.parse_args()
    args.shared = os.path.abspath(args.shared)
    if args.publish:
        return publish_process(args)

    kitti_jpg = os.path.join(args.shared, "data/kitti-tiny/image_2/000000.jpg")
    calib = kitti_calibration(kitti_jpg, args.log_dir)
    node_cmd = shlex.split(args.node) + [
        "--ros-args", "--params-file", args.params,
        "-p", f"camera.front.calibration:={calib}", "-p", f"camera.rear.calibration:={calib}"]
    log_path = os.path.join(args.log_dir, "sightline-soak-node.log")
    log = open(log_path, "w")
    print(f"soak: starting {' '.join(node_cmd)} (log: {log_path})", flush=True)
    proc = subprocess.Popen(node_cmd, stdout=log, stderr=subprocess.STDOUT,
                            env=dict(os.environ, SIGHTLINE_LOG=os.environ.get("SIGHTLINE_LOG", "info")))
    failures = []
    with spinning(Observer) as obs:
        front = Camera(obs, "/camera/front", args.shared)
        try:
            failures = soak(args, proc, obs, front)
        except Exception as e:  # noqa: BLE001 - reported as a failure, the node is still stopped
            failures.append(f"{type(e).__name__}: {e}")
        finally:
            for p in list(RUNNING):
                if p.poll() is None:
                    p.kill()
                    p.wait()
            failures += stop(proc)
    log.close()
    if failures:
        print(f"--- node log (tail) {log_path}")
        with open(log_path, errors="replace") as f:
            print("".join(f.readlines()[-30:]))
        for f in failures:
            print(f"soak: FAIL {f}")
        print("soak: failed", flush=True)
        sys.exit(1)
    print("soak: passed", flush=True)


def stop(proc):
    """SIGINT to the node, as a launch file stops it; what went wrong, if anything."""
    if proc.poll() is not None:
        return [f"node died with exit code {proc.returncode}"]
    proc.send_signal(signal.SIGINT)
    try:
        rc = proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        return ["node did not stop within 30 s of SIGINT"]
    return [f"node exited with {rc} on SIGINT"] if rc != 0 else []


RUNNING = []


def start_rear(args, rate, counts):
    p = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--publish", "/camera/rear",
                          "--rate", f"{rate}", "--counts", counts, "--shared", args.shared])
    RUNNING.append(p)
    return p


def rear_counts(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {"sent": 0, "malformed": 0}


def soak(args, proc, obs, front):
    failures = []
    if not wait_until(lambda: front.pub.get_subscription_count() > 0, 120):
        return ["the node never subscribed to /camera/front/image_raw"]
    time.sleep(1.0)
    # Service time: single frames, one at a time, on the front camera.
    lat = []
    for _ in range(5):
        since = time.time()
        for _ in range(3):  # best effort: resend until answered
            front.good()
            if wait_until(lambda: obs.answers_after("/camera/front", since) > 0, 30):
                break
        got = obs.window("/camera/front", since)
        if got:
            lat.append(got[0])
    if len(lat) < 3:
        return [f"the node answered {len(lat)} of 5 single frames"]
    service = statistics.median(lat)
    rate = 2.0 / service
    bound = 3 * len(CAMERAS) * service + 0.3
    print(f"soak: service {service * 1e3:.0f} ms/frame; each camera at {rate:.2f} Hz for {args.seconds:.0f} s; "
          f"latency p99 bound {bound:.2f} s", flush=True)

    counts_dir = args.log_dir
    generation = 0
    counts_files = []

    def new_rear():
        nonlocal generation
        generation += 1
        path = os.path.join(counts_dir, f"soak-rear-{os.getpid()}-{generation}.json")
        counts_files.append(path)
        return start_rear(args, rate, path)

    rear = new_rear()
    rear_down_until = None
    restarts = []  # restart times, to check answers resume
    downs = {"front": [], "rear": []}  # publisher down times, for the liveness rule
    samples = []
    out = open(args.out, "w")
    t0 = time.time()
    period = 1.0 / rate
    next_t = t0
    # Short runs (CI's 60 s) see each event at least twice.
    burst_every = min(BURST_EVERY_S, args.seconds / 4)
    restart_every = min(RESTART_EVERY_S, args.seconds / 2.5)
    next_burst = t0 + burst_every
    next_kill = t0 + restart_every
    next_sample = t0 + SAMPLE_EVERY_S
    while time.time() - t0 < args.seconds:
        if proc.poll() is not None:
            failures.append(f"node died with exit code {proc.returncode} at {time.time() - t0:.0f} s")
            break
        front.good()
        now = time.time()
        if now >= next_burst:
            front.burst()
            next_burst += burst_every
        if rear_down_until is None and now >= next_kill:
            rear.kill()
            rear.wait()
            downs["rear"].append((now, None))
            rear_down_until = now + min(DOWN_S, restart_every / 2)
            next_kill += restart_every
        elif rear_down_until is not None and now >= rear_down_until:
            rear = new_rear()
            restarts.append(now)
            downs["rear"][-1] = (downs["rear"][-1][0], now)
            rear_down_until = None
        if now >= next_sample:
            sample = {"t_s": round(now - t0, 1), "rss_mb": round(rss_kb(proc.pid) / 1024, 1)}
            for ns in CAMERAS:
                window = obs.window(ns, now - SAMPLE_EVERY_S)
                _, c = obs.counts(ns)
                key = ns.rsplit("/", 1)[-1]
                sample[key] = {
                    "answers": len(window),
                    "p50_ms": round(percentile(window, 50) * 1e3, 1) if window else None,
                    "p99_ms": round(percentile(window, 99) * 1e3, 1) if window else None,
                    **c,
                }
            rear_sent = [rear_counts(p) for p in counts_files]
            sample["sent"] = {"front": front.sent, "rear": sum(c["sent"] for c in rear_sent)}
            sample["malformed_sent"] = {"front": front.malformed, "rear": sum(c["malformed"] for c in rear_sent)}
            samples.append(sample)
            out.write(json.dumps(sample) + "\n")
            out.flush()
            f, r = sample["front"], sample["rear"]
            print(f"soak: {sample['t_s']:6.0f} s  RSS {sample['rss_mb']:6.1f} MB  "
                  f"front p50/p99 {f['p50_ms']}/{f['p99_ms']} ms ({f['answers']} answers, "
                  f"dropped {f['dropped_frames']}, bad {f['bad_inputs']})  "
                  f"rear p50/p99 {r['p50_ms']}/{r['p99_ms']} ms ({r['answers']} answers, "
                  f"dropped {r['dropped_frames']}, bad {r['bad_inputs']})", flush=True)
            next_sample += SAMPLE_EVERY_S
        next_t += period
        time.sleep(max(0.0, next_t - time.time()))
    t_end = time.time()
    rear.kill()
    rear.wait()
    out.close()
    if failures:
        return failures
    time.sleep(3 * len(CAMERAS) * service + 2.5)  # let the last frames and a diagnostics period pass
    failures += judge(samples, restarts, t_end, obs, bound, args.seconds)
    failures += silent_windows(samples, downs, t0, SAMPLE_EVERY_S, bound + 2)
    failures += lone_malformed(obs, [front, Camera(obs, "/camera/rear", args.shared)], service)
    return failures


def judge(samples, restarts, t_end, obs, bound, seconds):
    failures = []
    if len(samples) < 3:
        return [f"only {len(samples)} samples"]
    for s in samples[1:]:
        for key in ("front", "rear"):
            p99 = s[key]["p99_ms"]
            if p99 is not None and p99 / 1e3 > bound:
                failures.append(f"{key} latency p99 {p99:.0f} ms > {bound * 1e3:.0f} ms at {s['t_s']} s")
    for ns in CAMERAS:
        _, c = obs.counts(ns)
        unaccounted = c["frames_received"] - c["frames_processed"] - c["dropped_frames"] - c["bad_inputs"]
        # at most one frame in the slot and one in the worker
        if not 0 <= unaccounted <= 2:
            failures.append(f"{ns}: {unaccounted} received frames neither processed, dropped nor bad ({c})")
    # A restarted publisher must be answered (those restarted too near the end may not be).
    for t in restarts:
        if t < t_end - bound - 2 and obs.answers_after("/camera/rear", t) == 0:
            failures.append(f"no rear answers after the publisher restarted at {t:.0f}")
    tail = [s for s in samples if s["t_s"] >= seconds / 3]
    growth = tail[-1]["rss_mb"] - tail[0]["rss_mb"] if len(tail) >= 2 else 0.0
    limit = 5.0 if seconds >= 600 else 32.0
    if growth > limit:
        failures.append(f"RSS grew {growth:.1f} MB over the last 2/3 of the run (limit {limit:.0f} MB)")
    first, last = samples[0], samples[-1]
    print(f"soak: RSS {first['rss_mb']} -> {last['rss_mb']} MB (last 2/3: {growth:+.1f} MB); "
          f"front sent {last['sent']['front']} (+{last['malformed_sent']['front']} malformed), "
          f"rear sent {last['sent']['rear']} (+{last['malformed_sent']['rear']} malformed); "
          f"rear publisher restarted {len(restarts)} times", flush=True)
    return failures


def lone_malformed(obs, cameras, service):
    """With the cameras quiet, each malformed message on its own must raise bad_inputs
    (under load one can be displaced by a newer frame before the worker looks at it, and
    is then counted as dropped)."""
    failures = []
    for cam in cameras:
        if not wait_until(lambda: cam.pub.get_subscription_count() > 0, 30):
            failures.append(f"{cam.ns}: the node does not subscribe any more")
            continue
        time.sleep(1.0)  # the node's reader matches a new writer a little after
        for kind in range(5):
            _, before = obs.counts(cam.ns)
            t_before = time.time()
            for _ in range(3):  # best effort: resend until the node has received it
                cam.bad(kind)
                if wait_until(lambda: obs.counts(cam.ns)[0] > t_before + 1.0
                              and obs.counts(cam.ns)[1]["frames_received"] > before["frames_received"],
                              3 * service + 5):
                    break
            time.sleep(max(1.5, 2 * service))
            _, after = obs.counts(cam.ns)
            got = after["frames_received"] - before["frames_received"]
            bad = after["bad_inputs"] - before["bad_inputs"]
            if got == 0 or bad != got:
                failures.append(f"{cam.ns}: lone malformed message #{kind}: received {got}, counted bad {bad}")
    if not failures:
        print("soak: each lone malformed message was counted bad, on both cameras", flush=True)
    return failures


if __name__ == "__main__":
    main()
