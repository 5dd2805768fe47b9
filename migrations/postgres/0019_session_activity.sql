-- Browser sessions (issue 19); see migrations/sqlite/0020_session_activity.sql.
ALTER TABLE api_keys ADD COLUMN last_used_at BIGINT;
