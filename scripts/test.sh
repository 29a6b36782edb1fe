#!/usr/bin/env bash
# The README's test command: installs what the real-component tests need (Debian's chromium
# for the diagram test, nftables for the partition test, faketime for the wall-clock step
# across a restart) when run as root on a machine with
# apt, then runs the whole workspace test suite. Without root the tests that need those
# tools say that they skip and why.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v nft >/dev/null 2>&1 || need+=(nftables)
command -v faketime >/dev/null 2>&1 || need+=(faketime)
if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing ${need[*]} (apt-get)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "note: ${need[*]} missing and not root: the tests that need them will skip" >&2
  fi
fi
if command -v chromium >/dev/null 2>&1; then
  export PALISADE_REQUIRE_CHROMIUM=1
fi
if command -v faketime >/dev/null 2>&1; then
  export PALISADE_REQUIRE_FAKETIME=1
fi
if [ "$(id -u)" = 0 ] && command -v nft >/dev/null 2>&1; then
  export PALISADE_REQUIRE_NFT=1
fi
exec cargo test --workspace "$@"
