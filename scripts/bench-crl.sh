#!/usr/bin/env bash
# Time to generate and sign one CRL of N revoked entries in the signer (HSM signature
# included), the signer's peak memory, and openssl's verdict on the result, against
# `openssl ca -gencrl` over the same number of entries (docs/performance.md).
#
# Usage: scripts/bench-crl.sh [N]          (default 1000000)
# Needs: a release build (`cargo build --release --bins`), openssl, softhsm2.
# The revocation log is written directly in the signer's format (one RecordRevocation per
# entry would time a million fsyncs, not the CRL).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000000}
bin=${CARGO_TARGET_DIR:-target}/release
work=$(mktemp -d)
up_pid=
trap '[ -n "$up_pid" ] && kill -INT $up_pid 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"' EXIT

start_up() {
    "$bin/strongroom" up --data-dir "$work/data" --control-listen 127.0.0.1:19444 \
        --front-listen 127.0.0.1:18082 > "$work/up.log" 2>&1 &
    up_pid=$!
    for _ in $(seq 1 600); do grep -q "Press Ctrl-C" "$work/up.log" && return 0; sleep 0.5; done
    cat "$work/up.log"; exit 1
}
stop_up() { kill -INT "$up_pid"; wait "$up_pid" || true; up_pid=; : > "$work/up.log"; }

start_up
stop_up
log="$work/data/signer/revocations/issuing.log"
t0=$(date +%s.%N)
awk -v n="$n" 'BEGIN { srand(7); for (i = 1; i <= n; i++) printf "%08x%08x%08x%08x 1 1790000000 -\n", 1879048192 + int(rand()*268435455), i, int(rand()*4294967295), i }' > "$log"
echo "wrote $n revocation records in $(echo "$(date +%s.%N) - $t0" | bc) s ($(du -h "$log" | cut -f1))"
t0=$(date +%s.%N)
start_up
echo "signer start with $n revocations loaded: $(echo "$(date +%s.%N) - $t0" | bc) s (includes control and front start)"
signer_pid=$(pgrep -f "strongroom-signer run --config $work/data" | head -1)
grep -E "VmHWM|VmRSS" /proc/"$signer_pid"/status | tr -s ' ' | sed 's/^/signer before IssueCrl /'
t0=$(date +%s.%N)
"$bin/strongroom" signer --data-dir "$work/data" crl --ca issuing --out "$work/issuing.crl" > /dev/null
t1=$(date +%s.%N)
sr_s=$(echo "$t1 - $t0" | bc)
echo "IssueCrl with $n entries: $sr_s s, $(du -h "$work/issuing.crl" | cut -f1) DER"
grep -E "VmHWM|VmRSS" /proc/"$signer_pid"/status | tr -s ' ' | sed 's/^/signer /'
awk 'n>=1{print} /END CERTIFICATE/{n++}' "$work/data/ca/chain.pem" > /dev/null
openssl crl -inform DER -in "$work/issuing.crl" -noout -verify -CAfile "$work/data/ca/issuing.pem" 2>&1 | tail -1
echo "entries in the CRL: $(openssl crl -inform DER -in "$work/issuing.crl" -noout -text | grep -c 'Serial Number:')"

# Reference, same N: `openssl ca -gencrl` over an index of N revoked entries, with a P-256
# key in a file (no HSM): what a CA built on OpenSSL's own tooling spends on the same CRL.
ref="$work/ref"; mkdir -p "$ref/new"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$ref/ca.key" \
    -subj /CN=Reference -days 30 -out "$ref/ca.pem" 2>/dev/null
awk -v n="$n" 'BEGIN { srand(7); for (i = 1; i <= n; i++) printf "R\t300101000000Z\t260101000000Z\t%08X%08X%08X%08X\tunknown\t/CN=r%d\n", 1879048192 + int(rand()*268435455), i, int(rand()*4294967295), i, i }' > "$ref/index.txt"
echo "unique_subject = no" > "$ref/index.txt.attr"
echo 01 > "$ref/crlnumber"
cat > "$ref/ca.cnf" <<CNF
[ca]
default_ca = ref
[ref]
database = $ref/index.txt
crlnumber = $ref/crlnumber
new_certs_dir = $ref/new
certificate = $ref/ca.pem
private_key = $ref/ca.key
default_md = sha256
default_crl_days = 1
policy = any
[any]
CNF
t0=$(date +%s.%N)
openssl ca -config "$ref/ca.cnf" -gencrl -out "$ref/ref.crl" 2>/dev/null
t1=$(date +%s.%N)
ref_s=$(echo "$t1 - $t0" | bc)
echo "reference: openssl ca -gencrl with $n entries: $ref_s s, $(du -h "$ref/ref.crl" | cut -f1) PEM"
echo "entries in the reference CRL: $(openssl crl -in "$ref/ref.crl" -noout -text | grep -c 'Serial Number:')"
echo "ratio openssl ca time / strongroom time (above 1: Strongroom is faster): $(echo "scale=2; $ref_s / $sr_s" | bc)"
