#!/usr/bin/env bash
# How often each scheduler finds the ABD register's missing write-back, over the same
# seeds: the timed simulator as `palisade sim abd-no-write-back` runs it (with its default
# nemesis, every fault the model admits, and with none), and one path per seed through the
# sampled model (`abd::sampling_setup`: a writer and two readers of 32 operations each)
# chosen uniformly at random or by PCT at depths 1 to 16. Prints violating seeds and wall
# seconds per scheduler.
# Usage: bench/schedulers.sh [SEEDS] (default 2000; on this project's machine kind about
# 2.5 s per 2000 timed seeds, on both cores, and 7 s per 2000 sampled paths, on one).
set -eu
cd "$(dirname "$0")/.."
seeds="${1:-2000}"
cargo build --release --quiet
bin=target/release/palisade
count() { tail -n 1 | sed -E 's/.* ([0-9]+) violati(on\(s\)|ng).*/\1/'; }
row() {
  local label="$1"; shift
  local start end n
  start=$(date +%s%N)
  n=$("$bin" sim abd-no-write-back --seeds "$seeds" "$@" 2>&1 | count)
  end=$(date +%s%N)
  printf '%-44s %8s %10s %9s\n' "$label" "$seeds" "$n" "$(awk -v ns="$((end - start))" 'BEGIN { printf "%.1f", ns / 1e9 }')"
}
printf '%-44s %8s %10s %9s\n' scheduler seeds violating wall_s
row "timed simulator, --nemesis all" --nemesis all --no-shrink
row "timed simulator, --nemesis none" --nemesis none --no-shrink
row "sampled model, uniform random" --scheduler random
for d in 1 3 5 8 16; do
  row "sampled model, pct --depth $d" --scheduler pct --depth "$d"
done
