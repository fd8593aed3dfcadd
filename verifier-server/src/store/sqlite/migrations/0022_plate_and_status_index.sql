-- 22: the plate a version's face shows, a column the program fills when it
-- makes the version (VersionRow::plate), like holder_id (migration 7). The
-- index on json_extract(data_json, '$.face.plate') parsed every inserted
-- version's JSON twice (expression and predicate); lookups by plate now
-- use this column's index. Versions stored before are filled here with
-- the expression the lookup used until now.
ALTER TABLE certificate_versions ADD COLUMN plate TEXT;
UPDATE certificate_versions SET plate = json_extract(data_json, '$.face.plate');
DROP INDEX certificate_versions_plate;
CREATE INDEX certificate_versions_plate ON certificate_versions (plate)
    WHERE plate IS NOT NULL;
-- A status change finds the certificate still pointing at a status index
-- (UPDATE certificates … WHERE status_index = …): without an index that
-- was a scan of every certificate for each revocation, suspension or
-- superseded version.
CREATE INDEX certificates_status_index ON certificates (status_index);
