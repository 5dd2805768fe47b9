#!/usr/bin/env bash
# TLS handshakes per second against control's HTTPS listener with its key in the HSM
# (`[tls] key = "hsm"`: the signer signs every handshake in SoftHSM2) and with a key made in
# memory (`key = "memory"`: ring signs in control's process), one machine, one run, the same
# data directory and client (docs/performance.md). Each handshake is a full one on a new TCP
# connection (no resumption); the client is crates/httpd/examples/tls_handshakes.rs, a
# rustls loop on THREADS threads that verifies the chain once, then pins the leaf and checks
# only each handshake's signature (so the client's own chain checks do not set the pace). The modes alternate for ROUNDS rounds so drift on a shared
# machine hits both; TLS 1.3 and TLS 1.2 are measured in each.
#
# Usage: scripts/bench-tls-handshake.sh [SECONDS] [THREADS] [ROUNDS]   (default 10, 2, 2)
# Needs a release build: cargo build --release --bins && cargo build --release -p
# strongroom-httpd --example tls_handshakes
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
threads=${2:-2}
rounds=${3:-2}
target=${CARGO_TARGET_DIR:-target}/release
bin="$target/strongroom"
client="$target/examples/tls_handshakes"
[ -x "$bin" ] && [ -x "$client" ] || { echo "build first (see the header of $0)" >&2; exit 1; }
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT

up() { # MODE: starts strongroom up and waits for it
    [ -e "$work/data/logs/control.log" ] && : > "$work/data/logs/control.log"
    "$bin" up --data-dir "$work/data" --tls-key "$1" --control-listen 127.0.0.1:19443 \
        --front-listen 127.0.0.1:18080 --front-https-listen 127.0.0.1:18443 > "$work/up.log" 2>&1 &
    up_pid=$!
    for _ in $(seq 1 240); do
        grep -q "Press Ctrl-C" "$work/up.log" && return
        kill -0 "$up_pid" 2>/dev/null || break
        sleep 0.5
    done
    cat "$work/up.log" >&2; tail -n 20 "$work"/data/logs/*.log >&2; exit 1
}
down() {
    kill -INT "$up_pid"; wait "$up_pid" 2>/dev/null || true
}

declare -A rate
for round in $(seq 1 "$rounds"); do
    for mode in hsm memory; do
        up "$mode"
        grep -q "key = \"$mode\"" "$work/data/config/control.toml"
        # The listener certificate's log line names where its key is.
        want=$([ "$mode" = hsm ] && echo "the HSM key pkcs11:" || echo "a key made in memory")
        grep -q "$want" "$work/data/logs/control.log" || { echo "control: no '$want'" >&2; exit 1; }
        for version in tls13 tls12; do
            out=$("$client" 127.0.0.1:19443 "$work/data/ca/root.pem" "$seconds" "$threads" "$version")
            echo "round $round $mode $version: $out"
            rate[$round,$mode,$version]=$(sed -n 's/.*rate=\([0-9]*\).*/\1/p' <<<"$out")
        done
        down
    done
done
echo
echo "| round | protocol | HSM key (handshakes/s) | memory key (handshakes/s) | HSM / memory |"
echo "|---|---|---:|---:|---:|"
for round in $(seq 1 "$rounds"); do
    for version in tls13 tls12; do
        h=${rate[$round,hsm,$version]}; m=${rate[$round,memory,$version]}
        echo "| $round | $version | $h | $m | $(awk -v h="$h" -v m="$m" 'BEGIN{printf "%.2f", h/m}') |"
    done
done
