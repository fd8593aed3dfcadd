-- 4: officer devices and their uploaded check logs (R10, R12): each
-- record once per (device, seq), the signed batches kept as evidence.
CREATE TABLE devices (
    id          INTEGER PRIMARY KEY,
    kid         TEXT NOT NULL UNIQUE,
    alg         TEXT NOT NULL,
    public_key  BLOB NOT NULL,
    token_id    INTEGER NOT NULL REFERENCES tokens (id),
    division    INTEGER NOT NULL,
    label       TEXT NOT NULL,
    enrolled_at INTEGER NOT NULL,
    revoked_at  INTEGER,
    next_seq    INTEGER NOT NULL DEFAULT 0,
    head        BLOB NOT NULL
) STRICT;
CREATE INDEX devices_token ON devices (token_id);

CREATE TABLE verification_batches (
    id          INTEGER PRIMARY KEY,
    device_id   INTEGER NOT NULL REFERENCES devices (id),
    received_at INTEGER NOT NULL,
    first_seq   INTEGER NOT NULL,
    last_seq    INTEGER NOT NULL,
    bytes       BLOB NOT NULL
) STRICT;

CREATE TABLE verification_records (
    device_id        INTEGER NOT NULL REFERENCES devices (id),
    seq              INTEGER NOT NULL,
    hash             BLOB NOT NULL,
    prev             BLOB NOT NULL,
    at               INTEGER NOT NULL,
    kind             INTEGER NOT NULL CHECK (kind IN (0, 1)),
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
CREATE INDEX verification_records_cert
    ON verification_records (srv_cert_type, srv_cert_number) WHERE srv_signature = 1;
CREATE TRIGGER verification_records_no_update BEFORE UPDATE ON verification_records
    BEGIN SELECT RAISE(ABORT, 'verification records are append-only'); END;
CREATE TRIGGER verification_records_no_delete BEFORE DELETE ON verification_records
    BEGIN SELECT RAISE(ABORT, 'verification records are append-only'); END;
CREATE TRIGGER verification_batches_no_update BEFORE UPDATE ON verification_batches
    BEGIN SELECT RAISE(ABORT, 'verification batches are append-only'); END;
CREATE TRIGGER verification_batches_no_delete BEFORE DELETE ON verification_batches
    BEGIN SELECT RAISE(ABORT, 'verification batches are append-only'); END;
