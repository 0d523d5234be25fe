-- What the confidentiality guard needs to know about an organisation's own outbound messages:
-- its neutral sender name, its own phone numbers and web domains (JSON). Not personal data.
ALTER TABLE organisations ADD COLUMN messaging TEXT NOT NULL DEFAULT '{}';
