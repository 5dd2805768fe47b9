#!/usr/bin/env bash
# SCEP PKCSReq enrolment side by side, one run, one machine (docs/performance.md): the same
# client, Debian's `scepclient` (micromdm 2.1: GetCACaps, GetCACert, then PKIOperation with
# single DES, one process per enrolment), against Debian's `scepserver` (package `scep`, CA
# key in a file in its depot) and against `strongroom up` (RA and CA keys in SoftHSM, signer
# journal, SQLite in WAL, audit chain). C workers each run N/C enrolments one after the
# other, every enrolment with its own directory and its own RSA-2048 key, generated before
# the clock starts (scepclient reuses -private-key when the file exists). The servers run one
# after the other, never together. Each side first enrols one untimed device (warm-up).
#
# Usage: [N=200] [C=8] [CA_KEY_SIZE=2048] [BUILD=0] [KEEP_WORK=1] [PERF_DATA=FILE]
#        scripts/bench-scep.sh
# N: timed enrolments per side; C: parallel clients; CA_KEY_SIZE: RSA size of scepserver's
# CA key (it decrypts, signs the certificate and signs the reply with it; Strongroom's RA
# key is RSA-2048). PERF_DATA=FILE records the signer's CPU profile during the timed
# Strongroom run and prints the share of its samples in SoftHSM2 and the libcrypto it calls
# (RSA decryptions included, which the signer's HSM histogram does not time). BUILD=0
# skips `cargo build --release --bins`. CARGO_TARGET_DIR is honoured (default: target).
# Installs scep, openssl, softhsm2, jq, curl, bc, time and oathtool from Debian when missing.
# Enrolments/s counts delivered certificates; scepserver's file depot loses some requests
# under concurrency (reported as failures), Strongroom must lose none.
set -euo pipefail
cd "$(dirname "$0")/.."
count=${N:-200}
conc=${C:-8}
ca_bits=${CA_KEY_SIZE:-2048}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
bin=$(realpath -m "$CARGO_TARGET_DIR/release")
started=$(date +%s)

missing=()
command -v scepclient >/dev/null || missing+=(scep)
command -v openssl >/dev/null || missing+=(openssl)
command -v softhsm2-util >/dev/null || missing+=(softhsm2)
command -v jq >/dev/null || missing+=(jq)
command -v curl >/dev/null || missing+=(curl)
command -v bc >/dev/null || missing+=(bc)
[ -x /usr/bin/time ] || missing+=(time)
command -v oathtool >/dev/null || missing+=(oathtool)
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]}" >&2
    apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null
fi
[ "${BUILD:-1}" = 0 ] || nice -n 19 cargo build -q --release --bins

work=$(mktemp -d)
# SIGTERM to our own background jobs only (scepserver, `up`); `up` stops its daemons.
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true
      if [ -n "${KEEP_WORK:-}" ]; then echo "kept $work" >&2; else rm -rf "$work"; fi' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for() {  # $1 = log file, $2 = text, $3 = what
    for _ in $(seq 1 480); do grep -qs "$2" "$1" && return 0; sleep 0.25; done
    echo "$3 did not start:" >&2; cat "$1" >&2; exit 1
}
# CPU seconds (user + system) a process has used, from /proc (clock ticks -> seconds).
cpu_of() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat"; }

# --- Keys: N+1 per side (device 0 is the warm-up), before anything is timed -----------------
echo "generating $(( 2 * (count + 1) )) RSA-2048 keys (untimed)" >&2
for side in ref sr; do
    for i in $(seq 0 "$count"); do mkdir -p "$work/$side/dev$i"; echo "$work/$side/dev$i/key.pem"; done
done | xargs -P "$(nproc)" -I{} openssl genrsa -traditional -out {} 2048 2>/dev/null
for side in ref sr; do
    n=$(find "$work/$side" -name key.pem -size +1 | wc -l)
    [ "$n" -eq $((count + 1)) ] || { echo "only $n keys for $side" >&2; exit 1; }
done

# The SHA-256 of the certificate scepclient must encrypt to: the first certificate of
# GetCACert's answer (a bare DER certificate, or a PKCS#7 whose first certificate is the RA).
recipient_fingerprint() {  # $1 = SCEP URL, $2 = scratch prefix
    curl -sSf "$1?operation=GetCACert" -o "$2.getcacert"
    if openssl pkcs7 -inform DER -in "$2.getcacert" -print_certs -out "$2.chain.pem" 2>/dev/null; then
        openssl x509 -in "$2.chain.pem" -outform DER -out "$2.ra.der"
    else
        cp "$2.getcacert" "$2.ra.der"
    fi
    openssl dgst -sha256 -r "$2.ra.der" | cut -d' ' -f1
}

