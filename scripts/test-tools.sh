#!/usr/bin/env bash
# Installs the chains' own software that the tests run offline, into target/test-tools:
# anvil (Ethereum's dev node, from npm @foundry-rs/anvil) and litesvm (Solana's runtime, npm).
# Needs Node.js and npm; installs them from Debian's packages when missing (as root).
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${CARGO_TARGET_DIR:-target}/test-tools"

if ! command -v npm >/dev/null 2>&1; then
  echo "installing Node.js and npm (Debian packages)..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi

anvil="$dir/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"
litesvm="$dir/node_modules/litesvm-linux-x64-gnu/litesvm.linux-x64-gnu.node"
if [ -x "$anvil" ] && [ -f "$litesvm" ] && cmp -s scripts/test-tools/package.json "$dir/package.json"; then
  exit 0
fi
mkdir -p "$dir"
cp scripts/test-tools/package.json "$dir/package.json"
echo "installing anvil and litesvm into $dir..."
# No install scripts: the platform packages carry the binaries themselves.
(cd "$dir" && npm install --no-audit --no-fund --ignore-scripts --loglevel=error)
"$anvil" --version | head -1
