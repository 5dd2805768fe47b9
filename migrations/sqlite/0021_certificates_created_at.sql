-- The console's issuance-per-day chart (issue 19) counts certificates by the day they were
-- recorded: a range over this index, never a table scan, at a million certificates.
CREATE INDEX certificates_created_at ON certificates (created_at);
