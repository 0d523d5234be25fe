-- The control database: what is not personal data. One row per organisation, with its data key
-- wrapped by the master key (PC-VENDOR-4: no table here holds personal data).
CREATE TABLE organisations (
    id          TEXT PRIMARY KEY NOT NULL,
    slug        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    wrapped_key BLOB NOT NULL,
    key_version INTEGER NOT NULL DEFAULT 1,
    created_at  TEXT NOT NULL
) STRICT;

CREATE TABLE api_tokens (
    id          TEXT PRIMARY KEY NOT NULL,
    label       TEXT NOT NULL,
    token_hash  TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL,
    revoked_at  TEXT
) STRICT;
