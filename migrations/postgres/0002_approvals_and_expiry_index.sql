-- Two-person integrity (approval requests and decisions) and the index behind the
-- "valid and expiring before T" count. PostgreSQL dialect; keep in step with sqlite/.

CREATE INDEX certificates_status_not_after ON certificates (status, not_after);

CREATE TABLE approval_requests (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind          TEXT NOT NULL,
    payload       TEXT NOT NULL,
    requested_by  TEXT NOT NULL,
    required      BIGINT NOT NULL CHECK (required >= 1),
    state         TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'rejected', 'expired')),
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL
);
CREATE INDEX approval_requests_state ON approval_requests (state, id);

CREATE TABLE approval_decisions (
    request_id  BIGINT NOT NULL REFERENCES approval_requests(id),
    approver    TEXT NOT NULL,
    decision    TEXT NOT NULL CHECK (decision IN ('approve', 'reject')),
    at          BIGINT NOT NULL,
    PRIMARY KEY (request_id, approver)
);
