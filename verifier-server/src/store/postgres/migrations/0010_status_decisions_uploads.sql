-- 7 (issue 15), as SQLite's migration 13: each lifecycle change kept with
-- its decision (reason, effective date, document number), shown in the
-- certificate's history; and the reports of files uploaded through the
-- agency console.
CREATE TABLE status_changes (
    id BIGSERIAL PRIMARY KEY,
    cert_type TEXT NOT NULL,
    number TEXT NOT NULL,
    version BIGINT NOT NULL,
    from_status BIGINT NOT NULL,
    to_status BIGINT NOT NULL,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    reason TEXT,
    effective_date TEXT,
    document_number TEXT
);
CREATE INDEX status_changes_by_certificate ON status_changes (cert_type, number, id);
CREATE TABLE upload_reports (
    id BIGSERIAL PRIMARY KEY,
    agency BIGINT,
    received_at BIGINT NOT NULL,
    file_name TEXT NOT NULL,
    summary_json TEXT NOT NULL,
    csv BYTEA NOT NULL
);
