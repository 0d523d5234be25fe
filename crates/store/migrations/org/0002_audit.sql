-- The organisation's tamper-evident audit log (trygg-audit's storage contract). `salt` and
-- `event` are set to NULL together at retention end; `commitment` and `root_after` stay, so the
-- tree still verifies. `patient` and `recorded` are lookup copies of fields inside `event`,
-- re-checked against the decoded event whenever they are used.
CREATE TABLE audit_entry (
    seq         INTEGER PRIMARY KEY NOT NULL,
    commitment  BLOB NOT NULL,
    salt        BLOB,
    event       BLOB,
    root_after  BLOB NOT NULL,
    patient     TEXT,
    recorded    INTEGER NOT NULL
) STRICT;
CREATE INDEX audit_entry_patient ON audit_entry (patient, seq);

CREATE TABLE audit_node (
    level INTEGER NOT NULL,
    idx   INTEGER NOT NULL,
    hash  BLOB NOT NULL,
    PRIMARY KEY (level, idx)
) STRICT;

CREATE TABLE audit_checkpoint (
    tree_size INTEGER PRIMARY KEY NOT NULL,
    text      TEXT NOT NULL
) STRICT;
