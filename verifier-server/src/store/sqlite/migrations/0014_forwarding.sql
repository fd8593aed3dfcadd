-- 13: cross-province forwarding of check records (issue 14 item 4).
-- Sender side: a record about another province's certificate is queued in
-- forward_outbox (and left out of this province's evaluation); the
-- forwarder groups queued records into signed batches (forward_batches,
-- bytes kept so a re-send is identical) and retries with back-off.
CREATE TABLE forward_outbox (
    device_id INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    province INTEGER NOT NULL,
    division INTEGER NOT NULL,
    not_before INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    record BLOB NOT NULL,
    batch TEXT,
    PRIMARY KEY (device_id, seq)
);
CREATE INDEX forward_outbox_unbatched ON forward_outbox (province) WHERE batch IS NULL;
CREATE TABLE forward_batches (
    id TEXT PRIMARY KEY,
    province INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    bytes BLOB NOT NULL,
    records INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error TEXT,
    sent_at INTEGER
);
CREATE INDEX forward_batches_due ON forward_batches (next_attempt_at) WHERE sent_at IS NULL;
-- Receiver side: batches received from other provinces (stored once per
-- sending province and batch id) and their records (once per sending
-- province, device and seq) with what this server derived.
CREATE TABLE peer_batches (
    province INTEGER NOT NULL,
    id TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    bytes BLOB NOT NULL,
    PRIMARY KEY (province, id)
);
CREATE TABLE peer_checks (
    province INTEGER NOT NULL,
    device INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    batch TEXT NOT NULL,
    division INTEGER NOT NULL,
    not_before INTEGER NOT NULL,
    sent_received_at INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    at INTEGER NOT NULL,
    scanned TEXT,
    srv_signature INTEGER NOT NULL,
    srv_presentation INTEGER NOT NULL,
    presented INTEGER NOT NULL,
    srv_cert_type TEXT,
    srv_cert_number TEXT,
    srv_division INTEGER,
    srv_reason TEXT,
    PRIMARY KEY (province, device, seq)
);
CREATE INDEX peer_checks_at ON peer_checks (at);
