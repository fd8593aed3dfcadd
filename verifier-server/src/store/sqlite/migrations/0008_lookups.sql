-- 8: online lookups (issue 11): a device's log may hold records of kind 2
-- (`lookup`), so the kind check is widened (SQLite cannot alter a CHECK: the
-- table is rebuilt, its index and append-only triggers with it; DROP TABLE
-- fires no triggers). Lookups by plate use an index on the face's plate.
CREATE TABLE verification_records_v8 (
    device_id        INTEGER NOT NULL REFERENCES devices (id),
    seq              INTEGER NOT NULL,
    hash             BLOB NOT NULL,
    prev             BLOB NOT NULL,
    at               INTEGER NOT NULL,
    kind             INTEGER NOT NULL CHECK (kind IN (0, 1, 2)),
    verdict          TEXT,
    reason           TEXT,
    cert_type        TEXT,
    cert_number      TEXT,
    cert_version     INTEGER,
    scanned          TEXT,
    status_seq       INTEGER,
    trust_seq        INTEGER,
    warnings         TEXT,
    data_age         INTEGER,
    check_seq        INTEGER,
    accepted         INTEGER,
    note             TEXT,
    srv_signature    INTEGER,
    srv_presentation INTEGER,
    srv_cert_type    TEXT,
    srv_cert_number  TEXT,
    srv_cert_version INTEGER,
    srv_division     INTEGER,
    srv_reason       TEXT,
    batch_id         INTEGER NOT NULL REFERENCES verification_batches (id),
    PRIMARY KEY (device_id, seq)
) STRICT, WITHOUT ROWID;
INSERT INTO verification_records_v8 SELECT * FROM verification_records;
DROP TABLE verification_records;
ALTER TABLE verification_records_v8 RENAME TO verification_records;
CREATE INDEX verification_records_cert
    ON verification_records (srv_cert_type, srv_cert_number) WHERE srv_signature = 1;
CREATE TRIGGER verification_records_no_update BEFORE UPDATE ON verification_records
    BEGIN SELECT RAISE(ABORT, 'verification records are append-only'); END;
CREATE TRIGGER verification_records_no_delete BEFORE DELETE ON verification_records
    BEGIN SELECT RAISE(ABORT, 'verification records are append-only'); END;
CREATE INDEX certificate_versions_plate
    ON certificate_versions (json_extract(data_json, '$.face.plate'))
    WHERE json_extract(data_json, '$.face.plate') IS NOT NULL;
