#!/usr/bin/env bash
# ACME issuance side by side, one run, one machine (docs/performance.md): the same scripted
# client (crates/cli/examples/acme_bench.rs, http-01, N certificates C at a time) against
# Debian's Pebble (in memory, no HSM, nothing written) and against `strongroom up` (SoftHSM
# signing, SQLite in WAL with synchronous=FULL, audit chain). Both validate http-01 on the
# client's port and resolve names through the same knotd, which serves `lab.test` with
# `* A 127.0.0.1`. The servers run one after the other, never together.
#
# Usage: [N=200] [C=8] [POLL_MS=50] [CLIENT=acme_bench|instant-acme] [KEEP_WORK=1] [PERF_DATA=FILE]
#        scripts/bench-acme.sh
# CARGO_TARGET_DIR is honoured (default: target). Installs pebble, knot (and kdig), openssl,
# softhsm2 and jq from Debian when missing. Rate limits: `up` allows 300 orders per account and
# 1000 accounts+orders per address per hour; each run has C accounts and a fresh database,
# so keep N at most 300*C and N+C at most 1000.
set -euo pipefail
cd "$(dirname "$0")/.."
count=${N:-200}
conc=${C:-8}
poll_ms=${POLL_MS:-50}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
bin=$CARGO_TARGET_DIR/release
started=$(date +%s)

missing=()
command -v pebble >/dev/null || missing+=(pebble)
[ -x /usr/sbin/knotd ] || missing+=(knot)
command -v kdig >/dev/null || missing+=(knot-dnsutils)
command -v openssl >/dev/null || missing+=(openssl)
command -v softhsm2-util >/dev/null || missing+=(softhsm2)
command -v jq >/dev/null || missing+=(jq)
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]}" >&2
    apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null
fi
cargo build -q --release --bins
# CLIENT=instant-acme drives both servers through instant-acme (crates.io) instead of the
# project's own scripted client (crates/cli/examples/acme_bench_instant.rs).
case "${CLIENT:-acme_bench}" in
    acme_bench) example=acme_bench ;;
    instant-acme) example=acme_bench_instant ;;
    *) echo "CLIENT must be acme_bench or instant-acme" >&2; exit 2 ;;
esac
cargo build -q --release -p strongroom-cli --example "$example"
client=$bin/examples/$example

work=$(mktemp -d)
# SIGTERM: background jobs of a script start with SIGINT ignored, and Go (Pebble) keeps it
# so; `up` stops cleanly on either.
# KEEP_WORK=1 keeps the logs and databases for a look afterwards.
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true
      if [ -n "${KEEP_WORK:-}" ]; then echo "kept $work" >&2; else rm -rf "$work"; fi' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for() {  # $1 = log file, $2 = text, $3 = what
    for _ in $(seq 1 240); do grep -qs "$2" "$1" && return 0; sleep 0.25; done
    echo "$3 did not start:" >&2; cat "$1" >&2; exit 1
}
http01=$(free_port)
tls_alpn=$(free_port)

# --- knotd: lab.test, every name 127.0.0.1 (as crates/cli/tests/common/mod.rs) ----------
knot_port=$(free_port)
mkdir -p "$work/knot"
cat > "$work/knot/lab.test.zone" <<'ZONE'
$ORIGIN lab.test.
$TTL 1
@ SOA ns.lab.test. hostmaster.lab.test. 1 3600 600 86400 1
@ NS ns.lab.test.
ns A 127.0.0.1
@ A 127.0.0.1
* A 127.0.0.1
ZONE
cat > "$work/knot/knot.conf" <<CONF
server:
  listen: 127.0.0.1@$knot_port
  rundir: $work/knot
database:
  storage: $work/knot
zone:
  - domain: lab.test
    storage: $work/knot
    file: lab.test.zone
log:
  - target: stderr
    any: info
CONF
/usr/sbin/knotd -c "$work/knot/knot.conf" 2> "$work/knot/knot.log" &
for _ in $(seq 1 80); do
    kdig +short +time=1 +retry=0 -p "$knot_port" @127.0.0.1 ready.lab.test A 2>/dev/null | grep -q 127.0.0.1 && break
    sleep 0.25
done
kdig +short -p "$knot_port" @127.0.0.1 ready.lab.test A | grep -q 127.0.0.1 \
    || { echo "knotd did not start:" >&2; cat "$work/knot/knot.log" >&2; exit 1; }

bench() {  # $1 = name, $2 = directory URL, $3 = CA file -> JSON on stdout
    echo "load average before the $1 run: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
    "$client" --directory "$2" --ca-file "$3" --count "$count" --concurrency "$conc" \
        --http01-port "$http01" --domain lab.test --csr-dir "$work/csr-$1" --poll-ms "$poll_ms"
}

