-- Issue 12: secure message threads between a patient and the care team (PC-READ-1, PC-STORE-1,
-- PC-RIGHTS-2, PC-AVAIL-1), the follow-up tasks personnel work through (an unread message, a
-- notice that could not be delivered), and two-way SMS about an appointment. Subjects, bodies,
-- attachment names and contents are sealed with the organisation's key; no column in the clear
-- holds content. A message's content is deleted when its retention runs out (the row stays as
-- the trace that it existed; the audit log records the deletion) unless it was filed to the
-- journal, which makes it immutable.
CREATE TABLE threads (
    id              TEXT PRIMARY KEY NOT NULL,
    patient_id      TEXT NOT NULL REFERENCES patients (id),
    subject_sealed  BLOB,
    created_by      TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    last_at         TEXT NOT NULL
) STRICT;
CREATE INDEX threads_patient ON threads (patient_id, last_at);

-- `author`: an audit actor id (`personnel:<uuid>` or `patient:<uuid>`). `read_at`: when the other
-- side first read it (the patient for personnel's messages, any of the care team for the
-- patient's): the read receipt. `notified`: the channel of the notice queued with it, if any.
-- `escalated`: what its escalation did (`notice-sms`, `notice-email` or `task`).
CREATE TABLE messages (
    id            TEXT PRIMARY KEY NOT NULL,
    thread_id     TEXT NOT NULL REFERENCES threads (id),
    patient_id    TEXT NOT NULL,
    author        TEXT NOT NULL,
    from_patient  INTEGER NOT NULL CHECK (from_patient IN (0, 1)),
    body_sealed   BLOB,
    created_at    TEXT NOT NULL,
    read_at       TEXT,
    read_by       TEXT,
    notified      TEXT,
    escalate_at   TEXT,
    escalated     TEXT,
    filed_at      TEXT,
    filed_by      TEXT,
    expires_at    TEXT NOT NULL,
    deleted_at    TEXT,
    CHECK (deleted_at IS NULL OR filed_at IS NULL)
) STRICT;
CREATE INDEX messages_thread ON messages (thread_id, created_at);
CREATE INDEX messages_expiry ON messages (expires_at) WHERE deleted_at IS NULL AND filed_at IS NULL;
CREATE INDEX messages_escalation ON messages (escalate_at)
    WHERE read_at IS NULL AND escalated IS NULL AND deleted_at IS NULL;

CREATE TABLE attachments (
    id            TEXT PRIMARY KEY NOT NULL,
    message_id    TEXT NOT NULL REFERENCES messages (id),
    media_type    TEXT NOT NULL,
    size          INTEGER NOT NULL,
    name_sealed   BLOB,
    data_sealed   BLOB
) STRICT;
CREATE INDEX attachments_message ON attachments (message_id);

-- PC-RIGHTS-2: a message filed to the journal is part of the record: its content, author, time
-- and filing cannot change and it cannot be deleted (read receipts and escalation may still be
-- recorded on it). Its attachments likewise.
CREATE TRIGGER messages_filed_immutable BEFORE UPDATE ON messages
WHEN OLD.filed_at IS NOT NULL AND (
    NEW.body_sealed IS NOT OLD.body_sealed OR NEW.author IS NOT OLD.author
    OR NEW.created_at IS NOT OLD.created_at OR NEW.thread_id IS NOT OLD.thread_id
    OR NEW.patient_id IS NOT OLD.patient_id OR NEW.filed_at IS NOT OLD.filed_at
    OR NEW.filed_by IS NOT OLD.filed_by OR NEW.deleted_at IS NOT OLD.deleted_at)
BEGIN
    SELECT RAISE(ABORT, 'a message filed to the journal cannot be changed');
END;

CREATE TRIGGER messages_filed_no_delete BEFORE DELETE ON messages
WHEN OLD.filed_at IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'a message filed to the journal cannot be deleted');
END;

CREATE TRIGGER attachments_filed_immutable BEFORE UPDATE ON attachments
WHEN (SELECT filed_at FROM messages WHERE id = OLD.message_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'an attachment of a filed message cannot be changed');
END;

CREATE TRIGGER attachments_filed_no_delete BEFORE DELETE ON attachments
WHEN (SELECT filed_at FROM messages WHERE id = OLD.message_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'an attachment of a filed message cannot be deleted');
END;

-- Follow-up tasks for personnel (PC-READ-1; a KRR reservation or a notice that could not be
-- delivered): phone the patient or send a letter. `reason` is a code, never content.
CREATE TABLE tasks (
    id          TEXT PRIMARY KEY NOT NULL,
    patient_id  TEXT NOT NULL,
    reason      TEXT NOT NULL,
    message_id  TEXT,
    notice_id   TEXT,
    created_at  TEXT NOT NULL,
    done_at     TEXT,
    done_by     TEXT
) STRICT;
CREATE INDEX tasks_open ON tasks (done_at, created_at);
CREATE UNIQUE INDEX tasks_once_per_notice ON tasks (notice_id) WHERE notice_id IS NOT NULL;
CREATE UNIQUE INDEX tasks_once_per_message ON tasks (message_id) WHERE message_id IS NOT NULL;

-- A two-way notice (an appointment change) names the consultation it is about, so that the
-- patient's JA or NEI reaches it; `answered` records that it was answered (`yes` or `no`), once.
ALTER TABLE notices ADD COLUMN regarding TEXT;
ALTER TABLE notices ADD COLUMN answered TEXT;
ALTER TABLE consultations ADD COLUMN confirmed_at TEXT;
