-- 3: holders, device keys, key overlap windows (holders, rotation).
-- A certificate's holder: the face's ID number (person certificates) or
-- credit code (permits); for vehicles, the owner's credit code or ID
-- number as pushed in the record's `uscc` / `id_number` fields.
ALTER TABLE certificate_versions ADD COLUMN holder_id TEXT GENERATED ALWAYS AS (
    coalesce(
        json_extract(data_json, '$.face.id_number'),
        json_extract(data_json, '$.face.uscc'),
        CASE WHEN json_extract(data_json, '$.face.family') = 'vehicle' THEN coalesce(
            upper(trim(json_extract(record_json, '$.uscc'))),
            upper(trim(json_extract(record_json, '$.id_number')))
        ) END
    )
) VIRTUAL;
CREATE INDEX certificate_versions_holder ON certificate_versions (holder_id)
    WHERE holder_id IS NOT NULL;

CREATE TABLE holder_devices (
    holder_id     TEXT NOT NULL,
    alg           TEXT NOT NULL,
    public_key    BLOB NOT NULL,
    registered_at INTEGER NOT NULL,
    PRIMARY KEY (holder_id, public_key)
) STRICT;

CREATE TABLE key_overlap (
    kid          TEXT PRIMARY KEY REFERENCES keys (kid),
    listed_until INTEGER NOT NULL
) STRICT;
