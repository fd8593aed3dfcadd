-- 4: retention (issue 17), as SQLite's migration 10. Check-log records and
-- their batches older than the retention period are purged a prefix of each
-- device's chain at a time; `log_anchors` keeps the last purged record's seq
-- and hash so the records kept still link to it; a year's evaluation is
-- stored in `eval_results` before its records go. Deletes stay refused
-- except in a purge transaction (`SET LOCAL lnec.purge = 'on'`); updates and
-- TRUNCATE are always refused.
CREATE TABLE log_anchors (
    device_id BIGINT PRIMARY KEY REFERENCES devices (id),
    last_seq  BIGINT NOT NULL,
    last_hash BYTEA NOT NULL,
    purged_at BIGINT NOT NULL
);
CREATE TABLE eval_results (
    year        INTEGER PRIMARY KEY,
    computed_at BIGINT NOT NULL,
    result_json TEXT NOT NULL
);
CREATE FUNCTION refuse_change_unless_purging() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('lnec.purge', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
END;
$$;
DROP TRIGGER verification_records_append_only ON verification_records;
CREATE TRIGGER verification_records_append_only BEFORE UPDATE OR DELETE ON verification_records
    FOR EACH ROW EXECUTE FUNCTION refuse_change_unless_purging();
DROP TRIGGER verification_batches_append_only ON verification_batches;
CREATE TRIGGER verification_batches_append_only BEFORE UPDATE OR DELETE ON verification_batches
    FOR EACH ROW EXECUTE FUNCTION refuse_change_unless_purging();
CREATE INDEX verification_records_device_at ON verification_records (device_id, at);
CREATE INDEX verification_batches_device ON verification_batches (device_id, last_seq);
