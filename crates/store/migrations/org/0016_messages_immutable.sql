-- Issue 12 (review): a filed message's authorship side and retention date cannot change either,
-- and no attachment can be added to it afterwards (PC-RIGHTS-2).
DROP TRIGGER messages_filed_immutable;
CREATE TRIGGER messages_filed_immutable BEFORE UPDATE ON messages
WHEN OLD.filed_at IS NOT NULL AND (
    NEW.body_sealed IS NOT OLD.body_sealed OR NEW.author IS NOT OLD.author
    OR NEW.from_patient IS NOT OLD.from_patient OR NEW.expires_at IS NOT OLD.expires_at
    OR NEW.created_at IS NOT OLD.created_at OR NEW.thread_id IS NOT OLD.thread_id
    OR NEW.patient_id IS NOT OLD.patient_id OR NEW.filed_at IS NOT OLD.filed_at
    OR NEW.filed_by IS NOT OLD.filed_by OR NEW.deleted_at IS NOT OLD.deleted_at)
BEGIN
    SELECT RAISE(ABORT, 'a message filed to the journal cannot be changed');
END;

CREATE TRIGGER attachments_filed_no_insert BEFORE INSERT ON attachments
WHEN (SELECT filed_at FROM messages WHERE id = NEW.message_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'a filed message takes no new attachment');
END;
