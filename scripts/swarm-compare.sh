#!/usr/bin/env bash
# Swarm testing against plain random faults: every hazard scenario of the tour (the
# "without" column) under `--nemesis all` (every admitted kind at once) and under
# `--nemesis all --swarm` (each seed a random subset of kinds at higher rates), SEEDS seeds
# each (default 1000). Prints violating seeds both ways.
# Usage: scripts/swarm-compare.sh [SEEDS]; SCENARIOS="a b" limits the run.
set -euo pipefail
cd "$(dirname "$0")/.."
seeds="${1:-1000}"
cargo build --release --quiet
bin=target/release/palisade
read -r -a scenarios <<<"${SCENARIOS:-register-small-quorums jitter-fixed observer-pause-unguarded drift-violation skew-unmonitored lww commit-wait-off unfenced leader-minority bracha-crash-quorums register-liar}"
count() {
  local out
  out=$("$bin" sim "$1" --seeds "$seeds" --nemesis all --no-shrink "${@:2}" 2>&1 || true)
  sed -E 's/.* ([0-9]+) violation\(s\).*/\1/' <<<"$(tail -n 1 <<<"$out")"
}
printf '%-26s %6s %10s %10s\n' scenario seeds all all+swarm
for sc in "${scenarios[@]}"; do
  printf '%-26s %6s %10s %10s\n' "$sc" "$seeds" "$(count "$sc")" "$(count "$sc" --swarm)"
done
