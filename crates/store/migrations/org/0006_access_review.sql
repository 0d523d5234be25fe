-- Closing the access gaps of the review (findings 1-4): per-organisation minimum assurance per
-- permission (PC-AUTHN-3), notices a person sees in their sessions (a passkey was added), and
-- self-declared care relationships flagged until a rights review attests them.

-- The organisation's own minimum login assurance for a permission (`low`, `substantial`,
-- `high`). A permission without a row uses the built-in default (the server's
-- `access::default_min_assurance`).
CREATE TABLE assurance_minimums (
    permission TEXT PRIMARY KEY NOT NULL,
    level      TEXT NOT NULL
) STRICT;

-- Security notices for a person, shown in their live sessions until acknowledged. `kind` is a
-- code (`passkey-added`), `entity` an opaque id (the passkey's row id): no personal data.
CREATE TABLE personnel_notices (
    id              TEXT PRIMARY KEY NOT NULL,
    personnel_id    TEXT NOT NULL REFERENCES personnel (id),
    kind            TEXT NOT NULL,
    entity          TEXT,
    at              TEXT NOT NULL,
    acknowledged_at TEXT
) STRICT;
CREATE INDEX personnel_notices_personnel ON personnel_notices (personnel_id);

-- A care relationship a clinician declared for themselves: short, flagged in the rights review
-- until attested, and shown to the patient as self-declared.
ALTER TABLE care_relationships ADD COLUMN self_declared INTEGER NOT NULL DEFAULT 0;
ALTER TABLE care_relationships ADD COLUMN attested_at INTEGER;
