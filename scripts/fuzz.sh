#!/usr/bin/env bash
# Runs every cargo-fuzz target for a bounded time (default 60 s each) from the committed
# seed corpus, and prints each target's execution count. New inputs the fuzzer finds go to
# target/fuzz-corpus/TARGET, not into the committed corpus, which stays small.
#
#   scripts/fuzz.sh            # 60 s per target
#   scripts/fuzz.sh 10 frame   # 10 s, one target
#
# Needs cargo-fuzz (installed here if missing) and a compiler that accepts nightly flags:
# on a stable toolchain RUSTC_BOOTSTRAP=1 stands in for nightly.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
secs="${1:-60}"
shift || true
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz
if ! rustc --version | grep -q nightly; then
  export RUSTC_BOOTSTRAP=1
fi
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
  mapfile -t targets < <(cargo fuzz list | grep -v '^seeds$')
fi
[ -d corpus/frame ] || cargo run -q --bin seeds
summary=()
for t in "${targets[@]}"; do
  work="../target/fuzz-corpus/$t"
  mkdir -p "$work"
  echo "=== $t: ${secs}s"
  log="../target/fuzz-$t.log"
  cargo fuzz run "$t" "$work" "corpus/$t" -- -max_total_time="$secs" -rss_limit_mb=2048 -print_final_stats=1 2>&1 | tee "$log" | grep -E "^(Done|stat::number_of_executed_units|==|SUMMARY|ERROR)" || true
  runs=$(grep -oE "^Done [0-9]+ runs" "$log" | grep -oE "[0-9]+" || echo "?")
  if [ "$runs" = "?" ] || grep -qE "^(==[0-9]+==ERROR|SUMMARY|thread .* panicked)" "$log"; then
    echo "!!! $t found a failure: see $log and fuzz/artifacts/$t" >&2
    exit 1
  fi
  summary+=("$t: $runs executions in ${secs}s")
done
printf '%s\n' "${summary[@]}"
