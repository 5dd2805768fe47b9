-- The TOTP second factor of console and API logins (issue 19); see
-- migrations/sqlite/0019_user_totp.sql for the stored format. Control only (roles.sql).
CREATE TABLE user_totp (
    user_id    BIGINT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    sealed     BYTEA CHECK (sealed IS NULL OR length(sealed) BETWEEN 29 AND 1024),
    pending    BYTEA CHECK (pending IS NULL OR length(pending) BETWEEN 29 AND 1024),
    last_step  BIGINT NOT NULL DEFAULT 0 CHECK (last_step >= 0),
    updated_at BIGINT NOT NULL
);

CREATE TABLE user_recovery_codes (
    user_id   BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL CHECK (length(code_hash) = 64),
    used_at   BIGINT,
    PRIMARY KEY (user_id, code_hash)
);
