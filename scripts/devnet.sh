#!/usr/bin/env bash
# Starts a whole local network: the devnet chain running the signer contract's wasm, and four
# MPC nodes (threshold 3), keys generated, ready to sign. Needs only the Rust toolchain: it
# builds the contract's wasm (installing the wasm target) and the chainsig binary first.
# Arguments go to `chainsig devnet` (e.g. --json, --dir D, --nodes 5 --threshold 3).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build-contract.sh
cargo build --release -p cli -j2
exec ./target/release/chainsig devnet --wasm "${CARGO_TARGET_DIR:-target}/signer.wasm" "$@"
