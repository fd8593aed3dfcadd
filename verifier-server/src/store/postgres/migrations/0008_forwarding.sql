-- 7 (as SQLite's 13): cross-province forwarding of check records (issue 14 item 4).
-- Sender side: a record about another province's certificate is queued in
-- forward_outbox (and left out of this province's evaluation); the
-- forwarder groups queued records into signed batches (forward_batches,
-- bytes kept so a re-send is identical) and retries with back-off.
CREATE TABLE forward_outbox (
    device_id BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    province BIGINT NOT NULL,
    division BIGINT NOT NULL,
    not_before BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    record BYTEA NOT NULL,
    batch TEXT,
    PRIMARY KEY (device_id, seq)
);
CREATE INDEX forward_outbox_unbatched ON forward_outbox (province) WHERE batch IS NULL;
CREATE TABLE forward_batches (
    id TEXT PRIMARY KEY,
    province BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    bytes BYTEA NOT NULL,
    records BIGINT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    last_error TEXT,
    sent_at BIGINT
);
CREATE INDEX forward_batches_due ON forward_batches (next_attempt_at) WHERE sent_at IS NULL;
-- Receiver side: batches received from other provinces (stored once per
-- sending province and batch id) and their records (once per sending
-- province, device and seq) with what this server derived.
CREATE TABLE peer_batches (
    province BIGINT NOT NULL,
    id TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    bytes BYTEA NOT NULL,
    PRIMARY KEY (province, id)
);
CREATE TABLE peer_checks (
    province BIGINT NOT NULL,
    device BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    batch TEXT NOT NULL,
    division BIGINT NOT NULL,
    not_before BIGINT NOT NULL,
    sent_received_at BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    at BIGINT NOT NULL,
    scanned TEXT,
    srv_signature BOOLEAN NOT NULL,
    srv_presentation BOOLEAN NOT NULL,
    presented BOOLEAN NOT NULL,
    srv_cert_type TEXT,
    srv_cert_number TEXT,
    srv_division BIGINT,
    srv_reason TEXT,
    PRIMARY KEY (province, device, seq)
);
CREATE INDEX peer_checks_at ON peer_checks (at);
