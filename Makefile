# Strongroom: the two commands a new user needs are `make run` and `make test`.
CARGO    ?= cargo
DATA_DIR ?= data
export PATH := $(CURDIR)/.venv/bin:$(PATH)

# Tests marked #[ignore = "needs root: …"] (clients as other uids, socket ownership) run when
# make runs as root, as CI does; as another user they are listed as ignored, not skipped
# silently.
ROOT_TESTS := $(if $(filter 0,$(shell id -u)),-- --include-ignored,)

.PHONY: run test deps test-deps build check bench soak fmt clean-data

## run: install missing system packages, build, and run `strongroom up` in $(DATA_DIR)
run: deps build
	$(CARGO) run -q --bin strongroom -- up --data-dir $(DATA_DIR)

## test: install what the tests need, then format check, clippy, cargo-deny (advisories
##       against the offline RustSec snapshot in ../shared/advisory-db, copied once into
##       .advisory-db/ by scripts/advisory-db.sh; licences, bans, sources), every test, and
##       the hsm and signer suites a second time on kryoptic (hsm-sim/kryoptic.sh builds it)
test: test-deps
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	scripts/advisory-db.sh
	$(CARGO) fetch
	$(CARGO) deny --offline check advisories licenses bans sources
	$(CARGO) test --workspace $(ROOT_TESTS)
	# The hsm and signer suites again on the second PKCS#11 implementation (kryoptic).
	STRONGROOM_PKCS11_MODULE=$$(hsm-sim/kryoptic.sh) $(CARGO) test -p strongroom-hsm -p strongroom-signer $(ROOT_TESTS)

## bench: every side-by-side benchmark (scripts/bench-all.sh, about 30 minutes), then the
##        section "The latest `make bench` run" of docs/performance.md rewritten from them
bench: deps
	scripts/bench-all.sh

## soak: ten minutes of ACME, API and OCSP at fixed rates against `strongroom up`: zero
##       errors, flat memory (crates/cli/tests/soak.rs; `make test` runs it for 60 s)
soak: test-deps
	STRONGROOM_SOAK_SECS=600 $(CARGO) test -p strongroom-cli --test soak -- --nocapture

deps:
	scripts/install-deps.sh run

test-deps:
	scripts/install-deps.sh test

build:
	$(CARGO) build --workspace --bins

fmt:
	$(CARGO) fmt --all

clean-data:
	rm -rf $(DATA_DIR)
