-- What the control API needs beyond 0001–0003: the break-glass seal, API key labels,
-- the outcome of an executed approval, user and API key listings. PostgreSQL dialect;
-- keep in step with sqlite/0004_control.sql.

-- NULL while the break-glass account is sealed; the time of first use once it is not.
ALTER TABLE users ADD COLUMN unsealed_at BIGINT;
ALTER TABLE api_keys ADD COLUMN label TEXT NOT NULL DEFAULT '';
CREATE INDEX api_keys_owner ON api_keys (owner_id, id);
-- What executing an approved request produced (e.g. the certificate id), as JSON.
ALTER TABLE approval_requests ADD COLUMN result TEXT;
CREATE INDEX audit_events_actor ON audit_events (actor, seq);
CREATE INDEX audit_events_action ON audit_events (action, seq);
-- Users with only the enroller role may issue under a profile when their name is in this
-- comma-separated list, or when it is '*'. Empty: enrollers may not use the profile.
ALTER TABLE profiles ADD COLUMN enrollers TEXT NOT NULL DEFAULT '';
-- Signed audit checkpoints (SignAuditCheckpoint answers), one per covered head.
CREATE TABLE audit_checkpoints (
    seq        BIGINT PRIMARY KEY,
    head_hash  TEXT NOT NULL,
    at         BIGINT NOT NULL,
    signed     TEXT NOT NULL
);

-- Revocation data the front serves: the newest CRL per CA and one pre-signed OCSP response
-- per certificate (both signed by the signer; stored here so serving never waits for it).
CREATE TABLE crls (
    ca_id        TEXT NOT NULL REFERENCES cas(id),
    -- 'full', 'delta', a shard number ('3') or a shard's delta ('3-delta').
    scope        TEXT NOT NULL,
    number       BIGINT NOT NULL,
    der          BYTEA NOT NULL,
    this_update  BIGINT NOT NULL,
    next_update  BIGINT NOT NULL,
    PRIMARY KEY (ca_id, scope, number)
);
CREATE TABLE ocsp_responses (
    ca_id        TEXT NOT NULL REFERENCES cas(id),
    serial       TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('good', 'revoked', 'unknown')),
    der          BYTEA NOT NULL,
    this_update  BIGINT NOT NULL,
    next_update  BIGINT NOT NULL,
    PRIMARY KEY (ca_id, serial)
);
CREATE INDEX ocsp_responses_next_update ON ocsp_responses (next_update);
