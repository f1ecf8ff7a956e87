#!/usr/bin/env bash
# Installs the chains' own software that the tests run offline: anvil (Ethereum's dev node, from
# npm @foundry-rs/anvil), solc-js (Solidity's compiler, npm, for the ERC-20 the Ethereum test
# deploys), litesvm (Solana's runtime, npm), bitcore-lib-doge, xrpl.js and CosmJS (Dogecoin's,
# the XRP Ledger's and the Cosmos SDK's codecs and signature checks, npm), near-api-js (NEAR's
# JavaScript client, which the devnet must serve unchanged, npm) and promtool into
# target/test-tools, and what the bitcoinkernel crate (Bitcoin Core's validation) needs to
# build. Installs missing Debian packages (as root).
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${CARGO_TARGET_DIR:-target}/test-tools"

# Debian packages: Node.js/npm for anvil and litesvm; cmake and Boost's headers to build
# Bitcoin Core's validation engine (the bitcoinkernel crate) for the Bitcoin tests.
missing=()
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
command -v cmake >/dev/null 2>&1 || missing+=(cmake)
[ -d /usr/include/boost ] || missing+=(libboost-dev)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# promtool (Debian's prometheus package, unpacked rather than installed: no server started)
# checks the alert rules in deploy/monitoring.
promtool="$dir/prometheus/usr/bin/promtool"
if [ ! -x "$promtool" ]; then
  echo "fetching promtool (Debian's prometheus package)..."
  mkdir -p "$dir/prometheus"
  (cd "$dir/prometheus" && { apt-get download prometheus >/dev/null 2>&1 ||
    { apt-get update -qq && apt-get download prometheus >/dev/null 2>&1; }; } &&
    dpkg-deb -x prometheus_*.deb . && rm -f prometheus_*.deb)
fi
"$promtool" --version | head -1

anvil="$dir/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"
litesvm="$dir/node_modules/litesvm-linux-x64-gnu/litesvm.linux-x64-gnu.node"
if [ -x "$anvil" ] && [ -f "$litesvm" ] && cmp -s scripts/test-tools/package.json "$dir/package.json"; then
  exit 0
fi
mkdir -p "$dir"
cp scripts/test-tools/package.json "$dir/package.json"
echo "installing anvil, solc, litesvm, bitcore-lib-doge, xrpl.js, CosmJS and near-api-js into $dir..."
# No install scripts: the platform packages carry the binaries themselves.
(cd "$dir" && npm install --no-audit --no-fund --ignore-scripts --loglevel=error)
"$anvil" --version | head -1
