-- Issue 12, PC-CONF-1: when the confidentiality guard held a notice for review, who confirmed it
-- (an audit actor id) and, sealed, the reason they gave. The audit log records that a person
-- confirmed; the reason, their own words, is kept here with the notice, not in the log.
ALTER TABLE notices ADD COLUMN reviewed_by TEXT;
ALTER TABLE notices ADD COLUMN review_reason_sealed BLOB;
