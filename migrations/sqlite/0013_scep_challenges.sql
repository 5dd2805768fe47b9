-- One-time SCEP challenge passwords (issue 17): made by control (API and CLI) for one
-- profile, used once by the front when a device's PKCSReq carries one.
-- STORED FORMAT: challenge_hash is the SHA-256 of the challenge's UTF-8 text exactly as the
-- device presents it (strongroom_store::scep_challenge_hash); the challenge itself is never
-- stored. A challenge is consumed by one guarded UPDATE (consumed_at IS NULL and not
-- expired), which records the SCEP transactionID that used it.
-- No foreign key to profiles: deleting a profile must not wait on its challenges, and the
-- front answers only for profiles that exist.
CREATE TABLE scep_challenges (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    profile              TEXT NOT NULL,
    challenge_hash       BLOB NOT NULL UNIQUE CHECK (length(challenge_hash) = 32),
    created_by           TEXT NOT NULL,
    created_at           INTEGER NOT NULL,
    expires_at           INTEGER NOT NULL CHECK (expires_at > created_at),
    consumed_at          INTEGER,
    consumed_transaction TEXT CHECK (consumed_transaction IS NULL
        OR length(consumed_transaction) BETWEEN 1 AND 256),
    CHECK ((consumed_at IS NULL) = (consumed_transaction IS NULL))
);
CREATE INDEX scep_challenges_profile ON scep_challenges (profile, id);
CREATE INDEX scep_challenges_expires ON scep_challenges (expires_at);
