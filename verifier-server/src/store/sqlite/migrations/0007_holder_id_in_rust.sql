-- 7: a version's holder is computed in Rust at insert
-- (`VersionRow::holder_id`), no longer by a generated column: business
-- rules live in the program, where both engines share them. The column
-- keeps its name; the program fills it for the versions already stored
-- right after this script, in the same transaction.
DROP INDEX certificate_versions_holder;
ALTER TABLE certificate_versions DROP COLUMN holder_id;
ALTER TABLE certificate_versions ADD COLUMN holder_id TEXT;
CREATE INDEX certificate_versions_holder ON certificate_versions (holder_id)
    WHERE holder_id IS NOT NULL;
