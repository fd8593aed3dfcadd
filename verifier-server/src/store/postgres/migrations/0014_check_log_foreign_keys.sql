-- The check-log records' foreign keys to devices and batches go. Making a
-- monthly partition clones them, which takes SHARE ROW EXCLUSIVE locks on
-- `devices` and `verification_batches` while holding the check-log table:
-- an upload that had already written its batch row and then waited for the
-- check-log table closed a deadlock (found by the ingest benchmark, four
-- devices at once: answered 503; the conformance case
-- `partitions_outside_requests` reproduces it without this migration).
-- The service writes a batch's records in the same transaction as the
-- batch row, after authenticating its device, and records are never
-- updated or deleted except by the purge (append-only trigger), so the keys
-- guarded nothing the code does not; they also cost two index probes and a
-- row lock per inserted record.
ALTER TABLE verification_records
    DROP CONSTRAINT IF EXISTS verification_records_device_id_fkey,
    DROP CONSTRAINT IF EXISTS verification_records_batch_id_fkey;
