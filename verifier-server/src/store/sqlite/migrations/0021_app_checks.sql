-- 21: applications' online verifications (issue 13 item 5), the
-- evaluation's evidence of use through a registered application: what the
-- server itself established at the time (signature, holder binding, the
-- certificate), one row per verification.
CREATE TABLE app_checks (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    application_id INTEGER NOT NULL REFERENCES applications (id),
    at             INTEGER NOT NULL,
    kind           TEXT NOT NULL,
    signature      INTEGER NOT NULL,
    presented      INTEGER NOT NULL,
    presentation   INTEGER NOT NULL,
    cert_type      TEXT,
    number         TEXT,
    cert_division  INTEGER,
    reason         TEXT
) STRICT;

CREATE INDEX app_checks_at ON app_checks (at);
