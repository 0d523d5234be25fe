-- Issue 13: organisation-owned devices at a fixed place (VC-DEV-1/2, VC-AUTH-4). A row is made
-- when an administrator issues an enrolment code (kept only as a keyed hash, cleared when used);
-- the device's browser then registers its public key (an uncompressed P-256 point) with the
-- code. The place's label is sealed (it may say whose home). A device bound to a patient stands
-- in for that patient's identity at their consultations. Revocation is final.
CREATE TABLE devices (
    id              TEXT PRIMARY KEY NOT NULL,
    label_sealed    BLOB NOT NULL,
    patient_id      TEXT REFERENCES patients (id),
    code_hash       TEXT UNIQUE,
    code_expires_at TEXT NOT NULL,
    issued_by       TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    public_key      BLOB,
    enrolled_at     TEXT,
    last_used_at    TEXT,
    revoked_at      TEXT,
    revoked_by      TEXT
) STRICT;

-- A registered key never changes, and a revoked device stays revoked.
CREATE TRIGGER devices_key_fixed BEFORE UPDATE OF public_key, enrolled_at ON devices
WHEN OLD.public_key IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'a device''s key is fixed once registered');
END;
CREATE TRIGGER devices_revocation_final BEFORE UPDATE ON devices
WHEN OLD.revoked_at IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'a revoked device stays revoked');
END;
