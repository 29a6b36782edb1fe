#!/usr/bin/env bash
# Runs the ping-pong workload on palisade's simulator and on turmoil 0.7.2, alternating,
# five times each, and prints each side's median rate and the ratio.
# Usage: bench/compare-turmoil.sh   (needs the crates.io registry for turmoil the first time)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q --release --example pingpong_bench
cargo build -q --release --manifest-path bench/turmoil-pingpong/Cargo.toml
rate() { sed -n 's/.*delivered_per_wall_s=\([0-9]*\).*/\1/p'; }
p=(); t=()
for _ in 1 2 3 4 5; do
  p+=("$(target/release/examples/pingpong_bench | rate)")
  t+=("$(bench/turmoil-pingpong/target/release/turmoil-pingpong | rate)")
done
median() { printf '%s\n' "$@" | sort -n | sed -n 3p; }
pm=$(median "${p[@]}"); tm=$(median "${t[@]}")
echo "palisade runs: ${p[*]}"
echo "turmoil  runs: ${t[*]}"
echo "palisade_median=$pm turmoil_median=$tm ratio=$(awk "BEGIN{printf \"%.1f\", $pm/$tm}")x"
