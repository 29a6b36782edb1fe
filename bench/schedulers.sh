#!/usr/bin/env bash
# How often each scheduler finds the ABD register's missing write-back, over the same
# seeds: the timed simulator as `palisade sim abd-no-write-back` runs it (with its default
# nemesis, every fault the model admits, and with none), and one path per seed through the
# explorer's model (a writer and a reader of two operations each) chosen uniformly at random
# or by PCT at depths 1 to 5. Prints violating seeds per scheduler.
# Usage: bench/schedulers.sh [SEEDS] (default 2000; the timed runs take about 12 s per 2000).
set -eu
cd "$(dirname "$0")/.."
seeds="${1:-2000}"
cargo build --release --quiet
bin=target/release/palisade
count() { tail -n 1 | sed -E 's/.* ([0-9]+) violati(on\(s\)|ng).*/\1/'; }
printf '%-44s %8s %10s\n' scheduler seeds violating
for nemesis in all none; do
  n=$("$bin" sim abd-no-write-back --seeds "$seeds" --nemesis "$nemesis" --no-shrink 2>&1 | count)
  printf '%-44s %8s %10s\n' "timed simulator, --nemesis $nemesis" "$seeds" "$n"
done
n=$("$bin" sim abd-no-write-back --seeds "$seeds" --scheduler random 2>&1 | count)
printf '%-44s %8s %10s\n' "explorer model, uniform random" "$seeds" "$n"
for d in 1 2 3 4 5; do
  n=$("$bin" sim abd-no-write-back --seeds "$seeds" --scheduler pct --depth "$d" 2>&1 | count)
  printf '%-44s %8s %10s\n' "explorer model, pct --depth $d" "$seeds" "$n"
done
