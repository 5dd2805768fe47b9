-- The TOTP second factor of console and API logins (issue 19).
-- STORED FORMAT: sealed and pending are blobs the signer made (TotpEnrol): AES-256-GCM under
-- the token's strongroom-seal-totp key, IV (12) ‖ ciphertext ‖ tag (16), bound to the user
-- name; only the signer opens them. sealed is the active secret (NULL until the first
-- enrolment is confirmed); pending the one being enrolled (NULL when none), which replaces
-- sealed once a code from it is confirmed. last_step is the last RFC 6238 time step (Unix
-- time / 30) a code was accepted for: a later login needs a later step, so a code works once.
CREATE TABLE user_totp (
    user_id    INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    sealed     BLOB CHECK (sealed IS NULL OR length(sealed) BETWEEN 29 AND 1024),
    pending    BLOB CHECK (pending IS NULL OR length(pending) BETWEEN 29 AND 1024),
    last_step  INTEGER NOT NULL DEFAULT 0 CHECK (last_step >= 0),
    updated_at INTEGER NOT NULL
);

-- One-time recovery codes, made when an enrolment is confirmed (the previous set is
-- replaced). STORED FORMAT: code_hash is the lower-case hex SHA-256 of the code as shown
-- (the codes carry 80 random bits: a fast hash is enough); used_at is set once.
CREATE TABLE user_recovery_codes (
    user_id   INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL CHECK (length(code_hash) = 64),
    used_at   INTEGER,
    PRIMARY KEY (user_id, code_hash)
);