# One enrolment: device $2 of side $1. Success = exit status 0 and a certificate written;
# the latency (µs, the whole scepclient run) goes to latency.TAG, a failure to failed.TAG.
enrol_one() {  # $1 = side, $2 = device, $3 = URL, $4 = fingerprint, $5 = challenge, $6 = tag
    local d="$work/$1/dev$2" t0 t1
    t0=$(date +%s%N)
    if scepclient -server-url "$3" -ca-fingerprint "$4" -challenge "$5" -cn "dev$2.lab.test" \
        -private-key "$d/key.pem" -certificate "$d/cert.pem" > "$d/client.log" 2>&1 \
        && [ -s "$d/cert.pem" ]; then
        t1=$(date +%s%N)
        echo $(( (t1 - t0) / 1000 )) >> "$work/$1/latency.$6"
    else
        echo "$2" >> "$work/$1/failed.$6"
    fi
}
# Worker $5 of C: devices $5, $5+C, $5+2C, … up to N, one after the other.
worker() {  # $1 = side, $2 = URL, $3 = fingerprint, $4 = challenge, $5 = worker (1..C)
    local i
    for ((i = $5; i <= count; i += conc)); do enrol_one "$1" "$i" "$2" "$3" "$4" "w$5"; done
}
export -f enrol_one worker
export work count conc

