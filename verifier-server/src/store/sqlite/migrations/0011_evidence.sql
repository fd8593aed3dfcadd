-- 11: the evaluation's evidence model (issue 12): it reads the records a
-- batch that arrived in the year carried (whatever their device time), and
-- each device's batches in order bound the time of its later records.
CREATE INDEX verification_batches_received ON verification_batches (received_at);
CREATE INDEX verification_batches_device_id ON verification_batches (device_id, id);
CREATE INDEX verification_records_batch ON verification_records (batch_id);
