-- Dual control that cannot be bypassed: who brought each user in. The user who created an
-- account and everyone who granted it roles are its sponsors; a sponsor's pending approval
-- requests are not that user's to approve (an admin cannot create a helper and have it
-- approve the admin's own requests). Rows are only ever added.
CREATE TABLE user_sponsors (
    user_id    BIGINT NOT NULL REFERENCES users(id),
    sponsor    TEXT NOT NULL,
    at         BIGINT NOT NULL,
    PRIMARY KEY (user_id, sponsor)
);

-- Every decision says why.
ALTER TABLE approval_decisions ADD COLUMN comment TEXT NOT NULL DEFAULT '';
