-- One organisation's own database (PC-VENDOR-4). Columns ending in `_sealed` hold AES-256-GCM
-- ciphertext whose AAD binds organisation, table, column and row; `nid_hash` is an HMAC of the
-- national identity number under the organisation's lookup key.
CREATE TABLE patients (
    id           TEXT PRIMARY KEY NOT NULL,
    nid_hash     TEXT NOT NULL UNIQUE,
    nid_sealed   BLOB NOT NULL,
    name_sealed  BLOB NOT NULL,
    phone_sealed BLOB,
    email_sealed BLOB,
    created_at   TEXT NOT NULL
) STRICT;

CREATE TABLE personnel (
    id           TEXT PRIMARY KEY NOT NULL,
    name_sealed  BLOB NOT NULL,
    email_sealed BLOB,
    role         TEXT NOT NULL,
    employment   TEXT NOT NULL,
    created_at   TEXT NOT NULL
) STRICT;
