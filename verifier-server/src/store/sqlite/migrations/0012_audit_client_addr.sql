-- 12: audit rows record the client's address (issue 17): the peer, or the
-- client named by a trusted reverse proxy; NULL for command-line commands
-- and rows written before this migration.
ALTER TABLE audit ADD COLUMN client_addr TEXT;
