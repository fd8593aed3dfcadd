-- 9: token lifetimes and rotation (issue 17). Every token expires; a
-- rotation gives it a new secret while the replaced one keeps working for an
-- overlap (prev_hash, prev_expires_at); the last use is recorded at most once
-- a minute. Tokens issued before this migration get their role's default
-- lifetime counted from the upgrade (admin 8 hours, holder 30 days, officer
-- 1 year, agency and auditor 90 days), so nothing stops working at once.
ALTER TABLE tokens ADD COLUMN expires_at INTEGER NOT NULL DEFAULT 0;
UPDATE tokens SET expires_at = unixepoch() + CASE role
    WHEN 'admin' THEN 28800
    WHEN 'holder' THEN 2592000
    WHEN 'officer' THEN 31536000
    ELSE 7776000 END;
ALTER TABLE tokens ADD COLUMN last_used_at INTEGER;
ALTER TABLE tokens ADD COLUMN prev_hash BLOB;
ALTER TABLE tokens ADD COLUMN prev_expires_at INTEGER;
ALTER TABLE tokens ADD COLUMN rotated_at INTEGER;
CREATE UNIQUE INDEX tokens_prev_hash ON tokens (prev_hash) WHERE prev_hash IS NOT NULL;
