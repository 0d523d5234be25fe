-- Access control (PC-ACL-1, PC-ACL-2): role grants with time limits, care relationships (need to
-- know), emergency access, and rights reviews. Times are Unix seconds.
--
-- The grants table is the authorisation register (guide risk scenario 15): every grant, change
-- and revocation is kept, and a trigger refuses to delete a record until five years after it
-- stopped being in force.

ALTER TABLE personnel ADD COLUMN employment_end INTEGER;

-- Roles the organisation defines itself. Built-in roles (doctor, nurse, ...) are not stored:
-- their permissions are fixed in trygg-core (`access::builtin_permissions`).
CREATE TABLE roles (
    name        TEXT PRIMARY KEY NOT NULL,
    permissions TEXT NOT NULL
) STRICT;

CREATE TABLE grants (
    id            TEXT PRIMARY KEY NOT NULL,
    personnel_id  TEXT NOT NULL REFERENCES personnel (id),
    role          TEXT NOT NULL,
    valid_from    INTEGER NOT NULL,
    valid_to      INTEGER,
    granted_by    TEXT NOT NULL,
    granted_at    INTEGER NOT NULL,
    revoked_at    INTEGER,
    revoked_by    TEXT,
    revoke_reason TEXT
) STRICT;
CREATE INDEX grants_personnel ON grants (personnel_id);

CREATE TRIGGER grants_kept_five_years BEFORE DELETE ON grants
WHEN (CASE WHEN OLD.revoked_at IS NULL THEN OLD.valid_to
           WHEN OLD.valid_to IS NULL THEN OLD.revoked_at
           ELSE min(OLD.revoked_at, OLD.valid_to) END) IS NULL
  OR unixepoch('now') - (CASE WHEN OLD.revoked_at IS NULL THEN OLD.valid_to
           WHEN OLD.valid_to IS NULL THEN OLD.revoked_at
           ELSE min(OLD.revoked_at, OLD.valid_to) END) < 157788000
BEGIN
    SELECT RAISE(ABORT, 'authorisation records are kept for at least five years');
END;

CREATE TRIGGER grants_history_is_fixed BEFORE UPDATE OF id, personnel_id, role, valid_from, granted_by, granted_at ON grants
BEGIN
    SELECT RAISE(ABORT, 'a grant''s history cannot be rewritten; revoke it and grant anew');
END;

CREATE TABLE care_relationships (
    id           TEXT PRIMARY KEY NOT NULL,
    personnel_id TEXT NOT NULL REFERENCES personnel (id),
    patient_id   TEXT NOT NULL REFERENCES patients (id),
    reason       TEXT NOT NULL,
    valid_from   INTEGER NOT NULL,
    valid_to     INTEGER NOT NULL,
    created_by   TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    ended_at     INTEGER
) STRICT;
CREATE INDEX care_personnel ON care_relationships (personnel_id);

CREATE TABLE emergency_access (
    id             TEXT PRIMARY KEY NOT NULL,
    personnel_id   TEXT NOT NULL REFERENCES personnel (id),
    patient_id     TEXT NOT NULL REFERENCES patients (id),
    reason_sealed  BLOB NOT NULL,
    at             INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    reviewed_by    TEXT,
    reviewed_at    INTEGER,
    review_outcome TEXT
) STRICT;
CREATE INDEX emergency_personnel ON emergency_access (personnel_id);

CREATE TABLE rights_reviews (
    id          TEXT PRIMARY KEY NOT NULL,
    reviewer_id TEXT NOT NULL,
    reviewed_at INTEGER NOT NULL,
    result      TEXT NOT NULL,
    grants_seen INTEGER NOT NULL
) STRICT;

-- Everyone registered before grants existed keeps their role as an open-ended grant.
INSERT INTO grants (id, personnel_id, role, valid_from, granted_by, granted_at)
SELECT lower(hex(randomblob(16))), id, role, unixepoch(created_at), 'migration', unixepoch('now')
FROM personnel;
