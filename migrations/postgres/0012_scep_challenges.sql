-- One-time SCEP challenge passwords (issue 17): made by control (API and CLI) for one
-- profile, used once by the front when a device's PKCSReq carries one.
-- STORED FORMAT: challenge_hash is the SHA-256 of the challenge's UTF-8 text exactly as the
-- device presents it (strongroom_store::scep_challenge_hash); the challenge itself is never
-- stored. A challenge is consumed by one guarded UPDATE (consumed_at IS NULL and not
-- expired), which records the SCEP transactionID that used it.
-- No foreign key to profiles: deleting a profile must not wait on its challenges, and the
-- front answers only for profiles that exist.
CREATE TABLE scep_challenges (
    id                   BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    profile              TEXT NOT NULL,
    challenge_hash       BYTEA NOT NULL UNIQUE CHECK (octet_length(challenge_hash) = 32),
    created_by           TEXT NOT NULL,
    created_at           BIGINT NOT NULL,
    expires_at           BIGINT NOT NULL CHECK (expires_at > created_at),
    consumed_at          BIGINT,
    consumed_transaction TEXT CHECK (consumed_transaction IS NULL
        OR length(consumed_transaction) BETWEEN 1 AND 256),
    CHECK ((consumed_at IS NULL) = (consumed_transaction IS NULL))
);
CREATE INDEX scep_challenges_profile ON scep_challenges (profile, id);
CREATE INDEX scep_challenges_expires ON scep_challenges (expires_at);

-- The front's only way to use a challenge (roles.sql grants it EXECUTE and no right on the
-- table). Why a function and not SELECT + column UPDATE grants: with those, a compromised
-- front could read every profile's challenge hashes and mark every challenge used (one
-- UPDATE without a WHERE), burning the challenges operators handed out; through this
-- function it can consume only a challenge whose text it holds (it hashes to p_hash), and
-- it learns nothing about any other row.
--
-- One guarded UPDATE consumes (READ COMMITTED: of two callers racing on one challenge, the
-- second waits on the row lock, re-checks `consumed_at IS NULL` and updates nothing). When
-- nothing was consumed, the row with that hash, if any, is returned with consumed_now = false
-- so the caller can say why (wrong profile, already used, expired); zero rows: unknown.
-- SECURITY DEFINER runs it as its owner (whoever ran the migrations); search_path is
-- pinned and every name qualified, as for audit_append.
CREATE FUNCTION scep_challenge_consume(p_profile TEXT, p_hash BYTEA, p_transaction TEXT,
    p_now BIGINT)
RETURNS TABLE (consumed_now BOOLEAN, challenge_id BIGINT, challenge_profile TEXT,
    challenge_created_by TEXT, challenge_created_at BIGINT, challenge_expires_at BIGINT,
    challenge_consumed_at BIGINT, challenge_consumed_transaction TEXT)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF p_profile IS NULL OR p_hash IS NULL OR p_transaction IS NULL OR p_now IS NULL THEN
        RAISE EXCEPTION 'scep_challenge_consume: every argument is required'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    RETURN QUERY
        UPDATE public.scep_challenges c
        SET consumed_at = p_now, consumed_transaction = p_transaction
        WHERE c.challenge_hash = p_hash AND c.profile = p_profile
            AND c.consumed_at IS NULL AND c.expires_at > p_now
        RETURNING true, c.id, c.profile, c.created_by, c.created_at, c.expires_at,
            c.consumed_at, c.consumed_transaction;
    IF FOUND THEN
        RETURN;
    END IF;
    RETURN QUERY
        SELECT false, c.id, c.profile, c.created_by, c.created_at, c.expires_at,
            c.consumed_at, c.consumed_transaction
        FROM public.scep_challenges c
        WHERE c.challenge_hash = p_hash;
END
$$;

-- Functions are executable by PUBLIC unless revoked; roles.sql grants this one to the front.
REVOKE ALL ON FUNCTION scep_challenge_consume(TEXT, BYTEA, TEXT, BIGINT) FROM PUBLIC;
