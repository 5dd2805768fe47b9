#!/usr/bin/env bash
# Runs every fuzz target for a bounded time or number of runs, on a scratch copy of the
# committed seed corpus (the seeds stay as committed).
#
# Usage: fuzz/smoke.sh -max_total_time=30      # CI smoke run, 30 s per target
#        fuzz/smoke.sh -runs=1000000           # the documented 1M-iteration run
# Needs cargo-fuzz (`cargo install cargo-fuzz`); uses RUSTC_BOOTSTRAP=1 because the
# machine's only toolchain is stable and libFuzzer instrumentation needs -Z flags.
set -euo pipefail
cd "$(dirname "$0")"
export RUSTC_BOOTSTRAP=1
limit=${1:--max_total_time=30}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cargo fuzz build -O
for target in $(cargo fuzz list); do
    mkdir -p "$scratch/$target"
    cp -r "corpus/$target/." "$scratch/$target/" 2>/dev/null || true
    echo "== $target ($limit)"
    cargo fuzz run -O "$target" "$scratch/$target" -- "$limit" -print_final_stats=1 2>&1 \
        | grep -E '^Done|stat::number_of_executed_units|ERROR|panicked|SUMMARY' || true
    if compgen -G "artifacts/$target/crash-*" >/dev/null || compgen -G "artifacts/$target/oom-*" >/dev/null; then
        echo "fuzz target $target found a failing input in fuzz/artifacts/$target/" >&2
        exit 1
    fi
done
