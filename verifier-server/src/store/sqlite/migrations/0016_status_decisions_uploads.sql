-- 13 (issue 15): each lifecycle change kept with its decision (reason,
-- effective date, document number), shown in the certificate's history;
-- and the reports of files uploaded through the agency console.
CREATE TABLE status_changes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    cert_type TEXT NOT NULL,
    number TEXT NOT NULL,
    version INTEGER NOT NULL,
    from_status INTEGER NOT NULL,
    to_status INTEGER NOT NULL,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    reason TEXT,
    effective_date TEXT,
    document_number TEXT
);
CREATE INDEX status_changes_by_certificate ON status_changes (cert_type, number, id);
CREATE TABLE upload_reports (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    agency INTEGER,
    received_at INTEGER NOT NULL,
    file_name TEXT NOT NULL,
    summary_json TEXT NOT NULL,
    csv BLOB NOT NULL
);
