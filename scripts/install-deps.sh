#!/usr/bin/env bash
# Installs what Strongroom needs on Debian 12, only what is missing.
#
# Usage: scripts/install-deps.sh run|test
#   run   system packages to build and run `strongroom up` (SoftHSM2, OpenSC, OpenSSL, a C toolchain)
#   test  the above, plus the test tools: systemd-analyze (systemd), curl, psql, certbot (with
#         its RFC 2136 plugin), lego, uacme, dehydrated and knot for the ACME interop tests, scep
#         (micromdm's scepclient) for the SCEP interop test, strongSwan's pki with its curl
#         plugin (strongswan-pki, libstrongswan-extra-plugins) for the EST interop test, PostgreSQL
#         on 127.0.0.1:5432 (installed and started when none answers) and its server
#         binaries (the store's TLS test runs a throwaway cluster), pkilint and the
#         `cryptography` OCSP client and PyScep (PyPI, in .venv/), certbot 5 (PyPI, in .venv-certbot/),
#         cargo-deny (crates.io), promtool (Debian's prometheus, for `promtool check metrics`),
#         oathtool (TOTP codes), Chromium with chromium-driver and zbar-tools (the console's
#         browser test), and the headers kryoptic builds against (libssl-dev, libsqlite3-dev,
#         libclang-dev), and strace
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-run}
packages=(softhsm2 opensc openssl build-essential pkg-config python3-venv ca-certificates)
# ACME clients and a DNS server for the interop tests (certbot, lego, uacme, dehydrated,
# knot for RFC 2136).
# micromdm's scepclient (package scep) for the SCEP interop test; strongSwan's pki (its own
# TLS; the curl plugin fetches CRLs) as the second EST client. oathtool computes TOTP codes
# as an authenticator app would (the second factor's tests). Chromium driven through
# chromium-driver (WebDriver) is the console's real browser (crates/cli/tests/console_browser.rs);
# zbar-tools' zbarimg reads the enrolment QR code off its screenshot as a phone would.
# kryoptic, the second PKCS#11 implementation (hsm-sim/kryoptic.sh), builds against Debian's
# OpenSSL and SQLite, and bindgen reads OpenSSL's headers with libclang. strace shows the
# journal's directory fsync (crates/signer/tests/crash.rs).
test_packages=(systemd curl postgresql-client certbot python3-certbot-dns-rfc2136 lego uacme dehydrated knot scep
    strongswan-pki libstrongswan-extra-plugins oathtool chromium chromium-driver zbar-tools
    libssl-dev libsqlite3-dev libclang-dev strace)

[[ $mode == test ]] && packages+=("${test_packages[@]}")
sudo=""
[[ $(id -u) -eq 0 ]] || sudo=sudo
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "installing: ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null; then
    echo "cargo not found: install Rust (https://rustup.rs) and re-run" >&2
    exit 1
fi

if [[ $mode == test ]] && ! command -v promtool >/dev/null; then
    # promtool checks every /metrics text (crates/control/tests/metrics.rs). Debian 12 ships
    # it only inside `prometheus` (about 100 MB); without recommends it pulls no exporter.
    # On a systemd host the package enables its server: the tests need only the tool, so
    # the server installed here is stopped and disabled.
    echo "installing prometheus (for promtool)"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends prometheus >/dev/null
    if [[ -d /run/systemd/system ]]; then
        $sudo systemctl disable --now prometheus.service >/dev/null 2>&1 || true
    fi
fi

if [[ $mode == test ]]; then
    # PostgreSQL for the store tests: use the one on 127.0.0.1:5432 when it answers;
    # otherwise install Debian's, trust loopback connections (a test machine) and start it.
    if ! (command -v pg_isready >/dev/null && pg_isready -q -h 127.0.0.1 -p 5432); then
        if ! dpkg-query -W -f='${Status}' postgresql 2>/dev/null | grep -q "install ok installed"; then
            echo "installing PostgreSQL for the store tests"
            $sudo apt-get update -qq
            DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >/dev/null
        fi
        version=$(ls /etc/postgresql | sort -n | tail -1)
        hba=/etc/postgresql/$version/main/pg_hba.conf
        if ! $sudo grep -q '^host all all 127.0.0.1/32 trust' "$hba"; then
            $sudo sed -i '1i host all all 127.0.0.1/32 trust' "$hba"
        fi
        $sudo pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null \
            || $sudo pg_ctlcluster --skip-systemctl-redirect "$version" main reload
        for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
        pg_isready -h 127.0.0.1 -p 5432
    fi
    # The server binaries (initdb, pg_ctl) for the store's TLS test, which makes a throwaway
    # hostssl-only cluster of its own (crates/store/tests/tls_server): a machine whose
    # PostgreSQL on 5432 came from elsewhere may lack them.
    if ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
        echo "installing PostgreSQL's server binaries for the TLS test"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >/dev/null
    fi
    if [[ ! -x .venv/bin/lint_pkix_cert ]] || ! .venv/bin/python -c 'import cryptography' 2>/dev/null; then
        echo "installing pkilint and cryptography into .venv/"
        python3 -m venv .venv
        .venv/bin/pip install -q --disable-pip-version-check pkilint cryptography
    fi
    # PyScep, the second SCEP client (crates/front/tests/scep_pyscep.rs). Its wheel declares
    # no dependencies, so they are named here.
    if ! .venv/bin/python -c 'import scep, oscrypto, csrbuilder, certbuilder, requests' 2>/dev/null; then
        echo "installing PyScep into .venv/"
        .venv/bin/pip install -q --disable-pip-version-check 'PyScep==0.0.14' asn1crypto \
            oscrypto csrbuilder certbuilder requests six
    fi
    if [[ ! -x .venv-certbot/bin/certbot ]]; then
        echo "installing certbot 5 (PyPI) into .venv-certbot/ for IP identifiers, profiles and ARI"
        python3 -m venv .venv-certbot
        .venv-certbot/bin/pip install -q --disable-pip-version-check 'certbot>=5,<6'
    fi
    if ! command -v cargo-deny >/dev/null; then
        echo "installing cargo-deny (advisories, licences, bans, sources)"
        cargo install -q cargo-deny --locked
    fi
fi
