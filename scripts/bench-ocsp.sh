#!/usr/bin/env bash
# OCSP side by side, one run, one machine (docs/performance.md): `openssl ocsp -port` as the
# reference responder against strongroom-front (answers from pre-signed responses), both on
# loopback plain HTTP, the same single-certificate SHA-1 request shape (no nonce), the same
# load generator and settings: h2load over HTTP/1.1, C connections, N POSTs. Each server
# keeps its own connection behaviour: `openssl ocsp -port` answers HTTP/1.0 and closes every
# connection (h2load reconnects), the front keeps connections alive. The reference signs
# every answer, twice over: with a software key, and with its key in a SoftHSM token through
# OpenSSL's pkcs11 engine (as a responder that signs on demand in an HSM would). A last row
# forces a connection per request on both (ApacheBench, HTTP/1.0). A ceiling row measures
# nginx answering every POST with a fixed body the size of the front's response, doing no
# other work: the most this load generator drives on this machine, whatever the server.
#
# Usage: scripts/bench-ocsp.sh [REQUESTS] [CONNECTIONS]    (default 50000, 16)
# Needs: a release build (`cargo build --release --bins`); installs h2load (nghttp2-client),
# ab (apache2-utils), the pkcs11 engine (libengine-pkcs11-openssl), softhsm2, opensc and
# nginx (nginx-light) and oathtool from Debian when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
requests=${1:-50000}
conns=${2:-16}
bin=${CARGO_TARGET_DIR:-target}/release
missing=()
command -v h2load >/dev/null || missing+=(nghttp2-client)
command -v ab >/dev/null || missing+=(apache2-utils)
command -v pkcs11-tool >/dev/null || missing+=(opensc)
command -v softhsm2-util >/dev/null || missing+=(softhsm2)
[ -e /usr/lib/x86_64-linux-gnu/engines-3/pkcs11.so ] || missing+=(libengine-pkcs11-openssl)
command -v nginx >/dev/null || missing+=(nginx-light)
command -v oathtool >/dev/null || missing+=(oathtool)
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]}" >&2
    apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null
fi
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
# The admin's first login may only enrol a second factor (docs/console.md): enrol one.
secret=$("$bin/strongroom" totp enrol 2>/dev/null | sed -n 's/^secret //p')
"$bin/strongroom" totp confirm "$(oathtool --totp -b "$secret")" > /dev/null
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
    -rkey "$ref/resp.key" -ndays 1 > "$work/ref.log" 2>&1 &
ref_sw_pid=$!
# The same responder certificate's twin with its key in a SoftHSM token (pkcs11 engine).
export SOFTHSM2_CONF="$ref/softhsm2.conf"
mkdir -p "$ref/tokens"
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' "$ref/tokens" > "$SOFTHSM2_CONF"
softhsm2-util --init-token --free --label ref --pin 1234 --so-pin 12345678 >/dev/null
pkcs11-tool --module /usr/lib/softhsm/libsofthsm2.so --token-label ref --login --pin 1234 \
    --keypairgen --key-type EC:prime256v1 --label resp --id 01 >/dev/null 2>&1
cat > "$ref/openssl.cnf" <<CNF
openssl_conf = init
[init]
engines = engines
[engines]
pkcs11 = pkcs11
[pkcs11]
engine_id = pkcs11
MODULE_PATH = /usr/lib/softhsm/libsofthsm2.so
PIN = 1234
init = 0
CNF
hsm_key="org.openssl.engine:pkcs11:pkcs11:token=ref;object=resp;type=private"
OPENSSL_CONF="$ref/openssl.cnf" openssl req -new -key "$hsm_key" -subj /CN=responder-hsm \
    -out "$ref/resp-hsm.csr" 2>/dev/null
openssl x509 -req -in "$ref/resp-hsm.csr" -CA "$ref/ca.pem" -CAkey "$ref/ca.key" -days 30 \
    -extfile "$ref/resp.ext" -out "$ref/resp-hsm.pem" 2>/dev/null
OPENSSL_CONF="$ref/openssl.cnf" openssl ocsp -port 18082 -index "$ref/index.txt" -CA "$ref/ca.pem" \
    -rsigner "$ref/resp-hsm.pem" -rkey "$hsm_key" -ndays 1 > "$work/ref-hsm.log" 2>&1 &
ref_hsm_pid=$!
sleep 1
openssl ocsp -issuer "$ref/ca.pem" -cert "$ref/leaf.pem" -no_nonce -reqout "$work/ref.req" >/dev/null
for port in 18081 18082; do
    openssl ocsp -url http://127.0.0.1:$port -issuer "$ref/ca.pem" -cert "$ref/leaf.pem" \
        -CAfile "$ref/ca.pem" -no_nonce | grep -q ": good"
done

