-- Open on use (issue #18): when each background job next needs an organisation that is closed.
-- A job visits the organisations open now and those whose row here is due, so an idle
-- organisation is not opened every round. Times are Unix seconds; 0 means "look at once" (set
-- while an organisation is open, so a crash leaves it due). No personal data: only that some
-- work of a kind is due at a moment.
CREATE TABLE org_wake (
    org_id TEXT NOT NULL REFERENCES organisations(id) ON DELETE CASCADE,
    job    TEXT NOT NULL,
    due_at INTEGER NOT NULL,
    PRIMARY KEY (org_id, job)
) STRICT, WITHOUT ROWID;

CREATE INDEX org_wake_due ON org_wake (job, due_at);

-- Every organisation that exists before this migration is looked at once by every job.
INSERT INTO org_wake (org_id, job, due_at)
SELECT o.id, j.job, 0 FROM organisations o,
    (SELECT 'notices' AS job UNION ALL SELECT 'messages' UNION ALL SELECT 'watch'
     UNION ALL SELECT 'retention' UNION ALL SELECT 'snooping') j;
