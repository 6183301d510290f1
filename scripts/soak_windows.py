"""The soak's liveness rule, apart from ROS so that it can be tested on its own:
every camera must be answered in every 10-s window after warm-up while its publisher is
up. A worker that stalls while its frames are counted "dropped" keeps the counts
balanced; only this rule notices it.

`python3 scripts/soak_windows.py` runs the rule's self-test (scripts/soak.sh does, first).
"""


def silent_windows(samples, downs, t0, window_s, grace_s):
    """Failures for windows without answers.

    samples: the soak's samples ({"t_s": seconds since t0, CAMERA: {"answers": n}, ...});
    the first is warm-up and not judged.
    downs: {CAMERA: [(down_from, up_again or None), ...]} in absolute seconds; a window
    that overlaps a down time, or ends less than grace_s after the publisher came back
    (discovery, the first frame's latency), is not judged for that camera.
    """
    failures = []
    for s in samples[1:]:
        end = t0 + s["t_s"]
        start = end - window_s
        for camera, spans in downs.items():
            excused = any(
                down < end and (up is None or up + grace_s > start) for down, up in spans
            )
            if not excused and s[camera]["answers"] == 0:
                failures.append(
                    f"{camera}: no answers in the window ending at {s['t_s']} s while its "
                    f"publisher was up (stalled worker?)"
                )
    return failures


def _self_test():
    t0 = 1000.0

    def sample(t, front, rear):
        return {"t_s": t, "front": {"answers": front}, "rear": {"answers": rear}}

    # A rear publisher down from 1015 to 1025 excuses the windows ending at 20 and 30
    # (and, with 3 s of grace, none later); a front window with no answers is a failure.
    samples = [sample(10, 0, 0), sample(20, 5, 0), sample(30, 5, 0), sample(40, 0, 4), sample(50, 5, 0)]
    downs = {"front": [], "rear": [(1015.0, 1025.0)]}
    got = silent_windows(samples, downs, t0, 10.0, 3.0)
    assert len(got) == 2, got
    assert got[0].startswith("front:") and "ending at 40 s" in got[0], got
    assert got[1].startswith("rear:") and "ending at 50 s" in got[1], got
    # Still down at the end: excused to the end.
    assert silent_windows([sample(10, 1, 1), sample(20, 1, 0)], {"rear": [(1012.0, None)]}, t0, 10.0, 3.0) == []
    print("soak_windows: self-test passed")


if __name__ == "__main__":
    _self_test()
