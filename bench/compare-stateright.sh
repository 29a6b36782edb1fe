#!/usr/bin/env bash
# palisade's explorer against stateright 0.31 on the same ABD model (bench/stateright-abd:
# 3 replicas, a writer and a reader of 2 operations each, no loss), both single-threaded and
# breadth-first, alternating runs, medians. Prints one line per tool and model:
#   - abd-no-write-back: states searched until the bug, time, counterexample length;
#   - abd: palisade exhaustively (it forgets obsolete messages), and both tools with every
#     message kept, cut at about 300,000 distinct states, for states per second.
# Usage: bench/compare-stateright.sh [RUNS] (default 5). Needs the crates.io registry once.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-5}"
cargo build --release --quiet
(cd bench/stateright-abd && cargo build --release --quiet)
p=target/release/palisade
s=bench/stateright-abd/target/release/stateright-abd
declare -A out
for _ in $(seq "$runs"); do
  out[p_bug]+="$("$p" explore abd-no-write-back --json || true)"$'\n'
  out[s_bug]+="$("$s" abd-no-write-back)"$'\n'
  out[pk_bug]+="$("$p" explore abd-no-write-back --keep-obsolete --json || true)"$'\n'
  out[p_all]+="$("$p" explore abd --json 2>/dev/null)"$'\n'
  out[pk_cut]+="$("$p" explore abd --keep-obsolete --max-states 300000 --json 2>/dev/null)"$'\n'
  out[s_cut]+="$("$s" abd 1000000)"$'\n'
done
for k in p_bug pk_bug s_bug p_all pk_cut s_cut; do
  printf '%s' "${out[$k]}" | python3 -c '
import json, statistics, sys
name = sys.argv[1]
rows = [json.loads(l) for l in sys.stdin if l.strip()]
label = {"p_bug": "palisade, abd-no-write-back", "pk_bug": "palisade --keep-obsolete, abd-no-write-back",
         "s_bug": "stateright, abd-no-write-back", "p_all": "palisade, abd (exhaustive)",
         "pk_cut": "palisade --keep-obsolete, abd (cut)", "s_cut": "stateright, abd (cut)"}[name]
r = rows[0]
ms = statistics.median(x["wall_ns"] for x in rows) / 1e6
rate = statistics.median(x["states"] / (x["wall_ns"] / 1e9) for x in rows)
steps = r.get("counterexample_steps")
if steps is None and r.get("violation"):
    steps = len(r["violation"]["steps"]) - 1
states, complete = r["states"], str(r["complete"]).lower()
print(f"{label:46} states {states:>9}  complete {complete:5}  {ms:9.1f} ms  {rate:9.0f} states/s  counterexample {steps}")
' "$k"
done
