-- Signed dynamic SCEP challenges (issue 17): the replay cache and the per-device count.
-- A row says that the token with this jti enrolled, under this profile, for this device, at
-- used_at (Unix seconds). The token itself is never stored: the jti names it, and a jti
-- alone enrols nothing (the signature over the whole token does).
-- (profile, jti) is the key: a token names its one profile, so a jti can only ever be used
-- under it; scoping the key keeps one connector's jti space from colliding with another's.
CREATE TABLE scep_dynamic_challenges (
    profile   TEXT NOT NULL,
    jti       TEXT NOT NULL CHECK (length(jti) BETWEEN 16 AND 64),
    device_id TEXT NOT NULL CHECK (length(device_id) BETWEEN 1 AND 128),
    used_at   BIGINT NOT NULL,
    PRIMARY KEY (profile, jti)
);
CREATE INDEX scep_dynamic_challenges_device ON scep_dynamic_challenges (profile, device_id, used_at);
CREATE INDEX scep_dynamic_challenges_used ON scep_dynamic_challenges (used_at);

-- The front's only way to use a dynamic challenge (roles.sql grants it EXECUTE and no right
-- on the table): with table grants a compromised front could delete the replay cache and
-- replay every token still valid, or backdate rows; through this function it can only
-- record a use, and only as the rules below allow.
--
-- Returns 'accepted' (recorded now), 'replayed' (this profile's jti was used before) or
-- 'device-limit' (the device has p_limit uses in the 24 h before p_now; nothing recorded,
-- so the token is not burnt). Race-safe: a transaction-scoped advisory lock on
-- (profile, device) serialises the check and the insert of one device's uses (READ
-- COMMITTED: the count after the lock sees the previous holder's committed row), and the
-- primary key with ON CONFLICT DO NOTHING decides between two uses of one jti whatever
-- device they claim — exactly one is accepted.
--
-- Purge: rows used more than three days before the earlier of p_now and the database's own
-- clock are deleted first — older rows can no longer stop a replay (a token is accepted at
-- most 24 h plus clock skew after its iat), and the database clock keeps a caller that
-- passes a far-future p_now from emptying the cache.
-- SECURITY DEFINER runs it as its owner (whoever ran the migrations); search_path is pinned
-- and every name qualified, as for audit_append.
CREATE FUNCTION scep_dynamic_challenge_use(p_profile TEXT, p_jti TEXT, p_device TEXT,
    p_now BIGINT, p_limit INTEGER)
RETURNS TEXT
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    recent BIGINT;
    inserted BIGINT;
BEGIN
    IF p_profile IS NULL OR p_jti IS NULL OR p_device IS NULL OR p_now IS NULL
        OR p_limit IS NULL THEN
        RAISE EXCEPTION 'scep_dynamic_challenge_use: every argument is required'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF p_limit < 1 THEN
        RAISE EXCEPTION 'scep_dynamic_challenge_use: the limit is at least 1'
            USING ERRCODE = 'check_violation';
    END IF;
    DELETE FROM public.scep_dynamic_challenges
        WHERE used_at < LEAST(p_now, extract(epoch FROM now())::BIGINT) - 259200;
    PERFORM pg_advisory_xact_lock(
        hashtextextended('scep-dynamic' || chr(1) || p_profile || chr(1) || p_device, 0));
    IF EXISTS (SELECT 1 FROM public.scep_dynamic_challenges d
               WHERE d.profile = p_profile AND d.jti = p_jti) THEN
        RETURN 'replayed';
    END IF;
    SELECT count(*) INTO recent FROM public.scep_dynamic_challenges d
        WHERE d.profile = p_profile AND d.device_id = p_device AND d.used_at > p_now - 86400;
    IF recent >= p_limit THEN
        RETURN 'device-limit';
    END IF;
    INSERT INTO public.scep_dynamic_challenges (profile, jti, device_id, used_at)
        VALUES (p_profile, p_jti, p_device, p_now)
        ON CONFLICT (profile, jti) DO NOTHING;
    GET DIAGNOSTICS inserted = ROW_COUNT;
    IF inserted = 0 THEN
        RETURN 'replayed';
    END IF;
    RETURN 'accepted';
END
$$;

-- Functions are executable by PUBLIC unless revoked; roles.sql grants this one to the front.
REVOKE ALL ON FUNCTION scep_dynamic_challenge_use(TEXT, TEXT, TEXT, BIGINT, INTEGER) FROM PUBLIC;
