-- 7: training evidence files (issue 15): the file itself, addressed by its
-- SHA-256, so the dashboard can offer it for download and a reviewer can
-- check the hash a training record names.
CREATE TABLE eval_evidence_files (
    sha256       TEXT PRIMARY KEY CHECK (length(sha256) = 64),
    content_type TEXT NOT NULL,
    size         BIGINT NOT NULL CHECK (size >= 0),
    data         BYTEA NOT NULL,
    uploaded_at  BIGINT NOT NULL
);
