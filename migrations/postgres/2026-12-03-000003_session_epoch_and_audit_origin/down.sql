ALTER TABLE tb_audit_log DROP COLUMN channel;
ALTER TABLE tb_audit_log DROP COLUMN ip;
ALTER TABLE tb_users DROP COLUMN session_epoch;
