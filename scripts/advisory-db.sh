#!/usr/bin/env bash
# Prepares the RustSec advisory database for `cargo deny --offline check advisories`.
#
# Usage: scripts/advisory-db.sh [SNAPSHOT_DIR]   (default: ../shared/advisory-db, or
#        $ADVISORY_SNAPSHOT; with neither, a networked machine fetches the live database)
#
# cargo-deny reads the database from `db-path` in deny.toml (.advisory-db/, relative to the
# repository root, where make runs it) under the directory name it derives from the default
# database URL, and asks git for HEAD's commit time. The snapshot is read-only, so it is
# copied here once, made a git repository with one commit dated as the snapshot, and
# reused while its SNAPSHOT.md is unchanged; a new snapshot replaces the copy.
set -euo pipefail
cd "$(dirname "$0")/.."

src=${1:-${ADVISORY_SNAPSHOT:-../shared/advisory-db}}
dest=.advisory-db/advisory-db-3157b0e258782691

if [[ ! -f $src/SNAPSHOT.md ]]; then
    if [[ -d $dest/.git ]]; then
        echo "advisory-db: no snapshot at $src; using the copy in $dest" >&2
        exit 0
    fi
    # A new machine with network: let cargo-deny clone the live database into db-path.
    echo "advisory-db: no snapshot at $src; fetching the RustSec database (cargo deny fetch db)" >&2
    if cargo deny fetch db; then
        exit 0
    fi
    echo "advisory-db: no snapshot at $src and the fetch failed (set ADVISORY_SNAPSHOT to a RustSec" \
        "advisory-db checkout)" >&2
    exit 1
fi
if [[ -d $dest/.git ]] && cmp -s "$src/SNAPSHOT.md" "$dest/SNAPSHOT.md"; then
    exit 0
fi

echo "advisory-db: copying the snapshot from $src into $dest"
rm -rf "$dest"
mkdir -p "$(dirname "$dest")"
cp -R "$src" "$dest"
# The snapshot's files are read-only; git needs to write .git inside the copy.
chmod -R u+w "$dest"
# The snapshot's own date (SNAPSHOT.md names it), so cargo-deny sees its true age.
date=$(grep -oE '\(20[0-9]{2}-[0-9]{2}-[0-9]{2}\)' "$src/SNAPSHOT.md" | head -1 | tr -d '()' || true)
if [[ -n $date ]]; then
    export GIT_AUTHOR_DATE=${date}T00:00:00Z GIT_COMMITTER_DATE=${date}T00:00:00Z
fi
(
    cd "$dest"
    git init -q
    git add -A
    git -c user.name=strongroom -c user.email=strongroom@localhost \
        -c commit.gpgsign=false -c core.hooksPath=/dev/null commit -q -m "RustSec advisory-db snapshot"
)
