-- Audit hash rule 2 (crates/types/src/audit.rs, docs/store.md). STORED FORMAT: which rule
-- each event's hash follows, and the one switch point between the rules, are part of the
-- chain; never rewrite them.
--
-- Events already in the chain keep rule 1 (hash_version 1). The switch point is the head as
-- this migration finds it: rule 1 is valid up to it, rule 2 after it, and every rule-2 hash
-- covers it. SQLite has no roles: anyone who can write this file can rewrite any row (the
-- signed checkpoints catch that); the triggers below stop an older binary or a mistake, not
-- an attacker. Table-level separation needs PostgreSQL (migrations/postgres/0009).
ALTER TABLE audit_events ADD COLUMN hash_version INTEGER NOT NULL DEFAULT 1
    CHECK (hash_version IN (1, 2));

CREATE TABLE audit_hash_switch (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    v1_through INTEGER NOT NULL CHECK (v1_through >= 0)
);
INSERT INTO audit_hash_switch (id, v1_through) SELECT 1, seq FROM audit_head WHERE id = 1;

-- An older binary inserts without hash_version (so 1) and a rule-1 hash: refused loudly,
-- instead of a chain that stops verifying.
CREATE TRIGGER audit_events_rule_2_only BEFORE INSERT ON audit_events
WHEN NEW.hash_version IS NOT 2
BEGIN
    SELECT RAISE(ABORT, 'audit events are hashed under rule 2 since migration 10');
END;

CREATE TRIGGER audit_hash_switch_fixed_update BEFORE UPDATE ON audit_hash_switch
BEGIN
    SELECT RAISE(ABORT, 'the audit hash switch point never moves');
END;
CREATE TRIGGER audit_hash_switch_fixed_delete BEFORE DELETE ON audit_hash_switch
BEGIN
    SELECT RAISE(ABORT, 'the audit hash switch point never moves');
END;
