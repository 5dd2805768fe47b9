-- ACME nonces move to the attached `ephemeral` database (crates/store/src/nonces.rs),
-- which commits without an fsync per commit and is emptied whenever a connection opens.
-- Outstanding nonces are not carried over: a client holding one gets badNonce once.
DROP TABLE main.acme_nonces;
