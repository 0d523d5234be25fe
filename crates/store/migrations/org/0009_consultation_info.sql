-- Issue 10, VC-INFO-1: the organisation's information text about video consultation and how
-- health and personal data are processed in it, one per language (nb, nn, en), shown on the
-- pre-join page. No personal data. A language without a row shows Trygg's built-in text.
CREATE TABLE consultation_info (
    lang        TEXT PRIMARY KEY NOT NULL CHECK (lang IN ('nb', 'nn', 'en')),
    text        TEXT NOT NULL CHECK (length(text) BETWEEN 1 AND 8000),
    updated_at  TEXT NOT NULL,
    updated_by  TEXT NOT NULL
) STRICT;
