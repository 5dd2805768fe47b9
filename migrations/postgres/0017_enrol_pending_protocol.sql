-- Enrolments waiting for approval come over SCEP or EST (issue 18): which one says how
-- control records the certificate (source, owner, audit actions) and how the request's
-- caller was checked. Rows from before are SCEP's.
-- STORED FORMAT: protocol is PendingProtocol's name (crates/store/src/scep_pending.rs).
-- For EST, transaction_id is `est-` and the hex SHA-256 of the CSR (a client re-sends the
-- same request after a 202), and signer_fingerprint the fingerprint of the caller's
-- identity (its client certificate, or SHA-256 of `est:LABEL:USER`).
ALTER TABLE scep_pending ADD COLUMN protocol TEXT NOT NULL DEFAULT 'scep'
    CHECK (protocol IN ('scep', 'est'));

-- The front's two ways in take and give the protocol: replaced, not overloaded, so the
-- front has one way to submit (roles.sql grants the new ones). Everything else is as in
-- 0014: the row and its `scep.approve` job in one transaction, always 'pending'; the
-- status of one request the caller names, never the CSR.
DROP FUNCTION scep_pending_submit(TEXT, TEXT, BYTEA, TEXT, TEXT, BIGINT);
DROP FUNCTION scep_pending_status(TEXT, TEXT);

CREATE FUNCTION scep_pending_submit(p_protocol TEXT, p_profile TEXT, p_transaction TEXT,
    p_csr BYTEA, p_signer_fingerprint TEXT, p_names TEXT, p_now BIGINT)
RETURNS TABLE (pending_id BIGINT, outcome TEXT)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_id BIGINT;
    v_open BIGINT;
BEGIN
    IF p_protocol IS NULL OR p_profile IS NULL OR p_transaction IS NULL OR p_csr IS NULL
        OR p_signer_fingerprint IS NULL OR p_names IS NULL OR p_now IS NULL THEN
        RAISE EXCEPTION 'scep_pending_submit: every argument is required'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT p.id INTO v_id FROM public.scep_pending p
        WHERE p.profile = p_profile AND p.transaction_id = p_transaction;
    IF FOUND THEN
        RETURN QUERY SELECT v_id, 'exists'::TEXT;
        RETURN;
    END IF;
    SELECT count(*) INTO v_open FROM public.scep_pending p
        WHERE p.profile = p_profile AND p.status = 'pending';
    IF v_open >= 1000 THEN
        RETURN QUERY SELECT NULL::BIGINT, 'full'::TEXT;
        RETURN;
    END IF;
    INSERT INTO public.scep_pending (protocol, profile, transaction_id, csr,
            signer_fingerprint, names, status, created_at, updated_at)
        VALUES (p_protocol, p_profile, p_transaction, p_csr, p_signer_fingerprint, p_names,
            'pending', p_now, p_now)
        ON CONFLICT (profile, transaction_id) DO NOTHING
        RETURNING id INTO v_id;
    IF v_id IS NULL THEN
        SELECT p.id INTO v_id FROM public.scep_pending p
            WHERE p.profile = p_profile AND p.transaction_id = p_transaction;
        RETURN QUERY SELECT v_id, 'exists'::TEXT;
        RETURN;
    END IF;
    INSERT INTO public.jobs (kind, payload, state, run_at, attempts, max_attempts,
            created_at, updated_at)
        VALUES ('scep.approve', '{"pending_id":' || v_id::TEXT || '}', 'queued', p_now, 0, 5,
            p_now, p_now);
    RETURN QUERY SELECT v_id, 'queued'::TEXT;
END
$$;

CREATE FUNCTION scep_pending_status(p_profile TEXT, p_transaction TEXT)
RETURNS TABLE (pending_id BIGINT, pending_protocol TEXT, pending_status TEXT,
    pending_certificate_id BIGINT, pending_reason TEXT, pending_signer_fingerprint TEXT)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT p.id, p.protocol, p.status, p.certificate_id, p.reason, p.signer_fingerprint
    FROM public.scep_pending p
    WHERE p.profile = p_profile AND p.transaction_id = p_transaction
$$;

REVOKE ALL ON FUNCTION scep_pending_submit(TEXT, TEXT, TEXT, BYTEA, TEXT, TEXT, BIGINT)
    FROM PUBLIC;
REVOKE ALL ON FUNCTION scep_pending_status(TEXT, TEXT) FROM PUBLIC;
