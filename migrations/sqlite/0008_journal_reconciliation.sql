-- How far control has compared the signer's journal with the inventory: the sequence
-- number of the last journal record it looked at. One row, moved forward in the
-- transaction that records what the comparison found missing.
CREATE TABLE journal_reconciliation (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    after_seq INTEGER NOT NULL CHECK (after_seq >= 0)
);
INSERT INTO journal_reconciliation (id, after_seq) VALUES (1, 0);
