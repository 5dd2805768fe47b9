-- Signed dynamic SCEP challenges (issue 17): the replay cache and the per-device count.
-- A row says that the token with this jti enrolled, under this profile, for this device, at
-- used_at (Unix seconds). The token itself is never stored: the jti names it, and a jti
-- alone enrols nothing (the signature over the whole token does).
-- (profile, jti) is the key: a token names its one profile, so a jti can only ever be used
-- under it; scoping the key keeps one connector's jti space from colliding with another's.
-- Rows are inserted by strongroom_store::Store::use_dynamic_challenge only, which also
-- purges rows older than three days (a token is accepted at most 24 h plus clock skew after
-- its iat, so an older row can no longer stop a replay).
CREATE TABLE scep_dynamic_challenges (
    profile   TEXT NOT NULL,
    jti       TEXT NOT NULL CHECK (length(jti) BETWEEN 16 AND 64),
    device_id TEXT NOT NULL CHECK (length(device_id) BETWEEN 1 AND 128),
    used_at   INTEGER NOT NULL,
    PRIMARY KEY (profile, jti)
);
CREATE INDEX scep_dynamic_challenges_device ON scep_dynamic_challenges (profile, device_id, used_at);
CREATE INDEX scep_dynamic_challenges_used ON scep_dynamic_challenges (used_at);
