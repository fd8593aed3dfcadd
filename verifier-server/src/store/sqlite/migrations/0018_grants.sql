-- 14: consent (issue 13): a holder's grant to a registered application
-- (chosen certificates, a purpose, a period) or an issuing agency's
-- authorisation of a government system for its division's certificates by
-- type. Revoked grants are kept (revoked_at), never deleted.
CREATE TABLE grants (
    id             INTEGER PRIMARY KEY,
    application_id INTEGER NOT NULL REFERENCES applications (id),
    holder_id      TEXT,
    division       INTEGER,
    purpose        TEXT NOT NULL,
    valid_from     INTEGER NOT NULL,
    valid_until    INTEGER NOT NULL,
    created_at     INTEGER NOT NULL,
    created_by     INTEGER NOT NULL,
    revoked_at     INTEGER,
    CHECK ((holder_id IS NULL) <> (division IS NULL))
) STRICT;

CREATE INDEX grants_holder ON grants (holder_id);
CREATE INDEX grants_division ON grants (division);
CREATE INDEX grants_application ON grants (application_id);

-- A certificate (number) or, with number NULL, every certificate of a type.
CREATE TABLE grant_items (
    grant_id  INTEGER NOT NULL REFERENCES grants (id),
    cert_type TEXT NOT NULL,
    number    TEXT
) STRICT;

CREATE INDEX grant_items_grant ON grant_items (grant_id);
