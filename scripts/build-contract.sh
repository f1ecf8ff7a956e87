#!/usr/bin/env bash
# Builds the signer contract's wasm (the artifact one deploys on NEAR) to target/signer.wasm
# (or $CARGO_TARGET_DIR/signer.wasm),
# shrunk with wasm-opt when binaryen is installed (`apt-get install binaryen`).
set -euo pipefail
cd "$(dirname "$0")/.."
rustup target add wasm32-unknown-unknown >/dev/null
cargo build -p contract-wasm --target wasm32-unknown-unknown --profile wasm -j2
target="${CARGO_TARGET_DIR:-target}"
raw="$target/wasm32-unknown-unknown/wasm/contract_wasm.wasm"
out="$target/signer.wasm"
if command -v wasm-opt >/dev/null 2>&1; then
  wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    --enable-mutable-globals --enable-multivalue --enable-reference-types "$raw" -o "$out"
else
  cp "$raw" "$out"
fi
echo "signer contract: $out ($(stat -c %s "$out") bytes; unoptimized $(stat -c %s "$raw"))"
