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
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    label         TEXT NOT NULL CHECK (length(label) BETWEEN 1 AND 64
        AND label NOT GLOB '*[^a-z0-9-]*'),
    username      TEXT NOT NULL CHECK (length(username) BETWEEN 1 AND 128
        AND username NOT GLOB '*[^!-9;-~]*'),
    password_hash TEXT NOT NULL CHECK (length(password_hash) BETWEEN 10 AND 512
        AND substr(password_hash, 1, 10) = '$argon2id$'),
    created_by    TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    failures      INTEGER NOT NULL DEFAULT 0 CHECK (failures >= 0),
    locked_until  INTEGER,
    UNIQUE (label, username)
);
