-- The latest signed audit checkpoint of each organisation, kept outside the organisation's own
-- database so that cutting the newest entries together with their checkpoints is detected.
CREATE TABLE audit_heads (
    org_id     TEXT PRIMARY KEY NOT NULL REFERENCES organisations (id),
    tree_size  INTEGER NOT NULL,
    checkpoint TEXT NOT NULL
) STRICT;
