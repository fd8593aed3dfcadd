-- 10: retention (issue 17). Check-log records and their batches older than
-- the retention period are purged (`admin purge`, and daily in `serve`), a
-- prefix of each device's chain at a time: `log_anchors` keeps the last
-- purged record's seq and hash, so the records kept still link to it. The
-- evaluation of a year is stored in `eval_results` before its records go.
-- Deletes stay refused except inside a purge transaction, which holds a row
-- in `purge_gate` while it deletes (and removes it before committing).
CREATE TABLE log_anchors (
    device_id INTEGER PRIMARY KEY REFERENCES devices (id),
    last_seq  INTEGER NOT NULL,
    last_hash BLOB NOT NULL,
    purged_at INTEGER NOT NULL
) STRICT;
CREATE TABLE eval_results (
    year        INTEGER PRIMARY KEY,
    computed_at INTEGER NOT NULL,
    result_json TEXT NOT NULL
) STRICT;
CREATE TABLE purge_gate (open INTEGER NOT NULL) STRICT;
DROP TRIGGER verification_records_no_delete;
CREATE TRIGGER verification_records_no_delete BEFORE DELETE ON verification_records
    WHEN NOT EXISTS (SELECT 1 FROM purge_gate)
    BEGIN SELECT RAISE(ABORT, 'verification records are append-only'); END;
DROP TRIGGER verification_batches_no_delete;
CREATE TRIGGER verification_batches_no_delete BEFORE DELETE ON verification_batches
    WHEN NOT EXISTS (SELECT 1 FROM purge_gate)
    BEGIN SELECT RAISE(ABORT, 'verification batches are append-only'); END;
CREATE INDEX verification_records_device_at ON verification_records (device_id, at);
CREATE INDEX verification_batches_device ON verification_batches (device_id, last_seq);
