-- Issue #15: the evidence an organisation hands its auditor (PC-DEV-1, PC-STORE-1, VC-PBD-2).

-- The organisation's retention per data class (trygg_core::retention), within the class's
-- limits; a class without a row has its default.
CREATE TABLE retention_policy (
    class      TEXT PRIMARY KEY NOT NULL,
    value      INTEGER NOT NULL CHECK (value >= 0),
    changed_at TEXT NOT NULL
) STRICT;

-- Every run of the retention job, with what it deleted per class (JSON of codes and counts).
CREATE TABLE retention_runs (
    id          TEXT PRIMARY KEY NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    counts      TEXT NOT NULL
) STRICT;
CREATE INDEX retention_runs_finished ON retention_runs (finished_at);

-- The routine checklist (REQUIREMENTS section 5): owner and document sealed.
CREATE TABLE routines (
    key             TEXT PRIMARY KEY NOT NULL,
    owner_sealed    BLOB,
    document_sealed BLOB,
    next_review     TEXT,
    changed_at      TEXT NOT NULL
) STRICT;

-- The incident register (avvik). An incident is its reference and origin; everything else is
-- in its versions, one per change, never rewritten.
CREATE TABLE incidents (
    id         TEXT PRIMARY KEY NOT NULL,
    reference  TEXT NOT NULL UNIQUE,
    year       INTEGER NOT NULL,
    number     INTEGER NOT NULL,
    source     TEXT NOT NULL,
    rule       TEXT,
    created_at TEXT NOT NULL,
    UNIQUE (year, number)
) STRICT;

CREATE TABLE incident_versions (
    incident_id   TEXT NOT NULL REFERENCES incidents (id),
    version       INTEGER NOT NULL,
    state         TEXT NOT NULL,
    occurred_at   TEXT,
    discovered_at TEXT NOT NULL,
    aware_at      TEXT NOT NULL,
    facts_sealed  BLOB NOT NULL,
    by_actor      TEXT NOT NULL,
    at            TEXT NOT NULL,
    PRIMARY KEY (incident_id, version)
) STRICT;

CREATE TRIGGER incident_versions_fixed BEFORE UPDATE ON incident_versions
BEGIN
    SELECT RAISE(ABORT, 'an incident''s versions are never rewritten; add a version');
END;

-- Deleted only with the incident, and only five years after it was closed (by the database's
-- own clock: the retention job's policy may ask for more, never less).
CREATE TRIGGER incident_versions_kept BEFORE DELETE ON incident_versions
WHEN NOT EXISTS (
    SELECT 1 FROM incident_versions v WHERE v.incident_id = OLD.incident_id AND v.state = 'closed'
    AND unixepoch('now') - unixepoch(v.at) >= 157788000)
BEGIN
    SELECT RAISE(ABORT, 'an incident is kept at least five years after it was closed');
END;

CREATE TRIGGER incidents_fixed BEFORE UPDATE ON incidents
BEGIN
    SELECT RAISE(ABORT, 'an incident''s reference and origin are fixed');
END;

-- Where the watcher of security events got to in the audit log (one row).
CREATE TABLE incident_watch (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    next_seq INTEGER NOT NULL
) STRICT;

-- An organisation that has a log already starts watching at its end: its history was before
-- the watcher, and drafts for old events would open with the 72-hour clock running from now.
INSERT INTO incident_watch (id, next_seq) SELECT 1, COALESCE(MAX(seq) + 1, 0) FROM audit_entry;
