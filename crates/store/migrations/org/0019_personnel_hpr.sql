-- Issue 13: a person's HPR number (the health personnel register), by which a HelseID login
-- finds them. Kept only as a keyed hash: the login needs to find the person, never to read the
-- number back.
ALTER TABLE personnel ADD COLUMN hpr_hash TEXT;
CREATE UNIQUE INDEX personnel_hpr ON personnel (hpr_hash) WHERE hpr_hash IS NOT NULL;
