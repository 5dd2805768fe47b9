-- Per-daemon PostgreSQL roles with the narrowest grants (ARCHITECTURE.md §5).
-- Run as a superuser after the migrations: strongroom-control migrate --roles.
-- The signer has no role at all: it never talks to the database.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'strongroom_control') THEN
        CREATE ROLE strongroom_control LOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'strongroom_front') THEN
        CREATE ROLE strongroom_front LOGIN;
    END IF;
END
$$;

REVOKE ALL ON ALL TABLES IN SCHEMA public FROM PUBLIC;

-- control: everything it manages, but the audit log only grows (through audit_append, below).
GRANT SELECT, INSERT, UPDATE, DELETE ON cas, profiles, certificates, certificate_names,
    certificate_tags, revocations, users, user_roles, api_keys TO strongroom_control;
GRANT SELECT ON audit_head, audit_events TO strongroom_control;

-- front: reads what protocols serve, records what it issues; no users, keys or policy.
GRANT SELECT ON cas, profiles, revocations TO strongroom_front;
GRANT SELECT, INSERT ON certificates, certificate_names, certificate_tags TO strongroom_front;
GRANT SELECT ON audit_head, audit_events TO strongroom_front;

-- approvals are control's business only.
GRANT SELECT, INSERT, UPDATE ON approval_requests, approval_decisions TO strongroom_control;

-- scheduled jobs run in control.
GRANT SELECT, INSERT, UPDATE ON jobs TO strongroom_control;

-- signed audit checkpoints: control records them; nobody rewrites them.
GRANT SELECT, INSERT ON audit_checkpoints TO strongroom_control;

-- the daemons check that the schema is current at start (they cannot migrate it).
GRANT SELECT ON _sqlx_migrations TO strongroom_control, strongroom_front;

-- revocation data: control writes CRLs and pre-signed responses; the front serves them and
-- caches a response it had signed on a miss.
GRANT SELECT, INSERT, UPDATE ON crls, ocsp_responses TO strongroom_control;
GRANT SELECT ON crls TO strongroom_front;
GRANT SELECT, INSERT, UPDATE ON ocsp_responses TO strongroom_front;

-- ACME: the front keeps its protocol state; control lists it, deactivates accounts and
-- makes external account binding keys. The front queues ACME revocations as jobs that
-- control carries out (only control may revoke, ARCHITECTURE.md §1).
GRANT SELECT, INSERT, DELETE ON acme_nonces TO strongroom_front;
GRANT SELECT, INSERT, UPDATE ON acme_accounts, acme_orders, acme_authorizations,
    acme_challenges TO strongroom_front;
GRANT SELECT, UPDATE ON acme_eab_keys TO strongroom_front;
GRANT SELECT, INSERT ON jobs TO strongroom_front;
GRANT SELECT, UPDATE ON acme_accounts, acme_orders, acme_authorizations TO strongroom_control;
GRANT SELECT ON acme_challenges TO strongroom_control;
GRANT SELECT, INSERT, UPDATE, DELETE ON acme_eab_keys TO strongroom_control;

-- reconciliation with the signer's journal is control's (crates/control/src/reconcile.rs).
GRANT SELECT, UPDATE ON journal_reconciliation TO strongroom_control;

-- client-certificate logins: bound by control only; the front has no right on this table, so
-- a certificate row it inserts (whatever its owner) never logs anyone in.
GRANT SELECT, INSERT, DELETE ON login_certificates TO strongroom_control;

-- the audit chain grows only through audit_append (migrations/postgres/0009), which takes
-- the seq and the link and computes the hash itself: neither daemon may insert an event,
-- move the head or the hash-rule switch point. The REVOKE undoes the INSERT/UPDATE grants
-- of earlier versions of this file on databases set up with them.
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON audit_head, audit_events, audit_hash_switch
    FROM strongroom_control, strongroom_front;
GRANT SELECT ON audit_hash_switch TO strongroom_control, strongroom_front;
GRANT EXECUTE ON FUNCTION audit_append(BIGINT, TEXT, TEXT, TEXT, TEXT, TEXT)
    TO strongroom_control, strongroom_front;

-- dual control: who sponsored each user (control only; rows are only added).
GRANT SELECT, INSERT ON user_sponsors TO strongroom_control;

-- one-time SCEP challenges (migrations/postgres/0012): control makes, lists and deletes them;
-- the front has no right on the table and consumes one only through
-- scep_challenge_consume, so it can use a challenge whose text a device gave it but can
-- neither read the others' hashes nor mark them used, and cannot make one.
GRANT SELECT, INSERT, DELETE ON scep_challenges TO strongroom_control;
GRANT EXECUTE ON FUNCTION scep_challenge_consume(TEXT, BYTEA, TEXT, BIGINT) TO strongroom_front;

-- signed dynamic SCEP challenges (migrations/postgres/0013): the front records a token's use
-- only through scep_dynamic_challenge_use and has no right on the table, so it can neither
-- empty the replay cache (and replay tokens) nor rewrite what it recorded; control has no
-- right on it either.
GRANT EXECUTE ON FUNCTION scep_dynamic_challenge_use(TEXT, TEXT, TEXT, BIGINT, INTEGER)
    TO strongroom_front;

-- SCEP and EST requests waiting for approval (migrations/postgres/0014, 0017): the front
-- adds one (with its scep.approve job) only through scep_pending_submit and reads where one
-- stands only
-- through scep_pending_status; it has no right on the table, so it can neither read the
-- pending CSRs (each carries its device's challengePassword) nor mark a request issued or
-- rejected. Control reads them, files their approvals and records the outcome.
GRANT SELECT, UPDATE ON scep_pending TO strongroom_control;
GRANT EXECUTE ON FUNCTION scep_pending_submit(TEXT, TEXT, TEXT, BYTEA, TEXT, TEXT, BIGINT),
    scep_pending_status(TEXT, TEXT) TO strongroom_front;

-- EST HTTP Basic credentials (migrations/postgres/0016): control makes, lists, deletes and
-- unlocks them; the front has no right on the table. It reads one user's hash only through
-- est_user_lookup, naming the label and username a client sent, and counts a failure or a
-- success only through est_user_failed and est_user_succeeded: it can neither read every
-- hash at once (and guess the passwords offline, with no failure counted) nor rewrite
-- counters, locks or passwords, nor make a user.
GRANT SELECT, INSERT, UPDATE, DELETE ON est_users TO strongroom_control;
GRANT EXECUTE ON FUNCTION est_user_lookup(TEXT, TEXT),
    est_user_failed(BIGINT, BIGINT, BIGINT, BIGINT), est_user_succeeded(BIGINT)
    TO strongroom_front;

-- The TOTP second factor (migrations/postgres/0018): control's alone; the front has no right
-- on either table. The secrets in user_totp are sealed by the signer, which alone opens them.
GRANT SELECT, INSERT, UPDATE, DELETE ON user_totp, user_recovery_codes TO strongroom_control;
