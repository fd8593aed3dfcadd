-- 20: the certificate change feed (issue 13 item 4): every new version,
-- status change and grant revocation in the order of its id (the feed's
-- cursor; AUTOINCREMENT never hands an id out twice), and each
-- application's webhook outbox row (the newest cursor to announce, the
-- newest acknowledged, the back-off).
CREATE TABLE cert_changes (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    at              INTEGER NOT NULL,
    kind            TEXT NOT NULL,
    cert_type       TEXT,
    number          TEXT,
    version         INTEGER,
    status          TEXT,
    holder_id       TEXT,
    issuer_division INTEGER,
    grant_id        INTEGER
) STRICT;

CREATE TABLE webhook_outbox (
    application_id  INTEGER PRIMARY KEY REFERENCES applications (id),
    cursor          INTEGER NOT NULL,
    delivered       INTEGER NOT NULL,
    scanned         INTEGER NOT NULL,
    attempts        INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT
) STRICT;

CREATE INDEX webhook_outbox_due ON webhook_outbox (next_attempt_at);
