-- Strongroom store, PostgreSQL dialect. Times are Unix seconds (BIGINT); DER is BYTEA.
-- Keep in step with migrations/sqlite/0001_initial.sql: same tables, columns, checks.

CREATE TABLE cas (
    id          TEXT PRIMARY KEY,
    parent_id   TEXT REFERENCES cas(id),
    subject     TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('active', 'retiring', 'retired')),
    not_before  BIGINT NOT NULL,
    not_after   BIGINT NOT NULL,
    cert_der    BYTEA NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE profiles (
    name                TEXT PRIMARY KEY,
    issuer_id           TEXT NOT NULL REFERENCES cas(id),
    definition          TEXT NOT NULL,
    approvals_required  BIGINT NOT NULL DEFAULT 0 CHECK (approvals_required >= 0),
    version             BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL
);

CREATE TABLE certificates (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    issuer_id    TEXT NOT NULL REFERENCES cas(id),
    serial       TEXT NOT NULL,
    profile      TEXT,
    subject_cn   TEXT,
    not_before   BIGINT NOT NULL,
    not_after    BIGINT NOT NULL,
    fingerprint  TEXT NOT NULL UNIQUE,
    der          BYTEA NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('valid', 'revoked')),
    source       TEXT NOT NULL CHECK (source IN ('api', 'acme', 'scep', 'est', 'import')),
    owner        TEXT,
    team         TEXT,
    replaces_id  BIGINT REFERENCES certificates(id),
    created_at   BIGINT NOT NULL,
    UNIQUE (issuer_id, serial)
);
CREATE INDEX certificates_not_after ON certificates (not_after, id);
CREATE INDEX certificates_issuer ON certificates (issuer_id, id);
CREATE INDEX certificates_profile ON certificates (profile, id);
CREATE INDEX certificates_status ON certificates (status, id);
CREATE INDEX certificates_owner ON certificates (owner, id);

CREATE TABLE certificate_names (
    certificate_id  BIGINT NOT NULL REFERENCES certificates(id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    PRIMARY KEY (certificate_id, name)
);
CREATE INDEX certificate_names_name ON certificate_names (name, certificate_id);

CREATE TABLE certificate_tags (
    certificate_id  BIGINT NOT NULL REFERENCES certificates(id) ON DELETE CASCADE,
    tag             TEXT NOT NULL,
    PRIMARY KEY (certificate_id, tag)
);
CREATE INDEX certificate_tags_tag ON certificate_tags (tag, certificate_id);

CREATE TABLE revocations (
    certificate_id   BIGINT PRIMARY KEY REFERENCES certificates(id),
    reason           BIGINT NOT NULL CHECK (reason BETWEEN 0 AND 10 AND reason <> 7),
    revoked_at       BIGINT NOT NULL,
    invalidity_date  BIGINT,
    revoked_by       TEXT NOT NULL
);

CREATE TABLE users (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username       TEXT NOT NULL UNIQUE,
    password_hash  TEXT NOT NULL,
    break_glass    BIGINT NOT NULL DEFAULT 0,
    disabled       BIGINT NOT NULL DEFAULT 0,
    created_at     BIGINT NOT NULL
);

CREATE TABLE user_roles (
    user_id  BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role     TEXT NOT NULL CHECK (role IN ('admin', 'ca-operator', 'approver', 'auditor', 'enroller')),
    PRIMARY KEY (user_id, role)
);

CREATE TABLE api_keys (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key_id       TEXT NOT NULL UNIQUE,
    secret_hash  TEXT NOT NULL,
    owner_id     BIGINT NOT NULL REFERENCES users(id),
    roles        TEXT NOT NULL,
    expires_at   BIGINT,
    revoked_at   BIGINT,
    created_at   BIGINT NOT NULL
);

CREATE TABLE audit_head (
    id    BIGINT PRIMARY KEY CHECK (id = 1),
    seq   BIGINT NOT NULL,
    hash  TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TABLE audit_events (
    seq        BIGINT PRIMARY KEY,
    at         BIGINT NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    target     TEXT NOT NULL,
    outcome    TEXT NOT NULL CHECK (outcome IN ('ok', 'denied', 'failed')),
    detail     TEXT NOT NULL,
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL
);
CREATE INDEX audit_events_at ON audit_events (at, seq);