# --- Ceiling: nginx answering a fixed body of the front's response size, nothing else ----
ng="$work/nginx"; mkdir -p "$ng"
size=$(curl -s --data-binary @"$work/sr.req" -H 'Content-Type: application/ocsp-request' \
    http://127.0.0.1:18080/ocsp | wc -c)
body=$(head -c "$size" /dev/zero | tr '\0' x)
cat > "$ng/nginx.conf" <<NGINX
worker_processes 1;
daemon off;
pid $ng/nginx.pid;
error_log $ng/error.log;
events { worker_connections 1024; }
http {
    access_log off;
    keepalive_requests 100000000;
    keepalive_timeout 10s;
    client_body_temp_path $ng;
    server {
        listen 127.0.0.1:18083;
        location / { default_type application/ocsp-response; return 200 "$body"; }
    }
}
NGINX
nginx -c "$ng/nginx.conf" &
nginx_pid=$!
for _ in $(seq 1 50); do curl -sf -o /dev/null -d x http://127.0.0.1:18083/ && break; sleep 0.1; done

# --- Load ------------------------------------------------------------------------------
front_pid=$(pgrep -f "strongroom-front run --config $work/data" | head -1)
# CPU ticks (utime + stime, every thread) of a process and its children, from /proc.
ticks() { for p in "$@" $(pgrep -P "$1" || true); do awk '{ print $14 + $15 }' "/proc/$p/stat"; done | paste -sd+ | bc; }
h2_run() {  # $1 = name, $2 = url, $3 = request file, $4 = server pid -> "name rps p50ms p99ms failed"
    # Beside the rate, the server's own CPU per response ($work/$1.cpu, µs): on 2 cores the
    # load generator caps requests/s, CPU per answer is what the server itself costs.
    local t0; t0=$(ticks "$4")
    h2load --h1 -n "$requests" -c "$conns" -d "$3" -H 'Content-Type: application/ocsp-request' \
        --log-file="$work/$1.lat" "$2" > "$work/$1.h2" 2>&1
    echo "$(ticks "$4") $t0 $(getconf CLK_TCK) $requests" | awk '{ printf "%.2f", ($1 - $2) / $3 * 1e6 / $4 }' > "$work/$1.cpu"
    rps=$(awk '/^finished in/ {print $4}' "$work/$1.h2")
    failed=$(awk '/^requests:/ {print $10}' "$work/$1.h2")
    bad=$(awk '$2 != 200 {n++} END {print n+0}' "$work/$1.lat")
    read -r p50 p99 < <(cut -f3 "$work/$1.lat" | sort -n | awk '{v[NR]=$1} END {
        printf "%.2f %.2f", v[int(NR*0.5)]/1000, v[int(NR*0.99)]/1000}')
    echo "$1 $rps ${p50}ms ${p99}ms $((failed + bad))"
}
ab_run() {  # $1 = name, $2 = url, $3 = request file -> "name rps p50ms p99ms non-2xx"
    ab -q -p "$3" -T application/ocsp-request -c "$conns" -n "$requests" "$2" > "$work/$1.ab" 2>&1
    rps=$(awk '/^Requests per second/ {print $4}' "$work/$1.ab")
    p50=$(awk '$1=="50%" {print $2}' "$work/$1.ab")
    p99=$(awk '$1=="99%" {print $2}' "$work/$1.ab")
    bad=$(awk '/^Non-2xx/ {print $3}' "$work/$1.ab")
    echo "$1 $rps ${p50}ms ${p99}ms ${bad:-0}"
}
row() { awk -v label="$1" '{printf "| %s | %s | %s | %s | %s |\n", label, $2, $3, $4, $5}'; }
ref_sw=$(h2_run openssl-soft http://127.0.0.1:18081/ "$work/ref.req" "$ref_sw_pid")
ref_hsm=$(h2_run openssl-hsm http://127.0.0.1:18082/ "$work/ref.req" "$ref_hsm_pid")
sr=$(h2_run strongroom http://127.0.0.1:18080/ocsp "$work/sr.req" "$front_pid")
ceiling=$(h2_run nginx-fixed http://127.0.0.1:18083/ocsp "$work/sr.req" "$nginx_pid")
ab_ref=$(ab_run openssl-ab http://127.0.0.1:18081/ "$work/ref.req")
ab_sr=$(ab_run strongroom-ab http://127.0.0.1:18080/ocsp "$work/sr.req")
echo "| responder (h2load --h1 -c $conns -n $requests, POST) | requests/s | p50 | p99 | failed |"
echo "|---|---:|---:|---:|---:|"
echo "$ref_sw" | row "openssl ocsp -port, software key (reference; closes each connection)"
echo "$ref_hsm" | row "openssl ocsp -port, key in SoftHSM (reference; closes each connection)"
echo "$sr" | row "strongroom-front, pre-signed in the HSM (keep-alive)"
echo "$ceiling" | row "ceiling: nginx answering a fixed body of the same size, no work (keep-alive)"
echo "$ab_ref" | row "openssl ocsp -port, software key, ab (a connection per request)"
echo "$ab_sr" | row "strongroom-front, ab (a connection per request)"
echo "$ref_sw $ref_hsm $sr $ab_ref $ab_sr $ceiling" | awk '{printf "ratio strongroom/openssl (h2load): %.1f against the software key, %.1f against the SoftHSM key; with a connection per request for both (ab): %.1f\n", $12/$2, $12/$7, $22/$17;
    printf "ceiling/openssl (the most any server shows with this load generator here): %.1f against the software key, %.1f against the SoftHSM key; strongroom/ceiling: %.2f\n", $27/$2, $27/$7, $12/$27}'
echo
echo "| server, h2load run above | CPU per response (µs, utime+stime from /proc) | × nginx |"
echo "|---|---:|---:|"
for r in "strongroom-front:strongroom" "nginx, fixed body:nginx-fixed" "openssl ocsp -port, software key:openssl-soft" "openssl ocsp -port, SoftHSM key:openssl-hsm"; do
    awk -v label="${r%%:*}" -v ng="$(cat "$work/nginx-fixed.cpu")" '{ printf "| %s | %s | %.2f |\n", label, $1, $1 / ng }' "$work/${r#*:}.cpu"
done
