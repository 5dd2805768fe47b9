#!/usr/bin/env bash
# Installs what Strongroom needs on Debian 12, only what is missing.
#
# Usage: scripts/install-deps.sh run|test
#   run   system packages to build and run `strongroom up` (SoftHSM2, OpenSC, OpenSSL, a C toolchain)
#   test  the above, plus the test tools: systemd-analyze (systemd), pkilint (PyPI, in .venv/)
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-run}
packages=(softhsm2 opensc openssl build-essential pkg-config python3-venv ca-certificates)
test_packages=(systemd)

[[ $mode == test ]] && packages+=("${test_packages[@]}")
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "installing: ${missing[*]}"
    sudo=""
    [[ $(id -u) -eq 0 ]] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null; then
    echo "cargo not found: install Rust (https://rustup.rs) and re-run" >&2
    exit 1
fi

if [[ $mode == test ]]; then
    if [[ ! -x .venv/bin/lint_pkix_cert ]]; then
        echo "installing pkilint into .venv/"
        python3 -m venv .venv
        .venv/bin/pip install -q --disable-pip-version-check pkilint
    fi
fi
