-- 13: registered applications (issue 13): other systems (运证通, platforms,
-- insurers, government systems) with their purpose, the certificate types
-- and face fields they may receive, and the public keys (JWK) they sign
-- their OAuth 2.0 client assertions with (RFC 7523 private_key_jwt). The
-- identifiers of accepted assertions are kept until they expire, so each
-- is used once.
CREATE TABLE applications (
    id                INTEGER PRIMARY KEY,
    client_id         TEXT NOT NULL UNIQUE,
    name              TEXT NOT NULL,
    purpose           TEXT NOT NULL,
    cert_types        TEXT NOT NULL,
    fields            TEXT NOT NULL,
    callback_url      TEXT,
    identity_provider INTEGER NOT NULL CHECK (identity_provider IN (0, 1)),
    created_at        INTEGER NOT NULL,
    revoked_at        INTEGER
) STRICT;

CREATE TABLE application_keys (
    application_id INTEGER NOT NULL REFERENCES applications (id),
    kid            TEXT NOT NULL,
    jwk            TEXT NOT NULL,
    added_at       INTEGER NOT NULL,
    expires_at     INTEGER,
    revoked_at     INTEGER,
    PRIMARY KEY (application_id, kid)
) STRICT;

CREATE TABLE assertion_ids (
    issuer     TEXT NOT NULL,
    jti        TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (issuer, jti)
) STRICT;

CREATE INDEX assertion_ids_expiry ON assertion_ids (expires_at);
