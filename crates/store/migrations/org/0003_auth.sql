-- Personnel login: passkeys, enrolment links, sessions and per-account login throttling
-- (VC-AUTH-3, VC-DEV-2, PC-AUTHN-1). No column here holds a name or contact data. Secrets
-- (session cookies, enrolment tokens) are kept only as keyed hashes (HMAC under the
-- organisation's lookup key); a passkey is sealed like personal data, so a public key swapped in
-- the file does not open.

-- One row per person who can log in: the WebAuthn user handle (its first 8 bytes are the
-- organisation id's first 8 bytes, so a discoverable login finds its organisation) and the
-- account's failed-login state (see the server's `auth::lockout`).
CREATE TABLE login_accounts (
    personnel_id  TEXT PRIMARY KEY NOT NULL REFERENCES personnel (id),
    user_handle   TEXT NOT NULL UNIQUE,
    failures      INTEGER NOT NULL DEFAULT 0,
    window_start  TEXT,
    locked_until  TEXT,
    lock_level    INTEGER NOT NULL DEFAULT 0,
    created_at    TEXT NOT NULL
) STRICT;

CREATE TABLE passkeys (
    id             TEXT PRIMARY KEY NOT NULL,
    personnel_id   TEXT NOT NULL REFERENCES personnel (id),
    credential_id  TEXT NOT NULL UNIQUE,
    passkey_sealed BLOB NOT NULL,
    created_at     TEXT NOT NULL,
    last_used_at   TEXT
) STRICT;
CREATE INDEX passkeys_personnel ON passkeys (personnel_id);

-- Single-use, short-lived links that let one person register a passkey. `personnel_id` NULL: the
-- link creates the organisation's first administrator.
CREATE TABLE enrolment_links (
    id            TEXT PRIMARY KEY NOT NULL,
    token_hash    TEXT NOT NULL UNIQUE,
    personnel_id  TEXT REFERENCES personnel (id),
    issued_by     TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    used_at       TEXT,
    revoked_at    TEXT
) STRICT;
CREATE INDEX enrolment_links_personnel ON enrolment_links (personnel_id);

-- Login sessions. `method` and `assurance` are how the person authenticated (PC-AUTHN-1).
CREATE TABLE sessions (
    id            TEXT PRIMARY KEY NOT NULL,
    secret_hash   TEXT NOT NULL UNIQUE,
    personnel_id  TEXT NOT NULL REFERENCES personnel (id),
    method        TEXT NOT NULL,
    assurance     TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    last_seen_at  TEXT NOT NULL,
    ended_at      TEXT,
    end_reason    TEXT
) STRICT;
CREATE INDEX sessions_personnel ON sessions (personnel_id);
