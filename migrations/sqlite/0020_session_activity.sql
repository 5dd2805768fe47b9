-- Browser sessions (issue 19): the console's cookie is an API key labelled 'console'; one
-- unused for [login] session_idle_secs ends. STORED FORMAT: last_used_at is Unix seconds of
-- the last request the key authenticated, kept for console keys only (NULL: none yet, the
-- key's created_at counts).
ALTER TABLE api_keys ADD COLUMN last_used_at INTEGER;
