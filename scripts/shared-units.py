#!/usr/bin/env python3
"""Which crates `cargo build --features ros` compiles that `cargo test --workspace`
has not already compiled (same package, target, profile, features and dependencies).

Cargo compiles a crate once per feature set and profile, and everything that depends
on it again. The feature-unification entries in Cargo.toml and crates/ros/Cargo.toml
keep the ROS build from recompiling cubecl and wgpu; when scripts/ros-test.sh warns
that it did, this names the crates that differ (the lowest ones are the cause: ask
for their features there). Reads cargo's unit graph (an unstable flag, hence
RUSTC_BOOTSTRAP=1 for this query only); builds nothing, needs no ROS.

    python3 scripts/shared-units.py [--base 'test --workspace --no-run'] \\
        [--build 'build --features ros --bin sightline']
"""
import argparse
import hashlib
import json
import os
import shlex
import subprocess
import sys


def unit_graph(args):
    env = dict(os.environ, RUSTC_BOOTSTRAP="1")
    out = subprocess.run(["cargo", *shlex.split(args), "-Z", "unstable-options", "--unit-graph"],
                         env=env, capture_output=True, text=True, check=True).stdout
    return json.loads(out)["units"]


def identities(units):
    """Unit index -> a hash of everything that makes cargo compile it separately."""
    memo = {}

    def ident(i):
        if i not in memo:
            u = units[i]
            profile = {k: v for k, v in u["profile"].items() if k != "name"}  # test vs dev
            key = [u["pkg_id"], u["target"]["name"], u["target"]["kind"], profile, sorted(u["features"]),
                   u["mode"], u.get("platform"), sorted(ident(d["index"]) for d in u["dependencies"])]
            memo[i] = hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()
        return memo[i]

    return {ident(i): unit for i, unit in enumerate(units)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", default="test --workspace --no-run")
    ap.add_argument("--build", default="build --features ros --bin sightline")
    args = ap.parse_args()
    base = identities(unit_graph(args.base))
    build = identities(unit_graph(args.build))
    extra = [u for k, u in build.items() if k not in base]
    crates = sorted({u["pkg_id"].split("#")[-1] for u in extra})
    print(f"`cargo {args.build}`: {len(extra)} of {len(build)} units not shared with `cargo {args.base}`:")
    print("  " + " ".join(crates))
    heavy = [c for c in crates if c.startswith(("cubecl", "wgpu", "naga", "sightline-engine"))]
    if heavy:
        print(f"recompiled although only ROS changed: {' '.join(heavy)}")
    return 1 if heavy else 0


if __name__ == "__main__":
    sys.exit(main())
