#!/usr/bin/env bash
# The console at N certificates (default 1,000,000): time to first byte and full load of the
# dashboard and of a certificate search, p50 and p99 over R requests each, against
# control's /api/v1/health in the same run (the floor: TLS, routing, headers, no work) —
# docs/performance.md, issue 19.
#
# `strongroom up` from the release build runs once to make its installation, stops, gets N
# certificates added to its SQLite inventory (store-bench --seed-into: recorded over the last
# 100 days, expiring over three years), and runs again. The admin enrols an authenticator
# (CLI, oathtool) and logs in to the console with curl, whose cookie every request carries.
# "Full load" is the page and its one stylesheet (the console loads nothing else: no script,
# no font, no image; charts are inline SVG), fetched one after the other on one connection.
#
# Usage: [N=1000000] [R=200] [BUILD=0] [KEEP_WORK=1] scripts/bench-console.sh
# CARGO_TARGET_DIR is honoured (default: target). BUILD=0 skips `cargo build --release`.
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${N:-1000000}
runs=${R:-200}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
bin=$(realpath -m "$CARGO_TARGET_DIR/release")
for tool in curl python3 oathtool softhsm2-util; do
    command -v "$tool" >/dev/null || { echo "$tool is missing: run scripts/install-deps.sh test" >&2; exit 1; }
done
if [ "${BUILD:-1}" != 0 ]; then
    nice -n 19 cargo build -q --release --bins
    nice -n 19 cargo build -q --release -p strongroom-store --example store-bench
fi

work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true
      if [ -n "${KEEP_WORK:-}" ]; then echo "kept $work" >&2; else rm -rf "$work"; fi' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

data=$work/data
control_port=$(free_port)
args=(--data-dir "$data" --control-listen "127.0.0.1:$control_port" --front-listen "127.0.0.1:$(free_port)"
      --front-https-listen "127.0.0.1:$(free_port)" --acme-http01-port "$(free_port)"
      --acme-tls-alpn01-port "$(free_port)")
start_up() {
    : > "$work/up.log"
    "$bin/strongroom" up "${args[@]}" >> "$work/up.log" 2>&1 &
    up_pid=$!
    for _ in $(seq 1 480); do grep -qs "Press Ctrl-C to stop." "$work/up.log" && return; sleep 0.25; done
    echo "strongroom up did not start:" >&2; cat "$work/up.log" >&2; exit 1
}
stop_up() { kill -INT "$up_pid"; wait "$up_pid" || true; }

start_up
stop_up
echo "seeding $rows certificates" >&2
"$CARGO_TARGET_DIR/release/examples/store-bench" --rows "$rows" \
    --seed-into "sqlite://$data/control/control.db?mode=rwc"
start_up

base=https://127.0.0.1:$control_port
root=$data/ca/root.pem
password=$(cat "$data/secrets/admin-password")
export XDG_CONFIG_HOME=$work/home
"$bin/strongroom" login --url "$base" --ca-file "$root" --user admin \
    --password-file "$data/secrets/admin-password" 2>/dev/null
secret=$("$bin/strongroom" totp enrol 2>/dev/null | sed -n 's/^secret //p')
"$bin/strongroom" totp confirm "$(oathtool --totp -b "$secret")" > /dev/null 2>&1
jar=$work/jar
code=$(oathtool --totp -b -N "now + 30 seconds" "$secret")
curl -sS -o /dev/null --cacert "$root" -c "$jar" --data-urlencode username=admin \
    --data-urlencode "password=$password" --data-urlencode "totp=$code" "$base/console/login"
grep -q __Host-strongroom-session "$jar" || { echo "the console login failed" >&2; exit 1; }

# One curl per path, R requests on one keep-alive connection: each line TTFB and total (s).
measure() {  # $1 = label, $2.. = paths fetched one after the other per round
    local label=$1; shift
    local urls=()
    # curl's -o holds for one URL: each URL gets its own.
    for _ in $(seq 1 "$runs"); do for p in "$@"; do urls+=(-o /dev/null "$base$p"); done; done
    curl -sS --cacert "$root" -b "$jar" -w '%{http_code} %{time_starttransfer} %{time_total}\n' \
        "${urls[@]}" > "$work/times"
    python3 - "$label" "$work/times" "$#" <<'PY'
import sys
label, path, per_round = sys.argv[1], sys.argv[2], int(sys.argv[3])
lines = [l.split() for l in open(path)]
bad = [l for l in lines if l[0] != "200"]
if bad:
    sys.exit(f"{label}: {len(bad)} answers were not 200 (first: {bad[0]})")
# curl's times are from the start of each transfer; a round's full load is the sum of its
# transfers (page, then stylesheet).
ttfb = [float(lines[i][1]) for i in range(0, len(lines), per_round)]
full = [sum(float(l[2]) for l in lines[i:i + per_round]) for i in range(0, len(lines), per_round)]
def pct(v, p):
    v = sorted(v)
    return v[round((len(v) - 1) * p)] * 1000
print(f"{label}\t{pct(ttfb, .5):.2f}\t{pct(ttfb, .99):.2f}\t{pct(full, .5):.2f}\t{pct(full, .99):.2f}")
PY
}

echo -e "what\tTTFB p50 ms\tTTFB p99 ms\tfull p50 ms\tfull p99 ms"
measure "floor: GET /api/v1/health" /api/v1/health
measure "GET /api/v1/stats/certificates" /api/v1/stats/certificates
measure "dashboard /console/ (+ stylesheet)" /console/ /console/static/console.css
measure "search by SAN (+ stylesheet)" "/console/certificates?name=h500000.lab.test" /console/static/console.css
measure "first page, no filter (+ stylesheet)" /console/certificates /console/static/console.css
measure "expiring within 30 days (+ stylesheet)" "/console/certificates?expiring_within_days=30" /console/static/console.css
