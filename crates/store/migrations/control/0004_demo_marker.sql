-- Organisations seeded by `trygg demo`: the only ones its developer login offers or accepts
-- (review finding 7). Set by the demo seeding only; never by the API.
ALTER TABLE organisations ADD COLUMN demo INTEGER NOT NULL DEFAULT 0;