warm_up() {  # $1 = side, $2 = URL, $3 = fingerprint, $4 = challenge
    enrol_one "$1" 0 "$2" "$3" "$4" pre
    if [ -s "$work/$1/failed.pre" ]; then
        echo "$1: the warm-up enrolment failed:" >&2; cat "$work/$1/dev0/client.log" >&2; exit 1
    fi
}
# The timed part; writes $work/$1/wall (seconds) and $work/$1/client.time (user sys).
timed() {  # $1 = side, $2 = URL, $3 = fingerprint, $4 = challenge
    echo "load average before the timed $1 run: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
    local t0 t1
    t0=$(date +%s.%N)
    # /usr/bin/time counts the CPU of every scepclient (each worker waits for its own).
    /usr/bin/time -f '%U %S' -o "$work/$1/client.time" bash -c '
        for w in $(seq 1 "$conc"); do worker "$1" "$2" "$3" "$4" "$w" & done; wait' _ "$@"
    t1=$(date +%s.%N)
    printf '%.3f\n' "$(echo "$t1 - $t0" | bc)" > "$work/$1/wall"
    echo "load average after the timed $1 run: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
}
failures() { cat "$work/$1"/failed.w* 2>/dev/null | wc -l; }
# Latency percentile (ms) over the timed enrolments of a side: $2 = 50, 99.
pct() {
    cat "$work/$1"/latency.w* 2>/dev/null | sort -n \
        | awk -v p="$2" '{ a[NR] = $1 } END { if (NR == 0) { print "n/a"; exit }
              i = int((NR * p + 99) / 100); if (i < 1) i = 1; printf "%.1f", a[i] / 1000 }'
}
mean_ms() { cat "$work/$1"/latency.w* 2>/dev/null | awk '{ s += $1 } END { if (NR) printf "%.1f", s / NR / 1000; else print "n/a" }'; }
# Delivered certificates (warm-up included) that do not verify against the side's CA
# (untimed, after the run).
unverified() {  # $1 = side, $2.. = openssl verify options
    local side=$1; shift
    local certs=("$work/$side"/dev*/cert.pem) ok
    ok=$(openssl verify "$@" "${certs[@]}" 2>/dev/null | grep -c ': OK$' || true)
    echo $(( ${#certs[@]} - ok ))
}

# --- Reference: Debian's scepserver, CA key in a file -------------------------------------
ref=$work/scepserver; mkdir -p "$ref"
scepserver ca -init -depot "$ref/depot" -keySize "$ca_bits" > "$ref/ca-init.log" 2>&1
ref_port=$(free_port)
ref_challenge=bench-challenge-0123456789
scepserver -depot "$ref/depot" -port "$ref_port" -challenge "$ref_challenge" > "$ref/server.log" 2>&1 &
ref_pid=$!
for _ in $(seq 1 80); do curl -sf "http://127.0.0.1:$ref_port/scep?operation=GetCACaps" >/dev/null && break; sleep 0.25; done
ref_url=http://127.0.0.1:$ref_port/scep
ref_fp=$(recipient_fingerprint "$ref_url" "$ref/ca")
warm_up ref "$ref_url" "$ref_fp" "$ref_challenge"
ref_cpu0=$(cpu_of "$ref_pid")
timed ref "$ref_url" "$ref_fp" "$ref_challenge"
ref_cpu=$(echo "$(cpu_of "$ref_pid") - $ref_cpu0" | bc)
kill "$ref_pid"; wait "$ref_pid" 2>/dev/null || true
ref_bad=$(unverified ref -CAfile "$ref/depot/ca.pem")

# --- Strongroom: up from the release build, fresh data directory --------------------------
data=$work/data
control_port=$(free_port)
front_http=$(free_port)
"$bin/strongroom" up --data-dir "$data" \
    --control-listen "127.0.0.1:$control_port" --front-listen "127.0.0.1:$front_http" \
    --front-https-listen "127.0.0.1:$(free_port)" --acme-http01-port "$(free_port)" \
    --acme-tls-alpn01-port "$(free_port)" > "$work/up.log" 2>&1 &
up_pid=$!
wait_for "$work/up.log" "Press Ctrl-C to stop." "strongroom up"
sr_url=http://127.0.0.1:$front_http/scep
sr_challenge=$(cat "$data/secrets/scep-challenge")
sr_fp=$(recipient_fingerprint "$sr_url" "$work/sr/ra")
# The signer's counters through control's /metrics (the admin session from `up`).
login_body=$(jq -n --arg p "$(cat "$data/secrets/admin-password")" '{username: "admin", password: $p}')
token=$(curl -sSf --cacert "$data/ca/root.pem" -H 'content-type: application/json' \
    -d "$login_body" "https://127.0.0.1:$control_port/api/v1/auth/login" | jq -r .token)
# The first login may only enrol a second factor (docs/console.md): enrol one with this
# session, which then reads /metrics.
api() { curl -sSf --cacert "$data/ca/root.pem" -H "authorization: Bearer $token" \
    -H 'content-type: application/json' -d "$2" "https://127.0.0.1:$control_port$1"; }
totp_secret=$(api /api/v1/auth/totp '{}' | jq -r .secret)
api /api/v1/auth/totp/confirm "$(jq -n --arg c "$(oathtool --totp -b "$totp_secret")" '{code: $c}')" > /dev/null
scrape() { curl -sSf --cacert "$data/ca/root.pem" -H "authorization: Bearer $token" \
    "https://127.0.0.1:$control_port/metrics"; }
metric() { awk -v n="$1" '$1 == n { print $2 }' "$2"; }
daemon_pid() {  # $1 = the daemon's name as /proc/PID/comm holds it (15 characters)
    local p
    for p in $(pgrep -P "$up_pid"); do
        if [ "$(cat "/proc/$p/comm")" = "$1" ]; then echo "$p"; return 0; fi
    done
    echo "no $1 under strongroom up ($up_pid)" >&2; return 1
}
front_pid=$(daemon_pid strongroom-fron); signer_pid=$(daemon_pid strongroom-sign)
control_pid=$(daemon_pid strongroom-cont)
warm_up sr "$sr_url" "$sr_fp" "$sr_challenge"
scrape > "$work/sr/metrics.before"
grep -q '^strongroom_signer_up 1' "$work/sr/metrics.before" \
    || { echo "control's /metrics has no signer series:" >&2; cat "$work/sr/metrics.before" >&2; exit 1; }
if [ -n "${PERF_DATA:-}" ]; then
    perf record -q -F 1999 -o "$PERF_DATA" -p "$signer_pid" 2> "$work/perf.log" &
    perf_pid=$!
    sleep 0.5
fi
cpu0=("$(cpu_of "$front_pid")" "$(cpu_of "$signer_pid")" "$(cpu_of "$control_pid")")
timed sr "$sr_url" "$sr_fp" "$sr_challenge"
cpu1=("$(cpu_of "$front_pid")" "$(cpu_of "$signer_pid")" "$(cpu_of "$control_pid")")
scrape > "$work/sr/metrics.after"
if [ -n "${PERF_DATA:-}" ]; then kill -INT "$perf_pid"; wait "$perf_pid" 2>/dev/null || true; fi
kill -INT "$up_pid"; wait "$up_pid" 2>/dev/null || true
sr_bad=$(unverified sr -CAfile "$data/ca/root.pem" -untrusted "$work/sr/ra.chain.pem")

# --- Report --------------------------------------------------------------------------------
delta() { echo "$(metric "$1" "$work/sr/metrics.after") - $(metric "$1" "$work/sr/metrics.before")" | bc -l; }
hsm_s=$(delta strongroom_signer_hsm_signature_seconds_sum)
hsm_n=$(delta strongroom_signer_hsm_signature_seconds_count)
sync_s=$(delta strongroom_signer_journal_sync_seconds_sum)
sync_n=$(delta strongroom_signer_journal_sync_seconds_count)
ref_wall=$(cat "$work/ref/wall"); sr_wall=$(cat "$work/sr/wall")
# Enrolments/s counts the certificates delivered: scepserver's file depot loses some under
# concurrency (micromdm/scep#184: "failed to sign CSR" err="open depot/serial: file exists").
delivered() { cat "$work/$1"/latency.w* 2>/dev/null | wc -l; }
rate() { echo "scale=1; $(delivered "$1") / $(cat "$work/$1/wall")" | bc; }
ref_rate=$(rate ref); sr_rate=$(rate sr)
cpu_sum() { awk '{ printf "%.2f", $1 + $2 }' "$work/$1/client.time"; }
sr_mean=$(mean_ms sr)
hsm_ms=$(echo "scale=2; $hsm_s * 1000 / $(delivered sr)" | bc)

echo
echo "| server (N=$count PKCSReq, C=$conc scepclient workers) | enrolments/s | wall s | delivered | failures | not verifying | mean / p50 / p99 per enrolment, ms | server CPU s | client CPU s |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
echo "| scepserver $(dpkg-query -W -f='${Version}' scep) (RSA-$ca_bits CA key in a file) | $ref_rate | $ref_wall | $(delivered ref) | $(failures ref) | $ref_bad | $(mean_ms ref) / $(pct ref 50) / $(pct ref 99) | $ref_cpu | $(cpu_sum ref) |"
echo "| Strongroom up (SoftHSM, SQLite WAL) | $sr_rate | $sr_wall | $(delivered sr) | $(failures sr) | $sr_bad | $sr_mean / $(pct sr 50) / $(pct sr 99) | front $(echo "${cpu1[0]} - ${cpu0[0]}" | bc), signer $(echo "${cpu1[1]} - ${cpu0[1]}" | bc), control $(echo "${cpu1[2]} - ${cpu0[2]}" | bc) | $(cpu_sum sr) |"
echo
echo "ratio strongroom/scepserver (enrolments/s): $(printf '%.2f' "$(echo "scale=4; $sr_rate / $ref_rate" | bc)")"
echo "HSM signatures during the timed Strongroom run: $hsm_n taking $hsm_s s in all" \
     "= $hsm_ms ms per enrolment; mean enrolment $sr_mean ms as a client sees it;" \
     "HSM signature time / (wall x C) = $(echo "scale=4; $hsm_s / ($sr_wall * $conc)" | bc);" \
     "HSM sessions busy signing on average: $(echo "scale=3; $hsm_s / $sr_wall" | bc) (of 2)"
sr_cpu=$(echo "${cpu1[0]} - ${cpu0[0]} + ${cpu1[1]} - ${cpu0[1]} + ${cpu1[2]} - ${cpu0[2]}" | bc)
echo "server CPU per delivered enrolment: scepserver $(echo "scale=2; $ref_cpu * 1000 / $(delivered ref)" | bc) ms," \
     "Strongroom (front + signer + control) $(echo "scale=2; $sr_cpu * 1000 / $(delivered sr)" | bc) ms;" \
     "client CPU per enrolment: $(echo "scale=2; $(cpu_sum ref) * 1000 / $count" | bc) ms (scepserver run)," \
     "$(echo "scale=2; $(cpu_sum sr) * 1000 / $count" | bc) ms (Strongroom run)"
echo "journal fdatasync during the timed Strongroom run: $sync_n taking $sync_s s in all"
echo "signer operations during the timed Strongroom run (operation outcome count):"
join -a1 -e0 -o 0,1.2,2.2 \
    <(grep '^strongroom_signer_operations_total{' "$work/sr/metrics.after" | sed -E 's/^[^{]*\{operation="([^"]*)",outcome="([^"]*)"\} /\1|\2 /' | sort) \
    <(grep '^strongroom_signer_operations_total{' "$work/sr/metrics.before" | sed -E 's/^[^{]*\{operation="([^"]*)",outcome="([^"]*)"\} /\1|\2 /' | sort) \
    | awk '$2 - $3 > 0 { sub(/\|/, " ", $1); print "  " $1, $2 - $3 }'
echo "scepserver: $(grep -c 'failed to sign CSR' "$ref/server.log" || true) 'failed to sign CSR' lines; first: $(grep -m1 'failed to sign CSR' "$ref/server.log" || true)"
# The front warns about every DES envelope (scepclient's cipher): those are not counted.
for f in front signer control; do
    echo "$f log: $(grep -c ERROR "$data/logs/$f.log" || true) ERROR lines," \
         "$(grep WARN "$data/logs/$f.log" | grep -vc 'legacy cipher' || true) WARN lines besides the DES warning," \
         "$(grep -ci 'locked\|busy' "$data/logs/$f.log" || true) mentioning locked/busy"
done
if [ -n "${PERF_DATA:-}" ]; then
    echo "signer CPU samples by shared object (perf, timed Strongroom run):"
    perf report -i "$PERF_DATA" --sort dso --stdio -q 2>/dev/null | awk 'NF { print "  " $0 }' | head -8
fi
echo "script wall time: $(( $(date +%s) - started )) s"
