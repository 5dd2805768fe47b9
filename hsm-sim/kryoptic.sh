#!/usr/bin/env bash
# Build the kryoptic PKCS#11 module (a second soft token for the portability tests).
#
# Usage: kryoptic.sh
#
# In: hsm-sim/kryoptic (a cdylib over the kryoptic-lib crate, its own Cargo.lock); Debian's
#     libssl-dev, libsqlite3-dev and libclang-dev (bindgen reads OpenSSL's headers).
# Out: the module's path on stdout, under $CARGO_TARGET_DIR/kryoptic (or target/kryoptic),
#      rebuilt only when its sources changed. Point STRONGROOM_PKCS11_MODULE at it and make
#      tokens with hsm-sim/token.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
target=${CARGO_TARGET_DIR:-$here/../target}/kryoptic
for header in /usr/include/openssl/evp.h /usr/include/sqlite3.h; do
    [[ -e $header ]] || {
        echo "$header not found: apt-get install libssl-dev libsqlite3-dev libclang-dev" >&2
        exit 1
    }
done
cargo build --quiet --release --locked --manifest-path "$here/kryoptic/Cargo.toml" \
    --target-dir "$target" >&2
echo "$target/release/libstrongroom_kryoptic.so"
