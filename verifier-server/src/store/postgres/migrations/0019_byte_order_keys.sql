-- 19: certificate keys compare byte by byte (COLLATE "C"), as SQLite's
-- BINARY collation does, whatever locale the database was created with.
-- Both engines then order certificates the same way (ORDER BY cert_type,
-- number), and a key comparison in the certificates' and versions'
-- indexes is a memcmp, not a locale-aware strcoll: that comparison was
-- the largest single cost of the server's share of a push.
--
-- Migration 18's index on certificates (status_index) duplicated the one
-- its UNIQUE constraint already makes; it only slowed every insert.
DROP INDEX certificates_status_index;
ALTER TABLE certificate_versions
    DROP CONSTRAINT certificate_versions_cert_type_number_fkey;
ALTER TABLE certificates
    ALTER COLUMN cert_type TYPE TEXT COLLATE "C",
    ALTER COLUMN number TYPE TEXT COLLATE "C";
ALTER TABLE certificate_versions
    ALTER COLUMN cert_type TYPE TEXT COLLATE "C",
    ALTER COLUMN number TYPE TEXT COLLATE "C",
    ALTER COLUMN holder_id TYPE TEXT COLLATE "C",
    ALTER COLUMN plate TYPE TEXT COLLATE "C",
    ADD FOREIGN KEY (cert_type, number) REFERENCES certificates (cert_type, number)
        DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE nonconforming
    ALTER COLUMN cert_type TYPE TEXT COLLATE "C",
    ALTER COLUMN number TYPE TEXT COLLATE "C";
ALTER TABLE status_changes
    ALTER COLUMN cert_type TYPE TEXT COLLATE "C",
    ALTER COLUMN number TYPE TEXT COLLATE "C";
