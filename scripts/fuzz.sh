#!/usr/bin/env bash
# Runs the coverage-guided fuzz targets (fuzz/, cargo fuzz + libFuzzer + AddressSanitizer).
#
#   bash scripts/fuzz.sh [SECONDS] [TARGET ...]
#
# SECONDS per target (default 20: CI's smoke); all targets when none is named. Each run
# starts from the seeds (scripts/fuzz_seeds.py, made from ../shared and the fixtures) and
# the corpus that earlier runs left in fuzz/corpus/<target>. A crash, a hang (> 10 s on
# one input), an allocation over 1 GiB or an RSS over 2 GiB (ASan's own overhead
# included) fails the run; libFuzzer writes the input to fuzz/artifacts/<target>/.
# FUZZ_DEV=1 builds without optimisation (CI's smoke: the build takes a fraction of the
# time, the runs are slower). FUZZ_RUNS=N stops a target after N executions if that comes first (the long runs in
# docs/reliability.md: FUZZ_RUNS=1000000 bash scripts/fuzz.sh 1800).
# Prints one line per target: executions, corpus size, peak RSS.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-20}"
shift || true
export SIGHTLINE_SHARED="${SIGHTLINE_SHARED:-$(cd .. && pwd)/shared}"

# The fuzzer's flags (-Zsanitizer) need nightly; a machine without a nightly toolchain
# uses the stable one with its unstable features unlocked.
if rustup run nightly rustc --version >/dev/null 2>&1; then
  cargo_fuzz=(cargo +nightly fuzz)
else
  echo "fuzz: no nightly toolchain; using stable with RUSTC_BOOTSTRAP=1"
  export RUSTC_BOOTSTRAP=1
  cargo_fuzz=(cargo fuzz)
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz"
  cargo install cargo-fuzz --locked --version 0.13.2
fi

# The seeds are remade whenever the script that makes them changes.
seeds=fuzz/seeds
seeds_key=$(sha256sum scripts/fuzz_seeds.py | cut -d' ' -f1)
if [ "$(cat "$seeds/.done" 2>/dev/null)" != "$seeds_key" ]; then
  [ -x .venv/bin/python ] || bash scripts/setup.sh
  rm -rf "$seeds"
  .venv/bin/python scripts/fuzz_seeds.py "$SIGHTLINE_SHARED" "$seeds"
  echo "$seeds_key" >"$seeds/.done"
fi

# The targets that read files write them here (fuzz/src/lib.rs), gone when this ends.
SIGHTLINE_FUZZ_SCRATCH=$(mktemp -d -p /dev/shm sightline-fuzz.XXXXXX 2>/dev/null || mktemp -d)
export SIGHTLINE_FUZZ_SCRATCH
trap 'rm -rf "$SIGHTLINE_FUZZ_SCRATCH"' EXIT

cd fuzz
profile=()
[ -z "${FUZZ_DEV:-}" ] || profile=(--dev)
targets=("$@")
if [ ${#targets[@]} -gt 0 ]; then
  # Only what the named targets need (the bag targets skip the engine's GPU stack).
  for target in "${targets[@]}"; do "${cargo_fuzz[@]}" build "${profile[@]}" "$target"; done
else
  mapfile -t targets < <("${cargo_fuzz[@]}" list)
  "${cargo_fuzz[@]}" build "${profile[@]}"
fi

status=0
summary=()
for target in "${targets[@]}"; do
  mkdir -p "corpus/$target"
  log="target/fuzz-$target.log"
  echo "fuzz: $target for ${seconds}s"
  if ! "${cargo_fuzz[@]}" run "${profile[@]}" "$target" "corpus/$target" "seeds/$target" -- \
      -max_total_time="$seconds" -timeout=10 -malloc_limit_mb=1024 -rss_limit_mb=2048 \
      -print_final_stats=1 ${FUZZ_RUNS:+-runs=$FUZZ_RUNS} >"$log" 2>&1; then
    status=1
    echo "fuzz: $target FAILED; the end of its log ($log):"
    grep -v '^INFO' "$log" | tail -40 | cut -c1-300
  fi
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  rss=$(grep -o 'stat::peak_rss_mb: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  files=$(find "corpus/$target" -type f | wc -l)
  bytes=$(du -sb "corpus/$target" | cut -f1)
  summary+=("$(printf '%-18s %12s execs  %6s inputs  %9s bytes  peak RSS %s MB' \
    "$target" "$execs" "$files" "$bytes" "$rss")")
done
printf '%s\n' "${summary[@]}"
exit $status
