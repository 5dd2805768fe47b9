-- SCEP enrolments waiting for approval (issue 17): the front records a device's PKCSReq
-- under a profile that needs approvals and queues an `scep.approve` job in the same
-- transaction; control files the approval request, and on its outcome marks the row
-- issued (with the certificate) or rejected (with why). A device's repeated PKCSReq or
-- CertPoll with the same transactionID is answered from the row.
-- STORED FORMAT: status is ScepPendingStatus's name (crates/store/src/scep_pending.rs);
-- csr is the device's DER CSR exactly as decrypted, kept only while the request is pending
-- (it carries the challengePassword); names is what the front read from it, for display
-- only (control re-parses the CSR and never issues for these); signer_fingerprint is the
-- SHA-256 of the device's signing certificate, upper-case hex with colons.
CREATE TABLE scep_pending (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    profile            TEXT NOT NULL,
    transaction_id     TEXT NOT NULL CHECK (length(transaction_id) BETWEEN 1 AND 256),
    csr                BLOB CHECK (csr IS NULL OR length(csr) BETWEEN 1 AND 65536),
    signer_fingerprint TEXT NOT NULL CHECK (length(signer_fingerprint) = 95),
    names              TEXT NOT NULL CHECK (length(names) <= 16384),
    status             TEXT NOT NULL CHECK (status IN ('pending', 'issued', 'rejected')),
    certificate_id     INTEGER REFERENCES certificates(id),
    reason             TEXT CHECK (reason IS NULL OR length(reason) BETWEEN 1 AND 2000),
    approval_id        INTEGER REFERENCES approval_requests(id),
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    UNIQUE (profile, transaction_id),
    CHECK ((status = 'pending') = (csr IS NOT NULL)),
    CHECK ((status = 'issued') = (certificate_id IS NOT NULL)),
    CHECK ((status = 'rejected') = (reason IS NOT NULL))
);
CREATE INDEX scep_pending_open ON scep_pending (profile, status);
CREATE INDEX scep_pending_approval ON scep_pending (approval_id);
