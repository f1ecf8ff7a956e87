#!/usr/bin/env bash
# Runs every check and test. Needs only the Rust toolchain: it installs what else it uses.
set -euo pipefail
cd "$(dirname "$0")/.."

rustup component add rustfmt clippy >/dev/null 2>&1 || true
rustup target add wasm32-unknown-unknown >/dev/null

echo "== the chains' own software (anvil, litesvm; bitcoinkernel's build tools)"
./scripts/test-tools.sh
echo "== format"
cargo fmt --all -- --check
echo "== lint"
cargo clippy --workspace --all-targets -j2 -- -D warnings
echo "== monitoring: alert rules checked and unit-tested by promtool"
promtool="${CARGO_TARGET_DIR:-target}/test-tools/prometheus/usr/bin/promtool"
"$promtool" check rules deploy/monitoring/alerts.yml
"$promtool" test rules deploy/monitoring/alerts.test.yml
echo "== the signer contract's wasm"
./scripts/build-contract.sh
echo "== tests"
cargo test --workspace -j2
