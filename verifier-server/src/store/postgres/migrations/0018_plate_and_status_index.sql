-- 18: the plate a version's face shows, a column the program fills when it
-- makes the version (VersionRow::plate), as SQLite's migration 22. The
-- expression index cast every inserted version's data_json to jsonb twice
-- (expression and predicate): a third of the time of a push's version
-- inserts. Versions stored before are filled with the expression the
-- lookup used until now.
ALTER TABLE certificate_versions ADD COLUMN plate TEXT;
UPDATE certificate_versions SET plate = (data_json::jsonb) #>> '{face,plate}';
DROP INDEX certificate_versions_plate;
CREATE INDEX certificate_versions_plate ON certificate_versions (plate)
    WHERE plate IS NOT NULL;
-- A status change finds the certificate still pointing at a status index
-- (UPDATE certificates … WHERE status_index = …): without an index that
-- was a scan of every certificate for each revocation, suspension or
-- superseded version.
CREATE INDEX certificates_status_index ON certificates (status_index);
