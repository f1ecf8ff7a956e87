#!/bin/sh
# Runs one fuzz target (cargo-fuzz, nightly) on its corpus for SECONDS seconds, or until RUNS
# inputs have run if that comes first, then prints libFuzzer's final stats.
# `./run.sh list` names the targets. See README.md.
#
# -O -s none: the release code as shipped, no sanitizer. The code is safe Rust (no `unsafe`
# in the project), so what a sanitizer would add is mostly time; panics and timeouts are what
# the targets look for. FUZZ_FLAGS=-a adds debug assertions and overflow checks.
# -Zallow-features: cait-sith pulls rustix 0.37 (via smol), whose build script turns on
# `rustc_attrs` on any nightly and then fails to compile; allowing only the feature
# curve25519-dalek asks for keeps it off.
set -eu
cd "$(dirname "$0")"
export RUSTFLAGS="${RUSTFLAGS:-} -Zallow-features=stdarch_x86_avx512"
if [ "${1:-}" = list ]; then exec cargo +nightly fuzz list; fi
target="$1"
seconds="${2:-60}"
runs="${3:--1}"
mkdir -p "corpus/$target"
cargo +nightly fuzz build -O -s none ${FUZZ_FLAGS:-} "$target"
exec cargo +nightly fuzz run -O -s none ${FUZZ_FLAGS:-} "$target" "corpus/$target" -- \
    -max_total_time="$seconds" -runs="$runs" -print_final_stats=1 -timeout=30 -rss_limit_mb=4096
