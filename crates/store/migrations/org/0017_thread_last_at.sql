-- Issue 12 (throughput): a thread's last activity follows its messages in the database itself,
-- one statement less in every post (a unit of work holds the organisation's one write connection
-- while it runs; bench/RESULTS.md, "Messages through the API"). And a message belongs to its
-- thread's patient, whatever a caller binds.
CREATE TRIGGER messages_thread_last_at AFTER INSERT ON messages
BEGIN
    UPDATE threads SET last_at = NEW.created_at WHERE id = NEW.thread_id;
END;

CREATE TRIGGER messages_thread_patient BEFORE INSERT ON messages
WHEN (SELECT patient_id FROM threads WHERE id = NEW.thread_id) IS NOT NEW.patient_id
BEGIN
    SELECT RAISE(ABORT, 'a message belongs to its thread''s patient');
END;
