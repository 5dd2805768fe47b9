-- Client certificates that log a user in to control, bound by control alone (an admin binds
-- a certificate to a user, or a user enrols one for themselves). The inventory's `owner` is
-- data a caller or the front chose and never grants a login. A binding names the
-- certificate's row and copies its fingerprint (what the TLS layer presents); it ends with
-- the certificate's revocation or expiry, which authentication checks on every request.
CREATE TABLE login_certificates (
    certificate_id BIGINT PRIMARY KEY REFERENCES certificates(id),
    fingerprint    TEXT NOT NULL UNIQUE,
    user_id        BIGINT NOT NULL REFERENCES users(id),
    bound_by       TEXT NOT NULL,
    created_at     BIGINT NOT NULL
);
CREATE INDEX login_certificates_user ON login_certificates (user_id);

-- OCSP answers only serials the CA issued: a response stored for a serial that is not in the
-- inventory was signed for a stranger's random request (and control would re-sign it for
-- ever). The front now answers such serials `unauthorized` without the signer.
DELETE FROM ocsp_responses
WHERE NOT EXISTS (
    SELECT 1 FROM certificates c
    WHERE c.issuer_id = ocsp_responses.ca_id AND c.serial = ocsp_responses.serial
);
