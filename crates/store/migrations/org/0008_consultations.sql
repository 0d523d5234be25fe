-- Issue 10: planned video consultations and their invitations (VC-CONF-1, VC-INFO-2/3,
-- VC-INT-1, VC-LOG-2). No column holds a name or contact data: a participant is a personnel or
-- patient id, and the roster reads their names from those registers. An invitation's token is
-- kept only as a keyed hash (HMAC under the organisation's lookup key), like an enrolment link.

-- `kind`: one-to-one, group, clinician-only, with-interpreter, multi-professional.
-- `state`: scheduled, ended, cancelled (a consultation in progress is a live room, not a row).
CREATE TABLE consultations (
    id          TEXT PRIMARY KEY NOT NULL,
    kind        TEXT NOT NULL,
    -- The patient the consultation is about (a participant unless it is clinician-only).
    patient_id  TEXT NOT NULL REFERENCES patients (id),
    starts_at   TEXT NOT NULL,
    minutes     INTEGER NOT NULL CHECK (minutes BETWEEN 5 AND 480),
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    state       TEXT NOT NULL DEFAULT 'scheduled',
    ended_at    TEXT,
    ended_by    TEXT,
    -- The draft journal note of an ended consultation (VC-LOG-1), sealed: it names the
    -- participants. NULL until the end.
    journal_sealed BLOB
) STRICT;
CREATE INDEX consultations_starts ON consultations (starts_at);

-- One row per planned participant. `number` is the room's participant id (`p<number>`).
-- `role`: patient, clinician, interpreter, companion, other-personnel. Exactly one of
-- `personnel_id` and `patient_id` is set.
CREATE TABLE consultation_participants (
    id               TEXT PRIMARY KEY NOT NULL,
    consultation_id  TEXT NOT NULL REFERENCES consultations (id),
    number           INTEGER NOT NULL,
    role             TEXT NOT NULL,
    host             INTEGER NOT NULL DEFAULT 0,
    personnel_id     TEXT REFERENCES personnel (id),
    patient_id       TEXT REFERENCES patients (id),
    token_hash       TEXT NOT NULL UNIQUE,
    invited_at       TEXT NOT NULL,
    expires_at       TEXT NOT NULL,
    revoked_at       TEXT,
    UNIQUE (consultation_id, number),
    CHECK ((personnel_id IS NULL) <> (patient_id IS NULL))
) STRICT;
CREATE INDEX consultation_participants_consultation ON consultation_participants (consultation_id);
CREATE INDEX consultation_participants_personnel ON consultation_participants (personnel_id);
CREATE INDEX consultation_participants_patient ON consultation_participants (patient_id);
