#!/usr/bin/env bash
# Builds the signer contract's wasm (the artifact one deploys on NEAR) to target/signer.wasm,
# and every example contract (examples/*/) to target/examples/<crate_name>.wasm (or under
# $CARGO_TARGET_DIR), each shrunk with wasm-opt when binaryen is installed
# (`apt-get install binaryen`). One cargo invocation for all: they share near-sdk's build.
# `--signer-only` builds the signer alone (what the devnet needs: scripts/devnet.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
rustup target add wasm32-unknown-unknown >/dev/null
signer_only=false
[ "${1:-}" = "--signer-only" ] && signer_only=true
# examples/btc-vault links libsecp256k1 (C, through rust-bitcoin): compiling it for wasm32 takes
# clang, and llvm-ar to archive it. Installed from Debian when missing (as root).
if ! $signer_only && { ! command -v clang >/dev/null 2>&1 || ! command -v llvm-ar >/dev/null 2>&1; }; then
  echo "installing Debian packages: clang llvm (libsecp256k1 for wasm32)..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang llvm >/dev/null
fi
target="${CARGO_TARGET_DIR:-target}"

# The examples' package names, from their manifests' [package] sections.
examples=()
$signer_only || for manifest in examples/*/Cargo.toml; do
  [ -f "$manifest" ] || continue
  name=$(sed -n '/^\[package\]/,/^\[/{s/^name *= *"\(.*\)"/\1/p}' "$manifest" | head -n1)
  [ -n "$name" ] || { echo "no package name in $manifest" >&2; exit 1; }
  examples+=("$name")
done

packages=(-p contract-wasm)
for name in "${examples[@]}"; do packages+=(-p "$name"); done
cargo build "${packages[@]}" --target wasm32-unknown-unknown --profile wasm -j2

# Shrinks $1 into $2 (or copies it when wasm-opt is missing) and says how big both are.
shrink() {
  local raw="$1" out="$2" what="$3"
  if command -v wasm-opt >/dev/null 2>&1; then
    wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
      --enable-mutable-globals --enable-multivalue --enable-reference-types "$raw" -o "$out"
  else
    cp "$raw" "$out"
  fi
  echo "$what: $out ($(stat -c %s "$out") bytes; unoptimized $(stat -c %s "$raw"))"
}

built="$target/wasm32-unknown-unknown/wasm"
shrink "$built/contract_wasm.wasm" "$target/signer.wasm" "signer contract"
mkdir -p "$target/examples"
for name in "${examples[@]}"; do
  crate="${name//-/_}"
  shrink "$built/$crate.wasm" "$target/examples/$crate.wasm" "example $name"
done
