-- Enrolments waiting for approval come over SCEP or EST (issue 18): which one says how
-- control records the certificate (source, owner, audit actions) and how the request's
-- caller was checked. Rows from before are SCEP's.
-- STORED FORMAT: protocol is PendingProtocol's name (crates/store/src/scep_pending.rs).
-- For EST, transaction_id is `est-` and the hex SHA-256 of the CSR (a client re-sends the
-- same request after a 202), and signer_fingerprint the fingerprint of the caller's
-- identity (its client certificate, or SHA-256 of `est:LABEL:USER`).
ALTER TABLE scep_pending ADD COLUMN protocol TEXT NOT NULL DEFAULT 'scep'
    CHECK (protocol IN ('scep', 'est'));
