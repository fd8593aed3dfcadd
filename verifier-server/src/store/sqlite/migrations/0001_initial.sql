-- 1: keys, lists, certificates, the correction list, tokens, the audit log.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE keys (
    kid               TEXT PRIMARY KEY,
    role              TEXT NOT NULL CHECK (role IN ('root', 'issuer')),
    alg               TEXT NOT NULL,
    public_key        BLOB NOT NULL,
    not_before        INTEGER NOT NULL,
    not_after         INTEGER,
    state             INTEGER NOT NULL CHECK (state IN (0, 1, 2)),
    compromised_since INTEGER,
    file              TEXT NOT NULL
) STRICT;

CREATE TABLE authorities (
    division INTEGER PRIMARY KEY,
    uscc     TEXT NOT NULL,
    name     TEXT NOT NULL
) STRICT;

CREATE TABLE list_state (
    list       TEXT PRIMARY KEY CHECK (list IN ('trust', 'status')),
    seq        INTEGER NOT NULL,
    issued_at  INTEGER NOT NULL,
    next_index INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE status_steps (
    seq       INTEGER PRIMARY KEY,
    issued_at INTEGER NOT NULL,
    delta     BLOB NOT NULL
) STRICT;

CREATE TABLE certificates (
    cert_type       TEXT NOT NULL,
    number          TEXT NOT NULL,
    version         INTEGER NOT NULL,
    status          INTEGER NOT NULL,
    status_index    INTEGER NOT NULL UNIQUE,
    issuer_division INTEGER NOT NULL,
    issued_at       INTEGER NOT NULL,
    PRIMARY KEY (cert_type, number)
) STRICT;

CREATE TABLE certificate_versions (
    cert_type       TEXT NOT NULL,
    number          TEXT NOT NULL,
    version         INTEGER NOT NULL,
    status_index    INTEGER NOT NULL UNIQUE,
    status          INTEGER NOT NULL CHECK (status BETWEEN 0 AND 3),
    record_json     TEXT NOT NULL,
    data_json       TEXT NOT NULL,
    signed          BLOB NOT NULL,
    identifier      TEXT,
    issued_at       INTEGER NOT NULL,
    issuer_division INTEGER NOT NULL,
    PRIMARY KEY (cert_type, number, version),
    FOREIGN KEY (cert_type, number) REFERENCES certificates (cert_type, number)
        DEFERRABLE INITIALLY DEFERRED
) STRICT;
CREATE INDEX certificate_versions_non_valid ON certificate_versions (status) WHERE status != 0;

CREATE TABLE nonconforming (
    agency       INTEGER NOT NULL,
    cert_type    TEXT NOT NULL,
    number       TEXT NOT NULL,
    reasons_json TEXT NOT NULL,
    record_json  TEXT NOT NULL,
    first_seen   INTEGER NOT NULL,
    last_seen    INTEGER NOT NULL,
    resolved_at  INTEGER,
    PRIMARY KEY (agency, cert_type, number)
) STRICT;

CREATE TABLE tokens (
    id         INTEGER PRIMARY KEY,
    hash       BLOB NOT NULL UNIQUE,
    role       TEXT NOT NULL,
    division   INTEGER,
    subject    TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
) STRICT;

CREATE TABLE audit (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    ts       INTEGER NOT NULL,
    token_id INTEGER REFERENCES tokens (id),
    role     TEXT,
    action   TEXT NOT NULL,
    target   TEXT NOT NULL,
    outcome  TEXT NOT NULL
) STRICT;
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
