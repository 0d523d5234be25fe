-- Issue 12, PC-CONSENT-1/2: a patient's consent to notices, per purpose and channel ("reminders by
-- e-mail yes, by SMS no"), versioned by the consent text the patient was shown. Append-only: a
-- withdrawal is a new row, so the history of every change stays (the audit log records each one
-- too). The newest row per patient, purpose and channel is the consent in force.
CREATE TABLE consents (
    id            TEXT PRIMARY KEY NOT NULL,
    patient_id    TEXT NOT NULL,
    purpose       TEXT NOT NULL,
    channel       TEXT NOT NULL CHECK (channel IN ('sms', 'email')),
    granted       INTEGER NOT NULL CHECK (granted IN (0, 1)),
    text_version  TEXT NOT NULL,
    recorded_at   TEXT NOT NULL,
    -- Who recorded it: an audit actor id (the patient in the portal, or the console).
    recorded_by   TEXT NOT NULL,
    seq           INTEGER NOT NULL
) STRICT;

CREATE INDEX consents_current ON consents (patient_id, purpose, channel, seq);

CREATE TRIGGER consents_no_update BEFORE UPDATE ON consents
BEGIN
    SELECT RAISE(ABORT, 'consents are append-only');
END;

CREATE TRIGGER consents_no_delete BEFORE DELETE ON consents
BEGIN
    SELECT RAISE(ABORT, 'consents are append-only');
END;
