-- 16: the certificate change feed (issue 13 item 4), as SQLite's
-- migration 20: the id (an identity column) is the feed's cursor; writers
-- take a transaction-level advisory lock before inserting, so ids commit
-- in the order they were handed out and a reader never skips one.
CREATE TABLE cert_changes (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at              BIGINT NOT NULL,
    kind            TEXT NOT NULL,
    cert_type       TEXT,
    number          TEXT,
    version         INTEGER,
    status          TEXT,
    holder_id       TEXT,
    issuer_division BIGINT,
    grant_id        BIGINT
);

CREATE TABLE webhook_outbox (
    application_id  BIGINT PRIMARY KEY REFERENCES applications (id),
    cursor          BIGINT NOT NULL,
    delivered       BIGINT NOT NULL,
    scanned         BIGINT NOT NULL,
    attempts        BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    last_error      TEXT
);

CREATE INDEX webhook_outbox_due ON webhook_outbox (next_attempt_at);
