-- 6: the annual evaluation's administrator-entered facts (R11, R12).
CREATE TABLE eval_training (
    id          INTEGER PRIMARY KEY,
    division    INTEGER NOT NULL,
    year        INTEGER NOT NULL,
    coverage    TEXT NOT NULL CHECK (coverage IN ('full', 'partial', 'little')),
    description TEXT NOT NULL,
    entered_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX eval_training_year ON eval_training (year);
CREATE TABLE eval_training_evidence (
    training_id INTEGER NOT NULL REFERENCES eval_training (id),
    file_name   TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    description TEXT NOT NULL
) STRICT;
CREATE TABLE eval_declared (
    division   INTEGER NOT NULL,
    year       INTEGER NOT NULL,
    cert_type  TEXT NOT NULL,
    count      INTEGER NOT NULL CHECK (count >= 0),
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (division, year, cert_type)
) STRICT;
CREATE TABLE eval_complaints (
    id          INTEGER PRIMARY KEY,
    division    INTEGER NOT NULL,
    year        INTEGER NOT NULL,
    description TEXT NOT NULL,
    upheld      INTEGER NOT NULL CHECK (upheld IN (0, 1)),
    entered_at  INTEGER NOT NULL
) STRICT;
