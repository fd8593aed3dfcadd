-- 17: applications' online verifications (issue 13 item 5), as SQLite's
-- migration 21.
CREATE TABLE app_checks (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    application_id BIGINT NOT NULL REFERENCES applications (id),
    at             BIGINT NOT NULL,
    kind           TEXT NOT NULL,
    signature      BOOLEAN NOT NULL,
    presented      BOOLEAN NOT NULL,
    presentation   BOOLEAN NOT NULL,
    cert_type      TEXT,
    number         TEXT,
    cert_division  BIGINT,
    reason         TEXT
);

CREATE INDEX app_checks_at ON app_checks (at);
