-- 13: outage reports (§5.3): an agency's fault period and its re-push
-- deadline, two working days after the fault ends (issue 15).
CREATE TABLE agency_outages (
    id              INTEGER PRIMARY KEY,
    division        INTEGER NOT NULL,
    fault_from      INTEGER NOT NULL,
    fault_until     INTEGER NOT NULL,
    reason          TEXT NOT NULL,
    repush_deadline INTEGER NOT NULL,
    reported_at     INTEGER NOT NULL,
    CHECK (fault_until > fault_from)
) STRICT;
CREATE INDEX agency_outages_division ON agency_outages (division, fault_from);
