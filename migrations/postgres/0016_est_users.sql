-- EST (RFC 7030) HTTP Basic credentials: made by control (API and CLI) for one EST label,
-- checked by the front when a client's request carries `Authorization: Basic`.
-- STORED FORMAT: password_hash is an argon2id PHC string (strongroom_httpd::password,
-- `$argon2id$v=19$m=…,t=…,p=…$salt$hash`); the password itself is never stored. The label is
-- the EST label of the URL (`/.well-known/est/<label>/…`; the one without a label is named
-- `default`): 1–64 of a-z 0-9 -. The username is what HTTP Basic carries: 1–128 visible
-- ASCII characters, no ':' (HTTP Basic splits user and password on the first ':', so a
-- username with one could never log in) and no space.
-- failures counts wrong passwords since the last success or lock; when it reaches the
-- front's limit the row is locked until locked_until and the count starts again. The
-- CHECKs repeat the store's Rust checks (crates/store/src/est_users.rs), so a row written
-- around the store is held to them too.
-- No foreign key: an EST label lives in the front's configuration, not in a table.
CREATE TABLE est_users (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    label         TEXT NOT NULL CHECK (label ~ '^[a-z0-9-]{1,64}$'),
    username      TEXT NOT NULL CHECK (username ~ '^[!-~]{1,128}$'
        AND strpos(username, ':') = 0),
    password_hash TEXT NOT NULL CHECK (length(password_hash) BETWEEN 10 AND 512
        AND starts_with(password_hash, '$argon2id$')),
    created_by    TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    failures      BIGINT NOT NULL DEFAULT 0 CHECK (failures >= 0),
    locked_until  BIGINT,
    UNIQUE (label, username)
);

-- The front's only ways to touch EST credentials (roles.sql grants it EXECUTE on these
-- three and no right on the table). Why functions and not SELECT and column UPDATE
-- grants: with SELECT a compromised front could read every user's argon2id hash in one
-- query and guess the passwords offline, at its own pace, without a single failed login
-- counted; with UPDATE it could reset or rewrite every row's counters in one statement.
-- Through the functions it can read the hash only of a (label, username) it names — as a
-- client's request does — and change one row's counters only as the rules below allow.
-- Each is SECURITY DEFINER (runs as its owner, whoever ran the migrations), with
-- search_path pinned and every name qualified, as for audit_append.

-- The one row of (p_label, p_username), or none: its id, hash and lock end.
CREATE FUNCTION est_user_lookup(p_label TEXT, p_username TEXT)
RETURNS TABLE (user_id BIGINT, user_password_hash TEXT, user_locked_until BIGINT)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF p_label IS NULL OR p_username IS NULL THEN
        RAISE EXCEPTION 'est_user_lookup: every argument is required'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    RETURN QUERY
        SELECT u.id, u.password_hash, u.locked_until
        FROM public.est_users u
        WHERE u.label = p_label AND u.username = p_username;
END
$$;

-- A wrong password for user p_id at p_now: one guarded UPDATE counts it unless the user is
-- locked now (a failure during a lock is not counted: the front refuses those before any
-- password check). When the count reaches p_max_failures the user is locked for
-- p_lock_secs and the count starts again; the new lock end is returned, NULL when this
-- failure did not lock (or the user is locked or does not exist). Two fronts failing at
-- once: READ COMMITTED makes the second wait on the row lock and re-read the count, so no
-- failure is lost and exactly one of them locks.
-- Bounds a compromised front cannot pass: 1 to 1000 failures, 1 s to 24 h of lock, and the
-- lock runs from the earlier of p_now and the database's own clock, so a far-future p_now
-- cannot lock a user for years (control's unlock ends any lock).
CREATE FUNCTION est_user_failed(p_id BIGINT, p_now BIGINT, p_max_failures BIGINT,
    p_lock_secs BIGINT)
RETURNS BIGINT
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    new_failures BIGINT;
    new_lock BIGINT;
BEGIN
    IF p_id IS NULL OR p_now IS NULL OR p_max_failures IS NULL OR p_lock_secs IS NULL THEN
        RAISE EXCEPTION 'est_user_failed: every argument is required'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF p_max_failures NOT BETWEEN 1 AND 1000 OR p_lock_secs NOT BETWEEN 1 AND 86400 THEN
        RAISE EXCEPTION 'est_user_failed: 1 to 1000 failures, a lock of 1 to 86400 seconds'
            USING ERRCODE = 'check_violation';
    END IF;
    UPDATE public.est_users u
    SET failures = CASE WHEN u.failures + 1 >= p_max_failures THEN 0 ELSE u.failures + 1 END,
        locked_until = CASE WHEN u.failures + 1 >= p_max_failures
            THEN LEAST(p_now, extract(epoch FROM now())::BIGINT) + p_lock_secs
            ELSE NULL END
    WHERE u.id = p_id AND (u.locked_until IS NULL OR u.locked_until <= p_now)
    RETURNING u.failures, u.locked_until INTO new_failures, new_lock;
    IF FOUND AND new_failures = 0 THEN
        RETURN new_lock;
    END IF;
    RETURN NULL;
END
$$;

-- The right password for user p_id: the count of failures starts again. A lock is left as
-- it is (only control's unlock or the clock ends one). Returns whether a count was cleared
-- (a row is written only then).
CREATE FUNCTION est_user_succeeded(p_id BIGINT)
RETURNS BOOLEAN
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF p_id IS NULL THEN
        RAISE EXCEPTION 'est_user_succeeded: the id is required'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    UPDATE public.est_users u SET failures = 0 WHERE u.id = p_id AND u.failures <> 0;
    RETURN FOUND;
END
$$;

-- Functions are executable by PUBLIC unless revoked; roles.sql grants these to the front.
REVOKE ALL ON FUNCTION est_user_lookup(TEXT, TEXT) FROM PUBLIC;
REVOKE ALL ON FUNCTION est_user_failed(BIGINT, BIGINT, BIGINT, BIGINT) FROM PUBLIC;
REVOKE ALL ON FUNCTION est_user_succeeded(BIGINT) FROM PUBLIC;
