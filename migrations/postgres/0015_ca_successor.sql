-- The CA that takes over from a CA (issue 17: SCEP's GetNextCACert hands devices the
-- successor before the rollover). Set by control; NULL while none is named. The front's
-- SELECT on cas covers the new column.
ALTER TABLE cas ADD COLUMN successor_id TEXT REFERENCES cas(id);
