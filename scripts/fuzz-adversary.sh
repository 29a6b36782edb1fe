#!/usr/bin/env bash
# The fuzzing adversary (palisade_sim::fuzz::Fuzz) against every protocol: each fuzz-*
# scenario for SEEDS seeds (default 2000) under its default nemesis (every fault kind the
# model admits). Prints one line per protocol: seeds, violations (panics are sim::no_panic),
# messages the Byzantine nodes put on the wire, how many of those differ from what their
# honest core sent, nemesis episodes injected.
# Usage: scripts/fuzz-adversary.sh [SEEDS]; SCENARIOS="fuzz-a fuzz-b" limits the run.
set -euo pipefail
cd "$(dirname "$0")/.."
seeds="${1:-2000}"
cargo build --release --quiet
bin=target/release/palisade
read -r -a scenarios <<<"${SCENARIOS:-$("$bin" sim --list 2>&1 | grep -o 'fuzz-[a-z0-9-]*' | sort -u | tr '\n' ' ')}"
printf '%-26s %6s %10s %12s %12s %9s  %s\n' scenario seeds violations byzantine altered episodes checkers
for sc in "${scenarios[@]}"; do
  out=$("$bin" sim "$sc" --seeds "$seeds" --no-shrink 2>&1 || true)
  last=$(tail -n 1 <<<"$out")
  v=$(sed -E 's/.* ([0-9]+) violation\(s\).*/\1/' <<<"$last")
  e=$(sed -E 's/.* ([0-9]+) nemesis episodes.*/\1/' <<<"$last")
  b=$(sed -nE 's/.* ([0-9]+) Byzantine messages.*/\1/p' <<<"$last")
  a=$(sed -nE 's/.* \(([0-9]+) altered\).*/\1/p' <<<"$last")
  checkers=$( (grep '^VIOLATION' <<<"$out" || true) | sed -E 's/.*s: ([a-z_:]+):.*/\1/' | sort | uniq -c | awk '{printf "%s=%s ", $2, $1}')
  printf '%-26s %6s %10s %12s %12s %9s  %s\n' "$sc" "$seeds" "$v" "${b:-0}" "${a:-0}" "$e" "$checkers"
done
