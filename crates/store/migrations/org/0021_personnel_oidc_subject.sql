-- Issue 13: the subject a person has at the deployment's own OpenID provider (an organisation's
-- Entra ID), by which that login finds them. Kept only as a keyed hash of issuer and subject.
ALTER TABLE personnel ADD COLUMN oidc_subject_hash TEXT;
CREATE UNIQUE INDEX personnel_oidc_subject ON personnel (oidc_subject_hash)
    WHERE oidc_subject_hash IS NOT NULL;
