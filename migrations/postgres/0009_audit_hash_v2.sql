-- Audit hash rule 2 and the one way to append to the chain (crates/types/src/audit.rs,
-- docs/store.md). STORED FORMAT: which rule each event's hash follows, the switch point
-- between the rules and the encoding in audit_hash_v2 are part of every chain; never change
-- them. audit_hash_v2 must stay byte-for-byte equal to strongroom_types::audit::event_hash
-- (crates/store/tests/audit_chain.rs compares them).

-- No append between reading the head below and the end of this migration.
LOCK TABLE audit_head IN SHARE ROW EXCLUSIVE MODE;

-- Events already in the chain keep rule 1. The switch point is the head as this migration
-- finds it; no daemon role may write this table (roles.sql), and every rule-2 hash covers it.
CREATE TABLE audit_hash_switch (
    id         BIGINT PRIMARY KEY CHECK (id = 1),
    v1_through BIGINT NOT NULL CHECK (v1_through >= 0)
);
INSERT INTO audit_hash_switch (id, v1_through) SELECT 1, seq FROM audit_head WHERE id = 1;

ALTER TABLE audit_events ADD COLUMN hash_version BIGINT NOT NULL DEFAULT 1;
-- From now on a row names its rule: an older binary's INSERT (without the column) fails
-- instead of adding a rule-1 event the verifier would refuse.
ALTER TABLE audit_events ALTER COLUMN hash_version DROP DEFAULT;
DO $$
DECLARE
    switch_at BIGINT;
BEGIN
    SELECT v1_through INTO STRICT switch_at FROM audit_hash_switch WHERE id = 1;
    EXECUTE format(
        'ALTER TABLE audit_events ADD CONSTRAINT audit_events_rule_by_switch '
        'CHECK (hash_version IN (1, 2) AND (hash_version = 1) = (seq <= %s))',
        switch_at);
END
$$;

-- One field of the rule-2 encoding: its UTF-8 length as 8 bytes big-endian, then the bytes.
CREATE FUNCTION audit_hash_text(t TEXT) RETURNS BYTEA
LANGUAGE sql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT int8send(octet_length(convert_to(t, 'UTF8'))::bigint) || convert_to(t, 'UTF8') $$;

-- Rule 2: numbers as 8 bytes big-endian two's complement (int8send).
CREATE FUNCTION audit_hash_v2(p_v1_through BIGINT, p_prev_hash TEXT, p_seq BIGINT, p_at BIGINT,
    p_actor TEXT, p_action TEXT, p_target TEXT, p_outcome TEXT, p_detail TEXT) RETURNS TEXT
LANGUAGE sql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT encode(sha256(
    public.audit_hash_text('strongroom-audit-event-v2')
    || int8send(p_v1_through)
    || public.audit_hash_text(p_prev_hash)
    || int8send(p_seq)
    || int8send(p_at)
    || public.audit_hash_text(p_actor)
    || public.audit_hash_text(p_action)
    || public.audit_hash_text(p_target)
    || public.audit_hash_text(p_outcome)
    || public.audit_hash_text(p_detail)), 'hex')
$$;

-- The only way the daemons append (roles.sql grants EXECUTE and no INSERT or UPDATE on the
-- chain's tables): the caller gives the event, the function takes the next seq and the
-- previous hash under the head's row lock and computes the link itself, so a caller cannot
-- choose a seq, a link, a hash or a rule. SECURITY DEFINER runs it as its owner (whoever
-- ran the migrations: the schema owner); search_path is pinned and every name qualified, so
-- a caller's objects are never used. The caller still chooses `at` and the fields' text,
-- as before.
CREATE FUNCTION audit_append(p_at BIGINT, p_actor TEXT, p_action TEXT, p_target TEXT,
    p_outcome TEXT, p_detail TEXT)
RETURNS TABLE (appended_seq BIGINT, appended_prev_hash TEXT, appended_hash TEXT,
    appended_v1_through BIGINT)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_seq BIGINT;
    v_prev TEXT;
    v_switch BIGINT;
    v_hash TEXT;
BEGIN
    IF p_at IS NULL OR p_actor IS NULL OR p_action IS NULL OR p_target IS NULL
        OR p_outcome IS NULL OR p_detail IS NULL THEN
        RAISE EXCEPTION 'audit_append: every argument is required'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT s.v1_through INTO STRICT v_switch FROM public.audit_hash_switch s WHERE s.id = 1;
    UPDATE public.audit_head h SET seq = h.seq + 1 WHERE h.id = 1
        RETURNING h.seq, h.hash INTO STRICT v_seq, v_prev;
    v_hash := public.audit_hash_v2(v_switch, v_prev, v_seq, p_at, p_actor, p_action, p_target,
        p_outcome, p_detail);
    INSERT INTO public.audit_events
        (seq, at, actor, action, target, outcome, detail, prev_hash, hash, hash_version)
        VALUES (v_seq, p_at, p_actor, p_action, p_target, p_outcome, p_detail, v_prev, v_hash, 2);
    UPDATE public.audit_head h SET hash = v_hash WHERE h.id = 1;
    RETURN QUERY SELECT v_seq, v_prev, v_hash, v_switch;
END
$$;

-- Functions are executable by PUBLIC unless revoked; roles.sql grants audit_append to the
-- daemons.
REVOKE ALL ON FUNCTION audit_hash_text(TEXT) FROM PUBLIC;
REVOKE ALL ON FUNCTION audit_hash_v2(BIGINT, TEXT, BIGINT, BIGINT, TEXT, TEXT, TEXT, TEXT, TEXT)
    FROM PUBLIC;
REVOKE ALL ON FUNCTION audit_append(BIGINT, TEXT, TEXT, TEXT, TEXT, TEXT) FROM PUBLIC;
