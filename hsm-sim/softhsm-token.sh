#!/usr/bin/env bash
# Create a private SoftHSM2 token for development and tests.
#
# Usage: softhsm-token.sh DIR LABEL PIN_FILE
#
# In: a directory to own (created if missing), a token label, and a PIN file path.
# Out: DIR/softhsm2.conf and DIR/tokens/ holding one initialized token labelled LABEL;
#      the user PIN in PIN_FILE (mode 0400); the conf path on stdout. Export it as
#      SOFTHSM2_CONF before the first PKCS#11 call of the process that uses the token.
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

command -v softhsm2-util >/dev/null || {
    echo "softhsm2-util not found: install softhsm2 (Debian: apt-get install softhsm2)" >&2
    exit 1
}

# Everything below (token files, PIN file) is secret: nothing we create is group/other readable.
umask 077
mkdir -p "$dir/tokens"
dir=$(cd "$dir" && pwd)
conf="$dir/softhsm2.conf"

cat >"$conf" <<CONF
# Written by hsm-sim/softhsm-token.sh; private to this directory.
directories.tokendir = $dir/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
CONF

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

# The PINs go on softhsm2-util's command line (it has no other non-interactive input), but
# never to our output: only the tool's own status line is shown, on stderr.
SOFTHSM2_CONF="$conf" softhsm2-util --init-token --free --label "$label" \
    --so-pin "$so_pin" --pin "$pin" >&2

echo "$conf"
