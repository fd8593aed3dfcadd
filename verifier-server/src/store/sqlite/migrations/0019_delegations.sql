-- 19: vehicle certificates used by drivers (issue 13 item 6): an owner
-- delegates a YSZ/WYY to a driver for a period; each delegated copy is a
-- certificate of its own (own status index, bound to the driver's phone),
-- so the status list counts its status like a version's. Revoked
-- delegations are kept (revoked_at), never deleted.
CREATE TABLE delegations (
    id          INTEGER PRIMARY KEY,
    owner_id    TEXT NOT NULL,
    cert_type   TEXT NOT NULL,
    number      TEXT NOT NULL,
    driver_id   TEXT NOT NULL,
    driver_name TEXT NOT NULL,
    valid_from  INTEGER NOT NULL,
    valid_until INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER,
    CHECK (valid_from <= valid_until)
) STRICT;

CREATE INDEX delegations_owner ON delegations (owner_id);
CREATE INDEX delegations_driver ON delegations (driver_id);

CREATE TABLE delegated_copies (
    status_index  INTEGER PRIMARY KEY,
    delegation_id INTEGER NOT NULL REFERENCES delegations (id),
    source_index  INTEGER NOT NULL,
    status        INTEGER NOT NULL,
    signed        BLOB NOT NULL,
    device_key    BLOB NOT NULL,
    issued_at     INTEGER NOT NULL
) STRICT;

CREATE INDEX delegated_copies_delegation ON delegated_copies (delegation_id);
CREATE INDEX delegated_copies_source ON delegated_copies (source_index);
