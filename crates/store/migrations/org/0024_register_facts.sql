-- Facts from the population register (Folkeregisteret) that explanation-based log control
-- compares (issue #16, PC-ACL-1): who lives where, who is whose next of kin, who has a
-- protected address or is a public figure, and which of the staff are patients too. Each is
-- sealed under the organisation's key like any personal data (a fresh nonce per cell, so
-- nobody with the database alone can see which people share an address or a kinship); the
-- detector opens them inside its logged unit and compares keyed hashes made in memory.
ALTER TABLE patients ADD COLUMN address_sealed BLOB;
ALTER TABLE patients ADD COLUMN protection_sealed BLOB;
ALTER TABLE patients ADD COLUMN kin_sealed BLOB;
ALTER TABLE personnel ADD COLUMN nid_sealed BLOB;
ALTER TABLE personnel ADD COLUMN address_sealed BLOB;
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
