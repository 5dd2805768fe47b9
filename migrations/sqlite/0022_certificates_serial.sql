-- Search by serial alone (issue 19: the console's and the API's `serial` filter). The
-- UNIQUE (issuer_id, serial) index serves a serial only under its issuer.
CREATE INDEX certificates_serial ON certificates (serial);
