#!/usr/bin/env bash
# The linearizability checker on the histories with known verdicts: the median over RUNS
# runs (default 7) of the check's own wall time per file (the shrinking of a failure is
# timed apart), as `palisade check-history --json` reports them.
# Usage: bench/check-histories.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-7}"
cargo build --release --quiet
bin=target/release/palisade
printf '%-14s %-12s %-17s %10s %14s %16s\n' file model verdict steps "check (ms)" "shrink (ms)"
for f in tests/data/histories/etcd/*.log tests/data/histories/kv/*.txt; do
  model=cas-register
  [[ $f == */kv/* ]] && model=kv
  for _ in $(seq "$runs"); do
    "$bin" check-history "$f" --model "$model" --json || true
  done | python3 -c '
import json, statistics, sys
rows = [json.loads(l) for l in sys.stdin]
v = "linearizable" if rows[0]["linearizable"] else "not-linearizable"
check = statistics.median(r["wall_ns"] for r in rows) / 1e6
shrink = statistics.median(r.get("shrink_wall_ns", 0) for r in rows) / 1e6
print("%-14s %-12s %-17s %10d %14.3f %16.3f" % (sys.argv[1], sys.argv[2], v, rows[0]["steps"], check, shrink))
' "$(basename "$f")" "$model"
done
