-- Issue 12: the transactional outbox of notices (SMS and e-mail) to patients. A notice is
-- queued in the same unit of work as the event that causes it, and a worker delivers it with
-- retries. Its id, with the organisation's slug, is the idempotency key the gateway or mail
-- server sees, so a repeated attempt (after a crash between sending and recording) is delivered
-- once. Recipient, subject and text are sealed; status columns hold codes only, never content.
CREATE TABLE notices (
    id                TEXT PRIMARY KEY NOT NULL,
    patient_id        TEXT,
    channel           TEXT NOT NULL CHECK (channel IN ('sms', 'email')),
    kind              TEXT NOT NULL,
    recipient_sealed  BLOB NOT NULL,
    subject_sealed    BLOB,
    body_sealed       BLOB NOT NULL,
    sender            TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN
                        ('queued', 'sending', 'sent', 'delivered', 'undeliverable', 'dead')),
    attempts          INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    -- When the next attempt may start (queued), or when a worker's lease ends (sending).
    next_at           TEXT NOT NULL,
    -- Why the last attempt failed: a code from `trygg_app::notices`, never the gateway's text.
    last_error        TEXT,
    gateway_id        TEXT,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL
) STRICT;

CREATE INDEX notices_due ON notices (status, next_at);
CREATE INDEX notices_patient ON notices (patient_id, created_at);
