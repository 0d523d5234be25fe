-- Issue #16: the snooping case queue. A case is one person's unexplained look at one patient's
-- data on one day (or their whole day, a spike: patient NULL), with its score and reason codes;
-- no names. The outcome is set once by the log-control role.
CREATE TABLE snoop_cases (
    id          TEXT PRIMARY KEY NOT NULL,
    day         TEXT NOT NULL,
    actor       TEXT NOT NULL,
    patient     TEXT,
    score       INTEGER NOT NULL,
    reasons     TEXT NOT NULL,
    accesses    INTEGER NOT NULL,
    created_at  TEXT NOT NULL,
    outcome     TEXT,
    outcome_by  TEXT,
    outcome_at  TEXT
) STRICT;
CREATE UNIQUE INDEX snoop_cases_once ON snoop_cases (day, actor, COALESCE(patient, ''));

CREATE TRIGGER snoop_cases_outcome_once BEFORE UPDATE ON snoop_cases
WHEN OLD.outcome IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'a case''s outcome is set once');
END;
