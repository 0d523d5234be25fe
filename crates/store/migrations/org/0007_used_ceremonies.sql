-- Issue 17: a passkey login's ceremony token is accepted once. The server keeps no ceremony
-- state between start and finish (the state travels sealed with the client); once the user is
-- known, the finish records the token's random id here, and a replay conflicts on the key.
-- `expires_at` (unix seconds) is the token's own expiry: rows past it are dropped, since an
-- expired token opens nowhere anyway. No personal data.
CREATE TABLE used_ceremonies (
    id         TEXT PRIMARY KEY NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;
