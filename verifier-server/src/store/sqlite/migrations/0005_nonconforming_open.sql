-- 5: a conforming push resolves correction-list entries by type and
-- number (any agency); without this index every issued record scanned
-- the whole table.
CREATE INDEX nonconforming_open ON nonconforming (cert_type, number) WHERE resolved_at IS NULL;
