#!/usr/bin/env bash
# EST simpleenroll per second with C parallel keep-alive clients, and its p50 and p99, against
# the signer's raw issuance rate in the same run (docs/performance.md, issue 18).
#
# `strongroom up` from the release build serves EST for its device profile (label default:
# password or certificate). Two ways in, one after the other, each for S seconds after an
# untimed warm-up:
#   password     HTTP Basic with up's EST user: an argon2id check (19 MiB, t=2) per request,
#                two at a time in the front;
#   certificate  the TLS client certificate of a device enrolled first (inventory look-up,
#                no password).
# The client is Python's http.client (one keep-alive TLS connection per worker, the same
# CSR each time, latency measured per request). The reference is strongroom-bench's
# "issuance via signer socket, C clients, CSR requests" (the signer alone, its own token),
# run right after on the same machine.
#
# Usage: [S=20] [C=8] [BUILD=0] [KEEP_WORK=1] scripts/bench-est.sh
# CARGO_TARGET_DIR is honoured (default: target). BUILD=0 skips `cargo build --release`.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${S:-20}
conc=${C:-8}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
bin=$(realpath -m "$CARGO_TARGET_DIR/release")
for tool in openssl curl python3 softhsm2-util; do
    command -v "$tool" >/dev/null || { echo "$tool is missing: run scripts/install-deps.sh test" >&2; exit 1; }
done
[ "${BUILD:-1}" = 0 ] || nice -n 19 cargo build -q --release --bins

work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true
      if [ -n "${KEEP_WORK:-}" ]; then echo "kept $work" >&2; else rm -rf "$work"; fi' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

data=$work/data
https_port=$(free_port)
"$bin/strongroom" up --data-dir "$data" \
    --control-listen "127.0.0.1:$(free_port)" --front-listen "127.0.0.1:$(free_port)" \
    --front-https-listen "127.0.0.1:$https_port" --acme-http01-port "$(free_port)" \
    --acme-tls-alpn01-port "$(free_port)" > "$work/up.log" 2>&1 &
for _ in $(seq 1 480); do grep -qs "Press Ctrl-C to stop." "$work/up.log" && break; sleep 0.25; done
grep -qs "Press Ctrl-C to stop." "$work/up.log" || { echo "strongroom up did not start:" >&2; cat "$work/up.log" >&2; exit 1; }

base=https://127.0.0.1:$https_port/.well-known/est
user=$(cat "$data/secrets/est-user")
password=$(cat "$data/secrets/est-password")
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/d.key" \
    -subj /CN=bench.lab.test -outform DER -out "$work/d.der" 2>/dev/null
openssl base64 -in "$work/d.der" > "$work/d.b64"
# The client certificate of the second run: one enrolment with the password.
curl -sS --fail --cacert "$data/ca/root.pem" -u "$user:$password" \
    -H 'Content-Type: application/pkcs10' --data-binary "@$work/d.b64" "$base/simpleenroll" \
    | openssl base64 -d | openssl pkcs7 -inform DER -print_certs -out "$work/d.pem"

load() {  # $1 = mode (password|certificate)
    python3 - "$1" "$https_port" "$data/ca/root.pem" "$work/d.b64" "$work/d.pem" "$work/d.key" \
        "$user" "$password" "$secs" "$conc" <<'PY'
import base64, http.client, ssl, sys, threading, time
mode, port, root, csr, cert, key, user, password, secs, conc = sys.argv[1:]
secs, conc = float(secs), int(conc)
body = open(csr, "rb").read()
headers = {"Content-Type": "application/pkcs10"}
ctx = ssl.create_default_context(cafile=root)
if mode == "password":
    headers["Authorization"] = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
else:
    ctx.load_cert_chain(cert, key)
latencies, failures, lock = [], [0], threading.Lock()
def worker(deadline, record):
    conn = http.client.HTTPSConnection("127.0.0.1", int(port), context=ctx)
    while time.monotonic() < deadline:
        t0 = time.perf_counter()
        conn.request("POST", "/.well-known/est/simpleenroll", body=body, headers=headers)
        r = conn.getresponse()
        r.read()
        dt = time.perf_counter() - t0
        if record:
            with lock:
                if r.status == 200:
                    latencies.append(dt)
                else:
                    failures[0] += 1
def run(duration, record):
    deadline = time.monotonic() + duration
    ts = [threading.Thread(target=worker, args=(deadline, record)) for _ in range(conc)]
    start = time.monotonic()
    [t.start() for t in ts]
    [t.join() for t in ts]
    return time.monotonic() - start
run(3, False)  # warm-up, untimed
elapsed = run(secs, True)
latencies.sort()
q = lambda p: latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies else float("nan")
print(f"{mode} {len(latencies) / elapsed:.1f} {q(0.50):.1f} {q(0.99):.1f} {len(latencies)} {failures[0]}")
PY
}

echo "EST load: $conc clients, ${secs}s per way in (warm-up 3 s each)" >&2
pw=$(load password)
ct=$(load certificate)
kill %1 2>/dev/null || true
wait 2>/dev/null || true

echo "signer reference: strongroom-bench --seconds $((secs / 2)) --clients $conc" >&2
ref=$("$bin/strongroom-bench" --seconds "$((secs / 2))" --clients "$conc" \
    | awk -F'|' '/via signer socket.*CSR requests/ { gsub(/ /, "", $3); print $3 }')

row() {  # $1 = label, $2 = "mode rate p50 p99 count failures"
    read -r _ rate p50 p99 n fail <<< "$2"
    printf '| %s | %s | %s | %s | %s | %s | %.2f |\n' "$1" "$rate" "$p50" "$p99" "$n" "$fail" \
        "$(python3 -c "print($rate / $ref)")"
}
echo
echo "| EST simpleenroll, $conc keep-alive clients | enrolments/s | p50 ms | p99 ms | issued | failed | × signer raw issuance |"
echo "|---|---:|---:|---:|---:|---:|---:|"
row "HTTP Basic (argon2id per request)" "$pw"
row "TLS client certificate" "$ct"
echo
echo "signer raw issuance (strongroom-bench, $conc clients, CSR requests): $ref/s"
