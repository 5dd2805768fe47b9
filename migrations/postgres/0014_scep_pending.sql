-- SCEP enrolments waiting for approval (issue 17): the front records a device's PKCSReq
-- under a profile that needs approvals and queues an `scep.approve` job in the same
-- transaction; control files the approval request, and on its outcome marks the row
-- issued (with the certificate) or rejected (with why). A device's repeated PKCSReq or
-- CertPoll with the same transactionID is answered from the row.
-- STORED FORMAT: status is ScepPendingStatus's name (crates/store/src/scep_pending.rs);
-- csr is the device's DER CSR exactly as decrypted, kept only while the request is pending
-- (it carries the challengePassword); names is what the front read from it, for display
-- only (control re-parses the CSR and never issues for these); signer_fingerprint is the
-- SHA-256 of the device's signing certificate, upper-case hex with colons.
CREATE TABLE scep_pending (
    id                 BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    profile            TEXT NOT NULL,
    transaction_id     TEXT NOT NULL CHECK (length(transaction_id) BETWEEN 1 AND 256),
    csr                BYTEA CHECK (csr IS NULL OR octet_length(csr) BETWEEN 1 AND 65536),
    signer_fingerprint TEXT NOT NULL CHECK (length(signer_fingerprint) = 95),
    names              TEXT NOT NULL CHECK (length(names) <= 16384),
    status             TEXT NOT NULL CHECK (status IN ('pending', 'issued', 'rejected')),
    certificate_id     BIGINT REFERENCES certificates(id),
    reason             TEXT CHECK (reason IS NULL OR length(reason) BETWEEN 1 AND 2000),
    approval_id        BIGINT REFERENCES approval_requests(id),
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    UNIQUE (profile, transaction_id),
    CHECK ((status = 'pending') = (csr IS NOT NULL)),
    CHECK ((status = 'issued') = (certificate_id IS NOT NULL)),
    CHECK ((status = 'rejected') = (reason IS NOT NULL))
);
CREATE INDEX scep_pending_open ON scep_pending (profile, status);
CREATE INDEX scep_pending_approval ON scep_pending (approval_id);

-- The front's two ways in (roles.sql grants it EXECUTE on both and no right on the table).
-- Why functions and not INSERT + SELECT grants: with those, a compromised front could read
-- every pending CSR (each carries its device's challengePassword) and, through INSERT with
-- any status, write a row that says `issued` for a certificate of its choosing. Through
-- these it can only add a pending request (with its job, in the same transaction) and read
-- where one request it names stands.
--
-- scep_pending_submit: the row and its `scep.approve` job, or the existing row's id when
-- this profile already has the transactionID ('exists'), or nothing when the profile has
-- 1000 requests pending ('full'; the same number as MAX_PENDING_PER_PROFILE in
-- crates/store/src/scep_pending.rs). The status is always 'pending': the caller cannot
-- choose it. SECURITY DEFINER runs it as its owner; search_path is pinned and every name
-- qualified, as for audit_append.
CREATE FUNCTION scep_pending_submit(p_profile TEXT, p_transaction TEXT, p_csr BYTEA,
    p_signer_fingerprint TEXT, p_names TEXT, p_now BIGINT)
RETURNS TABLE (pending_id BIGINT, outcome TEXT)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_id BIGINT;
    v_open BIGINT;
BEGIN
    IF p_profile IS NULL OR p_transaction IS NULL OR p_csr IS NULL
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
    INSERT INTO public.scep_pending (profile, transaction_id, csr, signer_fingerprint, names,
            status, created_at, updated_at)
        VALUES (p_profile, p_transaction, p_csr, p_signer_fingerprint, p_names, 'pending',
            p_now, p_now)
        ON CONFLICT (profile, transaction_id) DO NOTHING
        RETURNING id INTO v_id;
    IF v_id IS NULL THEN
        -- A concurrent submit of the same request won; answer with its row.
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

-- scep_pending_status: where the request with this transactionID under this profile
-- stands (no row: none). Never the CSR.
CREATE FUNCTION scep_pending_status(p_profile TEXT, p_transaction TEXT)
RETURNS TABLE (pending_id BIGINT, pending_status TEXT, pending_certificate_id BIGINT,
    pending_reason TEXT, pending_signer_fingerprint TEXT)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT p.id, p.status, p.certificate_id, p.reason, p.signer_fingerprint
    FROM public.scep_pending p
    WHERE p.profile = p_profile AND p.transaction_id = p_transaction
$$;

-- Functions are executable by PUBLIC unless revoked; roles.sql grants these to the front.
REVOKE ALL ON FUNCTION scep_pending_submit(TEXT, TEXT, BYTEA, TEXT, TEXT, BIGINT) FROM PUBLIC;
REVOKE ALL ON FUNCTION scep_pending_status(TEXT, TEXT) FROM PUBLIC;
