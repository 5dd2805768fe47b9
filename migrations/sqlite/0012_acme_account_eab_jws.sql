-- The external account binding JWS a newAccount carried (flattened JSON: protected,
-- payload, signature), reflected in the account object (RFC 8555 §7.1.2). NULL for an
-- account made without one, or before this column existed.
ALTER TABLE acme_accounts ADD COLUMN eab_jws TEXT;
