#!/usr/bin/env bash
# Starts a whole local network: the devnet chain running the signer contract's wasm, and four
# MPC nodes (threshold 3), keys generated, ready to sign. Needs only the Rust toolchain: it
# builds the contract's wasm (installing the wasm target) and the chainsig binary first.
# Arguments go to `chainsig devnet` (e.g. --json, --dir D, --nodes 5 --threshold 3,
# --with evm,solana,bitcoin: then the chains' tools are installed, and the Bitcoin regtest
# chain's binary built, first).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build-contract.sh --signer-only
packages=(-p cli)
case " $* " in
  *--with*)
    ./scripts/test-tools.sh
    case " $* " in *bitcoin*) packages+=(-p btc-regtest) ;; esac
    ;;
esac
cargo build --release "${packages[@]}" -j2
exec ./target/release/chainsig devnet --wasm "${CARGO_TARGET_DIR:-target}/signer.wasm" "$@"
