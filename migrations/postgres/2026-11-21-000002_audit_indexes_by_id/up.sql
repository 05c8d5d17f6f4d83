-- The audit log is read newest first (by id) under each filter; an index ending in id
-- gives those pages without sorting the whole log.
DROP INDEX idx_audit_target;
DROP INDEX idx_audit_action;
DROP INDEX idx_audit_actor;
CREATE INDEX idx_audit_target ON tb_audit_log (target_user_id, id);
CREATE INDEX idx_audit_action ON tb_audit_log (action, id);
CREATE INDEX idx_audit_actor ON tb_audit_log (actor_id, id);
