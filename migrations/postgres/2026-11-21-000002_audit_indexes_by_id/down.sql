DROP INDEX idx_audit_target;
DROP INDEX idx_audit_action;
DROP INDEX idx_audit_actor;
CREATE INDEX idx_audit_target ON tb_audit_log (target_user_id, created_at);
CREATE INDEX idx_audit_action ON tb_audit_log (action, created_at);
CREATE INDEX idx_audit_actor ON tb_audit_log (actor_id, created_at);
