-- 2: online lookups (issue 11), as SQLite's migration 8: a device's log may
-- hold records of kind 2 (`lookup`), so the kind check is widened (the
-- partitions inherit the constraint); lookups by plate use an expression
-- index on the face's plate.
ALTER TABLE verification_records DROP CONSTRAINT verification_records_kind_check;
ALTER TABLE verification_records
    ADD CONSTRAINT verification_records_kind_check CHECK (kind IN (0, 1, 2));
CREATE INDEX certificate_versions_plate
    ON certificate_versions (((data_json::jsonb) #>> '{face,plate}'))
    WHERE ((data_json::jsonb) #>> '{face,plate}') IS NOT NULL;
