#!/usr/bin/env bash
# The ping-pong workload on palisade's simulator and on turmoil 0.7.2, side by side: for each
# workload (turmoil's: exponential latency, mean 20 ms, no loss; palisade's: uniform
# 0-100 ms, 1% loss), each given to both simulators, RUNS alternating runs of each
# (default 7; palisade's own figure is already the median of 7 runs), and the medians and
# their ratio. See bench/turmoil-pingpong/src/main.rs for how turmoil is given palisade's
# workload.
# Usage: bench/compare-turmoil.sh [RUNS]   (needs the crates.io registry for turmoil once)
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-7}"
cargo build -q --release --example pingpong_bench
cargo build -q --release --manifest-path bench/turmoil-pingpong/Cargo.toml
rate() { sed -n 's/.*delivered_per_wall_s=\([0-9]*\).*/\1/p'; }
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
for workload in turmoil palisade; do
  p=(); t=()
  for _ in $(seq "$runs"); do
    p+=("$(target/release/examples/pingpong_bench --workload "$workload" | rate)")
    t+=("$(bench/turmoil-pingpong/target/release/turmoil-pingpong --workload "$workload" | rate)")
  done
  pm=$(median "${p[@]}"); tm=$(median "${t[@]}")
  echo "workload=$workload palisade_runs=${p[*]}"
  echo "workload=$workload turmoil_runs=${t[*]}"
  echo "workload=$workload palisade_median=$pm turmoil_median=$tm ratio=$(awk "BEGIN{printf \"%.1f\", $pm/$tm}")x"
done
