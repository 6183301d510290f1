#!/usr/bin/env bash
# Where a lavapipe kernel's time goes, instruction by instruction. lavapipe compiles each
# shader with LLVM into anonymous executable memory, which perf samples but cannot name;
# this samples a running command (perf, cpu-clock), copies that memory out of the process,
# and prints the instruction mix of the range that holds most samples (the kernel's
# loop), leaving its disassembly in $OUT/hot.s.
#
#   scripts/jit-profile.sh WARMUP_S SAMPLE_S command [args...]
#   e.g. CONFIGS=nchw_wv:16:4,nchw_wv:16:4,nchw_wv:16:4 scripts/jit-profile.sh 6 3 \
#          target/release/examples/pw_sweep nchw_wv
#
# Source scripts/mesa-env.sh first, as the command would run. Needs perf (Debian:
# linux-perf), objdump (binutils) and the right to read the process's memory (root, or
# kernel.yama.ptrace_scope 0). docs/performance.md, "lavapipe's code for our kernels".
set -euo pipefail
[ $# -ge 3 ] || { sed -n 2,15p "$0"; exit 2; }
warmup=$1 sample=$2; shift 2
OUT=${OUT:-$(mktemp -d /tmp/jit-profile.XXXX)}
"$@" >"$OUT/command.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
sleep "$warmup"
kill -0 $pid 2>/dev/null || { echo "jit-profile: the command ended within ${warmup} s"; exit 1; }
perf record -q -F 4000 -e cpu-clock -p $pid -o "$OUT/perf.data" -- sleep "$sample" >/dev/null 2>&1
python3 - "$pid" "$OUT" <<'PY'
import collections, subprocess, sys
pid, out = sys.argv[1], sys.argv[2]
regions = []
with open(f"/proc/{pid}/mem", "rb") as mem:
    for line in open(f"/proc/{pid}/maps"):
        fields = line.split()
        if "x" not in fields[1] or len(fields) > 5:  # executable, no file behind it
            continue
        start, end = (int(x, 16) for x in fields[0].split("-"))
        try:
            mem.seek(start)
            code = mem.read(end - start)
        except OSError:
            continue
        path = f"{out}/jit_{start:x}.bin"
        open(path, "wb").write(code)
        regions.append((start, end, path))
script = subprocess.run(["perf", "script", "-i", f"{out}/perf.data", "-F", "ip"],
                        capture_output=True, text=True).stdout
ips = [int(x, 16) for x in script.split()]
hits = collections.Counter()
for ip in ips:
    for region in regions:
        if region[0] <= ip < region[1]:
            hits[region] += 1
if not hits:
    sys.exit(f"jit-profile: none of {len(ips)} samples fell in JIT code")
(start, end, path), n = hits.most_common(1)[0]
offsets = sorted(ip - start for ip in ips if start <= ip < end)
lo, hi = offsets[len(offsets) // 50], offsets[-(len(offsets) // 50) - 1]  # 2nd..98th percentile
asm = subprocess.run(["objdump", "-D", "-b", "binary", "-m", "i386:x86-64",
                      f"--start-address={lo}", f"--stop-address={hi}", path],
                     capture_output=True, text=True).stdout
open(f"{out}/hot.s", "w").write(asm)
ops = collections.Counter(l.split("\t")[2].split()[0] for l in asm.splitlines()
                          if l.count("\t") >= 2 and l.split("\t")[2].split())
print(f"{len(ips)} samples, {n} in JIT code at {start:#x}; hot range {lo:#x}..{hi:#x}: "
      f"{sum(ops.values())} instructions ({out}/hot.s)")
print(", ".join(f"{op} {count}" for op, count in ops.most_common(20)))
PY
