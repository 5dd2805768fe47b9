#!/usr/bin/env bash
# Create a private software token for development and tests.
#
# Usage: token.sh DIR LABEL PIN_FILE
#
# In: a directory to own (created if missing), a token label, a PIN file path, and the
#     PKCS#11 module in STRONGROOM_PKCS11_MODULE (default SoftHSM2's). Two modules are known:
#     SoftHSM2 (tokens made with softhsm2-util) and kryoptic (hsm-sim/kryoptic.sh; tokens
#     made through the module itself with OpenSC's pkcs11-tool).
# Out: DIR/tokens/ holding one initialized token labelled LABEL and the module's
#      configuration file (DIR/softhsm2.conf or DIR/kryoptic.conf), whose path is printed on
#      stdout; the user PIN in PIN_FILE (mode 0400). Export that path as SOFTHSM2_CONF and
#      KRYOPTIC_CONF (each module reads its own) before the first PKCS#11 call of the process
#      that uses the token.
#
# Calling it again with the same DIR and another LABEL adds a second token to the same
# store. The SO PIN is random and thrown away: these tokens are disposable.
set -euo pipefail

if [[ $# -ne 3 ]]; then
    echo "usage: $0 DIR LABEL PIN_FILE" >&2
    exit 2
fi

dir=$1
label=$2
pin_file=$3

module=${STRONGROOM_PKCS11_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
case $(basename "$module") in
*softhsm2*) kind=softhsm2 ;;
*kryoptic*) kind=kryoptic ;;
*)
    echo "token.sh makes SoftHSM2 and kryoptic tokens; for $module create the token with its vendor's tools" >&2
    exit 1
    ;;
esac
need() {
    command -v "$1" >/dev/null || {
        echo "$1 not found: install $2 (Debian: apt-get install $2)" >&2
        exit 1
    }
}
if [[ $kind == softhsm2 ]]; then need softhsm2-util softhsm2; else need pkcs11-tool opensc; fi
[[ -f $module ]] || {
    echo "PKCS#11 module $module not found" >&2
    exit 1
}

# Everything below (token files, PIN file) is secret: nothing we create is group/other readable.
umask 077
mkdir -p "$dir/tokens"
dir=$(cd "$dir" && pwd)
if [[ $kind == softhsm2 ]]; then
    conf="$dir/softhsm2.conf"
    cat >"$conf" <<CONF
# Written by hsm-sim/token.sh; private to this directory.
directories.tokendir = $dir/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
CONF
else
    # One slot per token, each with its own SQLite file under tokens/ (the directory the
    # signer's sandbox may write).
    conf="$dir/kryoptic.conf"
    slot=$(grep -c '^\[\[slots\]\]' "$conf" 2>/dev/null || true)
    slot=$((${slot:-0} + 1))
    cat >>"$conf" <<CONF
[[slots]]
slot = $slot
dbtype = "sqlite"
dbargs = "$dir/tokens/slot-$slot.sql"

CONF
fi

random_pin() {
    od -An -tx1 -N16 /dev/urandom | tr -d ' \n'
}

if [[ -e "$pin_file" ]]; then
    # Reuse the caller's PIN so a token can be recreated for an existing configuration.
    pin=$(head -n1 -- "$pin_file")
else
    pin=$(random_pin)
    printf '%s\n' "$pin" >"$pin_file"
    chmod 0400 "$pin_file"
fi
if [[ -z "$pin" ]]; then
    echo "PIN file $pin_file is empty" >&2
    exit 1
fi
so_pin=$(random_pin)

# The PINs go on the tool's command line (neither has another non-interactive input), but
# never to our output: only the tools' own status lines are shown, on stderr.
if [[ $kind == softhsm2 ]]; then
    SOFTHSM2_CONF="$conf" softhsm2-util --init-token --free --label "$label" \
        --so-pin "$so_pin" --pin "$pin" >&2
else
    KRYOPTIC_CONF="$conf" pkcs11-tool --module "$module" --slot "$slot" --init-token \
        --label "$label" --so-pin "$so_pin" >&2
    KRYOPTIC_CONF="$conf" pkcs11-tool --module "$module" --slot "$slot" --init-pin \
        --so-pin "$so_pin" --pin "$pin" >&2
fi

echo "$conf"
