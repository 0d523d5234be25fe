-- Facts from the population register (Folkeregisteret) that explanation-based log control
-- compares (issue #16, PC-ACL-1): who lives where, who is whose next of kin, who has a
-- protected address or is a public figure, and which of the staff are patients too. Only keyed
-- hashes (HMAC under the organisation's key, like `patients.nid_hash`) are stored: the detector
-- compares them and nobody can read an address or a kinship back out of them.
ALTER TABLE patients ADD COLUMN address_hash TEXT;
ALTER TABLE patients ADD COLUMN protection TEXT NOT NULL DEFAULT 'none'
    CHECK (protection IN ('none', 'confidential', 'strictly-confidential', 'public-figure'));
ALTER TABLE personnel ADD COLUMN nid_hash TEXT;
ALTER TABLE personnel ADD COLUMN address_hash TEXT;
CREATE INDEX personnel_nid ON personnel (nid_hash);
CREATE TABLE next_of_kin (
    patient_id TEXT NOT NULL REFERENCES patients (id),
    nid_hash   TEXT NOT NULL,
    PRIMARY KEY (patient_id, nid_hash)
) STRICT;
-- The detector reads a day and the 60 days before it, by time.
CREATE INDEX audit_entry_recorded ON audit_entry (recorded);
-- The days log control has judged (the nightly job catches up missed days from it).
CREATE TABLE snoop_runs (
    day         TEXT PRIMARY KEY NOT NULL,
    at          TEXT NOT NULL,
    explained   INTEGER NOT NULL,
    unexplained INTEGER NOT NULL,
    cases       INTEGER NOT NULL
) STRICT;
