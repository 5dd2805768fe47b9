-- ACME (RFC 8555) state kept by the front: nonces (shared by every front on one database),
-- accounts, external account binding keys, orders, authorizations and challenges.
-- PostgreSQL dialect; keep in step with sqlite/0005_acme.sql.

CREATE TABLE acme_nonces (
    nonce       TEXT PRIMARY KEY,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX acme_nonces_expiry ON acme_nonces (expires_at);

CREATE TABLE acme_accounts (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- RFC 7638 thumbprint of the account key (base64url SHA-256): one account per key.
    thumbprint   TEXT NOT NULL UNIQUE,
    jwk          TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('valid', 'deactivated', 'revoked')),
    -- mailto: URLs, one per line.
    contact      TEXT NOT NULL DEFAULT '',
    eab_kid      TEXT,
    created_ip   TEXT NOT NULL,
    created_at   BIGINT NOT NULL
);
CREATE INDEX acme_accounts_created_ip ON acme_accounts (created_ip, created_at);

-- External account binding keys, made through control; each binds at most one account.
CREATE TABLE acme_eab_keys (
    kid          TEXT PRIMARY KEY,
    profile      TEXT NOT NULL,
    hmac_key     BYTEA NOT NULL,
    account_id   BIGINT UNIQUE REFERENCES acme_accounts(id),
    created_by   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    bound_at     BIGINT
);

CREATE TABLE acme_orders (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id      BIGINT NOT NULL REFERENCES acme_accounts(id),
    profile         TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'ready', 'processing', 'valid', 'invalid')),
    expires_at      BIGINT NOT NULL,
    not_before      BIGINT,
    not_after       BIGINT,
    -- An RFC 8555 problem document (JSON) when the order is invalid.
    error           TEXT,
    certificate_id  BIGINT REFERENCES certificates(id),
    -- ARI (RFC 9773): the certificate this order replaces.
    replaces_id     BIGINT REFERENCES certificates(id),
    client_ip       TEXT NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE INDEX acme_orders_account ON acme_orders (account_id, id);
CREATE INDEX acme_orders_ip ON acme_orders (client_ip, created_at);
CREATE INDEX acme_orders_expiry ON acme_orders (status, expires_at);
CREATE INDEX acme_orders_certificate ON acme_orders (certificate_id);

CREATE TABLE acme_authorizations (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id          BIGINT NOT NULL REFERENCES acme_orders(id),
    account_id        BIGINT NOT NULL REFERENCES acme_accounts(id),
    identifier_type   TEXT NOT NULL CHECK (identifier_type IN ('dns', 'ip')),
    -- For a wildcard order, the name without '*.'; `wildcard` says so.
    identifier_value  TEXT NOT NULL,
    wildcard          BIGINT NOT NULL CHECK (wildcard IN (0, 1)),
    status            TEXT NOT NULL CHECK (status IN ('pending', 'valid', 'invalid', 'deactivated', 'expired', 'revoked')),
    expires_at        BIGINT NOT NULL,
    created_at        BIGINT NOT NULL
);
CREATE INDEX acme_authorizations_order ON acme_authorizations (order_id, id);
CREATE INDEX acme_authorizations_identifier ON acme_authorizations (identifier_value, created_at);

CREATE TABLE acme_challenges (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    authz_id      BIGINT NOT NULL REFERENCES acme_authorizations(id),
    kind          TEXT NOT NULL CHECK (kind IN ('http-01', 'dns-01', 'tls-alpn-01')),
    token         TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('pending', 'processing', 'valid', 'invalid')),
    validated_at  BIGINT,
    error         TEXT
);
CREATE INDEX acme_challenges_authz ON acme_challenges (authz_id, id);