# --- Pebble (Debian) ----------------------------------------------------------------------
# Debian's package ships neither Pebble's test/certs/localhost pair nor pebble.minica.pem,
# so the listener's certificate comes from a throwaway openssl CA in the same shape
# (a root, and a leaf for localhost and 127.0.0.1).
peb=$work/pebble; mkdir -p "$peb"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$peb/minica.key" \
    -subj "/CN=bench minica root" -days 2 -out "$peb/minica.pem" 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$peb/key.pem" \
    -subj /CN=localhost -out "$peb/cert.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' > "$peb/ext"
openssl x509 -req -in "$peb/cert.csr" -CA "$peb/minica.pem" -CAkey "$peb/minica.key" -days 2 \
    -extfile "$peb/ext" -out "$peb/cert.pem" 2>/dev/null
pebble_port=$(free_port)
cat > "$peb/config.json" <<JSON
{
  "pebble": {
    "listenAddress": "127.0.0.1:$pebble_port",
    "managementListenAddress": "127.0.0.1:$(free_port)",
    "certificate": "$peb/cert.pem",
    "privateKey": "$peb/key.pem",
    "httpPort": $http01,
    "tlsPort": $tls_alpn,
    "ocspResponderURL": "",
    "externalAccountBindingRequired": false
  }
}
JSON
PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 PEBBLE_VA_ALWAYS_VALID=0 \
    pebble -config "$peb/config.json" -dnsserver "127.0.0.1:$knot_port" > "$peb/pebble.log" 2>&1 &
pebble_pid=$!
wait_for "$peb/pebble.log" "ACME directory available" Pebble
pebble_json=$(bench pebble "https://127.0.0.1:$pebble_port/dir" "$peb/minica.pem")
kill "$pebble_pid"; wait "$pebble_pid" 2>/dev/null || true

# --- Strongroom: up from the release build, fresh data directory --------------------------
front_https=$(free_port)
"$bin/strongroom" up --data-dir "$work/data" \
    --control-listen "127.0.0.1:$(free_port)" --front-listen "127.0.0.1:$(free_port)" \
    --front-https-listen "127.0.0.1:$front_https" --acme-http01-port "$http01" \
    --acme-tls-alpn01-port "$tls_alpn" --acme-resolver "127.0.0.1:$knot_port" > "$work/up.log" 2>&1 &
up_pid=$!
wait_for "$work/up.log" "Press Ctrl-C to stop." "strongroom up"
# PERF_DATA=FILE: record the front's and the signer's CPU profile during the timed run.
if [ -n "${PERF_DATA:-}" ]; then
    perf record -q -F 1999 -g -o "$PERF_DATA" \
        -p "$(pgrep -d, -f 'strongroom-(front|signer)')" 2> "$work/perf.log" &
    perf_pid=$!
    sleep 0.5
fi
# CPU seconds (user + system) a process has used, from /proc (clock ticks → seconds).
cpu_of() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat"; }
front_pid=$(pgrep -f strongroom-front | head -1)
signer_pid=$(pgrep -f strongroom-signer | head -1)
front_cpu0=$(cpu_of "$front_pid"); signer_cpu0=$(cpu_of "$signer_pid")
sr_json=$(bench strongroom "https://127.0.0.1:$front_https/acme/directory" "$work/data/ca/root.pem")
if [ -n "${PERF_DATA:-}" ]; then kill -INT "$perf_pid"; wait "$perf_pid" 2>/dev/null || true; fi
# The front's and signer's CPU include the client's untimed set-up (accounts, a few ms);
# the client reports its own CPU for the timed part.
cpu_line="CPU seconds during the Strongroom run: front $(echo "$(cpu_of "$front_pid") - $front_cpu0" | bc), signer $(echo "$(cpu_of "$signer_pid") - $signer_cpu0" | bc), client (timed part) $(jq -r .client_cpu_seconds <<<"$sr_json"); during the Pebble run: client $(jq -r .client_cpu_seconds <<<"$pebble_json")"
kill -INT "$up_pid"; wait "$up_pid" 2>/dev/null || true

# --- Report --------------------------------------------------------------------------------
echo "pebble:     $pebble_json"
echo "strongroom: $sr_json"
row() { jq -r --arg n "$1" '"| \($n) | \(.count) | \(.errors) | \(.seconds) | \(.certs_per_sec) | \(.p50_ms) | \(.p99_ms) |"' <<<"$2"; }
echo "| server (N=$count, C=$conc, http-01, poll cap ${poll_ms} ms) | certificates | errors | seconds | certificates/s | p50 ms | p99 ms |"
echo "|---|---:|---:|---:|---:|---:|---:|"
row "Pebble $(dpkg-query -W -f='${Version}' pebble) (in memory)" "$pebble_json"
row "Strongroom up (SoftHSM, SQLite WAL)" "$sr_json"
jq -rn --argjson p "$pebble_json" --argjson s "$sr_json" \
    '"ratio strongroom/pebble (certificates/s): \(if $p.certs_per_sec > 0 then ($s.certs_per_sec / $p.certs_per_sec * 100 | round / 100) else "n/a" end) (goal: >= 2)"'
echo "$cpu_line"
echo "script wall time: $(( $(date +%s) - started )) s"
