-- Issue 13: a patient's login session in the portal (ID-porten). As personnel sessions: the
-- secret only as a keyed hash, how the patient authenticated (method, assurance: PC-AUTHN-1), and
-- its end. Kept apart from personnel sessions so a patient's session can never be taken for a
-- staff member's.
CREATE TABLE patient_sessions (
    id            TEXT PRIMARY KEY NOT NULL,
    secret_hash   TEXT NOT NULL UNIQUE,
    patient_id    TEXT NOT NULL REFERENCES patients (id),
    method        TEXT NOT NULL,
    assurance     TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    last_seen_at  TEXT NOT NULL,
    ended_at      TEXT,
    end_reason    TEXT
) STRICT;
CREATE INDEX patient_sessions_patient ON patient_sessions (patient_id);
