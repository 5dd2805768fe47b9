-- Strongroom store, SQLite dialect. Times are Unix seconds (INTEGER); DER is BLOB.
-- Keep in step with migrations/postgres/0001_initial.sql: same tables, columns, checks.

CREATE TABLE cas (
    id          TEXT PRIMARY KEY,
    parent_id   TEXT REFERENCES cas(id),
    subject     TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('active', 'retiring', 'retired')),
    not_before  INTEGER NOT NULL,
    not_after   INTEGER NOT NULL,
    cert_der    BLOB NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE TABLE profiles (
    name                TEXT PRIMARY KEY,
    issuer_id           TEXT NOT NULL REFERENCES cas(id),
    definition          TEXT NOT NULL,
    approvals_required  INTEGER NOT NULL DEFAULT 0 CHECK (approvals_required >= 0),
    version             INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
);

CREATE TABLE certificates (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    issuer_id    TEXT NOT NULL REFERENCES cas(id),
    serial       TEXT NOT NULL,
    profile      TEXT,
    subject_cn   TEXT,
    not_before   INTEGER NOT NULL,
    not_after    INTEGER NOT NULL,
    fingerprint  TEXT NOT NULL UNIQUE,
    der          BLOB NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('valid', 'revoked')),
    source       TEXT NOT NULL CHECK (source IN ('api', 'acme', 'scep', 'est', 'import')),
    owner        TEXT,
    team         TEXT,
    replaces_id  INTEGER REFERENCES certificates(id),
    created_at   INTEGER NOT NULL,
    UNIQUE (issuer_id, serial)
);
CREATE INDEX certificates_not_after ON certificates (not_after, id);
CREATE INDEX certificates_issuer ON certificates (issuer_id, id);
CREATE INDEX certificates_profile ON certificates (profile, id);
CREATE INDEX certificates_status ON certificates (status, id);
CREATE INDEX certificates_owner ON certificates (owner, id);

CREATE TABLE certificate_names (
    certificate_id  INTEGER NOT NULL REFERENCES certificates(id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    PRIMARY KEY (certificate_id, name)
);
CREATE INDEX certificate_names_name ON certificate_names (name, certificate_id);

CREATE TABLE certificate_tags (
    certificate_id  INTEGER NOT NULL REFERENCES certificates(id) ON DELETE CASCADE,
    tag             TEXT NOT NULL,
    PRIMARY KEY (certificate_id, tag)
);
CREATE INDEX certificate_tags_tag ON certificate_tags (tag, certificate_id);

CREATE TABLE revocations (
    certificate_id   INTEGER PRIMARY KEY REFERENCES certificates(id),
    reason           INTEGER NOT NULL CHECK (reason BETWEEN 0 AND 10 AND reason <> 7),
    revoked_at       INTEGER NOT NULL,
    invalidity_date  INTEGER,
    revoked_by       TEXT NOT NULL
);

CREATE TABLE users (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    username       TEXT NOT NULL UNIQUE,
    password_hash  TEXT NOT NULL,
    break_glass    INTEGER NOT NULL DEFAULT 0,
    disabled       INTEGER NOT NULL DEFAULT 0,
    created_at     INTEGER NOT NULL
);

CREATE TABLE user_roles (
    user_id  INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role     TEXT NOT NULL CHECK (role IN ('admin', 'ca-operator', 'approver', 'auditor', 'enroller')),
    PRIMARY KEY (user_id, role)
);

CREATE TABLE api_keys (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    key_id       TEXT NOT NULL UNIQUE,
    secret_hash  TEXT NOT NULL,
    owner_id     INTEGER NOT NULL REFERENCES users(id),
    roles        TEXT NOT NULL,
    expires_at   INTEGER,
    revoked_at   INTEGER,
    created_at   INTEGER NOT NULL
);

CREATE TABLE audit_head (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    seq   INTEGER NOT NULL,
    hash  TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TABLE audit_events (
    seq        INTEGER PRIMARY KEY,
    at         INTEGER NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    target     TEXT NOT NULL,
    outcome    TEXT NOT NULL CHECK (outcome IN ('ok', 'denied', 'failed')),
    detail     TEXT NOT NULL,
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL
);
CREATE INDEX audit_events_at ON audit_events (at, seq);
