-- Issue 11, VC-ENC-2: whether this organisation requires end-to-end encryption of call media.
-- No row: the deployment's default (`e2ee_required`, true unless the operator turned it off).
-- One row at most. No personal data.
CREATE TABLE media_policy (
    id             INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    e2ee_required  INTEGER NOT NULL CHECK (e2ee_required IN (0, 1)),
    updated_at     TEXT NOT NULL,
    updated_by     TEXT NOT NULL
) STRICT;
