#!/usr/bin/env bash
# Every defended scenario of the tour under every fault its system model admits: all kinds
# at once at the default rate, then each kind alone at 3x the default rate (12 per simulated
# minute). Prints one line per run: scenario, nemesis, seeds, violations, episodes injected.
# Usage: scripts/model-sweep.sh [SEEDS] (default 2000; the test suite runs 50 of each).
# Kinds a scenario's model does not admit are reported as "not admitted" and skipped.
# SCENARIOS="a b" limits the run to those scenarios.
set -euo pipefail
cd "$(dirname "$0")/.."
seeds="${1:-2000}"
cargo build --release --quiet
bin=target/release/palisade
# The `with` column of src/scenarios/hazards.rs (tests/system_models.rs checks this list).
read -r -a scenarios <<<"${SCENARIOS:-register jitter-phi observer-pause-guarded drift-bounded skew lww-hlc commit-wait fencing leader bracha bft-register-signed}"
printf '%-24s %-13s %6s %10s %9s\n' scenario nemesis seeds violations episodes
for sc in "${scenarios[@]}"; do
  for mix in all crash=12 torn=12 pause=12 partition=12 clock=12 loss=12 duplicate=12; do
    if ! out=$("$bin" sim "$sc" --seeds "$seeds" --nemesis "$mix" --no-shrink 2>&1); then
      if grep -q "does not admit" <<<"$out"; then
        printf '%-24s %-13s %6s %10s %9s\n' "$sc" "$mix" - "not admitted" -
        continue
      fi
    fi
    # The last line: "NAME: N seed(s), V violation(s), E nemesis episodes, ..."
    last=$(tail -n 1 <<<"$out")
    v=$(sed -E 's/.* ([0-9]+) violation\(s\).*/\1/' <<<"$last")
    e=$(sed -E 's/.* ([0-9]+) nemesis episodes.*/\1/' <<<"$last")
    printf '%-24s %-13s %6s %10s %9s\n' "$sc" "$mix" "$seeds" "$v" "$e"
  done
done
