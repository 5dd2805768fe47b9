#!/usr/bin/env bash
# OCSP side by side, one run, one machine (docs/performance.md): `openssl ocsp -port` as the
# reference responder (software key, signs every answer) against strongroom-front (answers
# from pre-signed responses), both on loopback plain HTTP, the same single-certificate
# SHA-1 request shape, the same load generator and settings: ApacheBench (`ab`, POST,
# HTTP/1.0, a connection per request — `openssl ocsp -port` neither keeps connections
# alive nor survives wrk's pipelined keep-alive connections). A second row measures the
# front with wrk and keep-alive, as a CDN or a busy client would reach it.
#
# Usage: scripts/bench-ocsp.sh [REQUESTS] [CONCURRENCY]    (default 50000, 16)
# Needs: a release build (`cargo build --release --bins`), openssl, softhsm2, ab
# (apache2-utils), wrk.
set -euo pipefail
cd "$(dirname "$0")/.."
requests=${1:-50000}
conns=${2:-16}
bin=${CARGO_TARGET_DIR:-target}/release
for t in ab wrk; do
    command -v $t >/dev/null || { echo "$t is not installed (Debian: apt-get install apache2-utils wrk)" >&2; exit 1; }
done
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT

# --- Strongroom: up (signer, control, front) with release binaries -----------------------
"$bin/strongroom" up --data-dir "$work/data" --control-listen 127.0.0.1:19443 \
    --front-listen 127.0.0.1:18080 > "$work/up.log" 2>&1 &
for _ in $(seq 1 120); do grep -q "Press Ctrl-C" "$work/up.log" && break; sleep 0.5; done
grep -q "Press Ctrl-C" "$work/up.log" || { cat "$work/up.log"; exit 1; }
export XDG_CONFIG_HOME="$work/home"
"$bin/strongroom" login --url https://127.0.0.1:19443 --ca-file "$work/data/ca/root.pem" \
    --user admin --password-file "$work/data/secrets/admin-password" 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/leaf.key" \
    -subj /CN=bench.lab.test -out "$work/leaf.csr" 2>/dev/null
"$bin/strongroom" cert issue --profile tls-server --csr "$work/leaf.csr" --out "$work/leaf-chain.pem" >/dev/null 2>&1
awk 'n==0{print} /END CERTIFICATE/{n++}' "$work/leaf-chain.pem" > "$work/leaf.pem"
awk 'n>=1{print} /END CERTIFICATE/{n++}' "$work/leaf-chain.pem" > "$work/issuing.pem"
openssl ocsp -issuer "$work/issuing.pem" -cert "$work/leaf.pem" -no_nonce -reqout "$work/sr.req" >/dev/null
openssl ocsp -url http://127.0.0.1:18080/ocsp -issuer "$work/issuing.pem" -cert "$work/leaf.pem" \
    -CAfile "$work/data/ca/root.pem" -no_nonce | grep -q ": good"

# --- Reference: openssl ocsp -port with a software CA and responder -----------------------
ref="$work/ref"; mkdir -p "$ref"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$ref/ca.key" \
    -subj /CN=Reference\ CA -days 30 -out "$ref/ca.pem" 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$ref/leaf.key" \
    -subj /CN=leaf -out "$ref/leaf.csr" 2>/dev/null
openssl x509 -req -in "$ref/leaf.csr" -CA "$ref/ca.pem" -CAkey "$ref/ca.key" -days 30 \
    -set_serial 0x1234 -out "$ref/leaf.pem" 2>/dev/null
printf 'basicConstraints=CA:FALSE\nextendedKeyUsage=OCSPSigning\n' > "$ref/resp.ext"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$ref/resp.key" \
    -subj /CN=responder -out "$ref/resp.csr" 2>/dev/null
openssl x509 -req -in "$ref/resp.csr" -CA "$ref/ca.pem" -CAkey "$ref/ca.key" -days 30 \
    -extfile "$ref/resp.ext" -out "$ref/resp.pem" 2>/dev/null
end=$(openssl x509 -enddate -noout -in "$ref/leaf.pem" | cut -d= -f2)
printf 'V\t%s\t\t1234\tunknown\t/CN=leaf\n' "$(date -u -d "$end" +%y%m%d%H%M%SZ)" > "$ref/index.txt"
openssl ocsp -port 18081 -index "$ref/index.txt" -CA "$ref/ca.pem" -rsigner "$ref/resp.pem" \
    -rkey "$ref/resp.key" -ndays 1 -timeout 5 > "$work/ref.log" 2>&1 &
sleep 1
openssl ocsp -issuer "$ref/ca.pem" -cert "$ref/leaf.pem" -no_nonce -reqout "$work/ref.req" >/dev/null
openssl ocsp -url http://127.0.0.1:18081 -issuer "$ref/ca.pem" -cert "$ref/leaf.pem" \
    -CAfile "$ref/ca.pem" -no_nonce | grep -q ": good"

# --- Load ------------------------------------------------------------------------------
ab_run() {  # $1 = name, $2 = url, $3 = request file -> "name rps p50ms p99ms"
    ab -q -p "$3" -T application/ocsp-request -c "$conns" -n "$requests" "$2" > "$work/$1.ab" 2>&1
    rps=$(awk '/^Requests per second/ {print $4}' "$work/$1.ab")
    p50=$(awk '$1=="50%" {print $2}' "$work/$1.ab")
    p99=$(awk '$1=="99%" {print $2}' "$work/$1.ab")
    bad=$(awk '/^Non-2xx/ {print $3}' "$work/$1.ab")
    echo "$1 $rps ${p50}ms ${p99}ms ${bad:-0}"
}
ref_line=$(ab_run openssl http://127.0.0.1:18081/ "$work/ref.req")
sr_line=$(ab_run strongroom http://127.0.0.1:18080/ocsp "$work/sr.req")
cat > "$work/post.lua" <<LUA
local f = io.open("$work/sr.req", "rb"); local body = f:read("*all"); f:close()
wrk.method = "POST"; wrk.body = body
wrk.headers["Content-Type"] = "application/ocsp-request"
LUA
wrk -t2 -c"$conns" -d10s --latency -s "$work/post.lua" http://127.0.0.1:18080/ocsp > "$work/wrk.out"
wrk_rps=$(awk '/^Requests\/sec/ {print $2}' "$work/wrk.out")
wrk_p50=$(awk '$1=="50%" {print $2}' "$work/wrk.out")
wrk_p99=$(awk '$1=="99%" {print $2}' "$work/wrk.out")
echo "| responder (ab -c $conns -n $requests, POST, one connection per request) | requests/s | p50 | p99 | non-2xx |"
echo "|---|---:|---:|---:|---:|"
echo "$ref_line" | awk '{printf "| openssl ocsp -port (reference, signs each answer) | %s | %s | %s | %s |\n", $2, $3, $4, $5}'
echo "$sr_line" | awk '{printf "| strongroom-front (pre-signed) | %s | %s | %s | %s |\n", $2, $3, $4, $5}'
echo "$ref_line $sr_line" | awk '{printf "ratio strongroom/openssl (same ab run): %.1f\n", $7/$2}'
echo "strongroom-front with keep-alive (wrk -t2 -c$conns -d10s): $wrk_rps requests/s, p50 $wrk_p50, p99 $wrk_p99"
