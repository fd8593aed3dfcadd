-- 2: each agency's last push (R4: resumable pushes, overdue agencies).
CREATE TABLE agency_pushes (
    division     INTEGER PRIMARY KEY,
    last_push_at INTEGER NOT NULL,
    records      INTEGER NOT NULL
) STRICT;
