DROP TABLE tb_event_counts;
DROP TABLE tb_login_history;
DROP TABLE tb_consent;
ALTER TABLE tb_users DROP COLUMN delete_requested_at;
ALTER TABLE tb_users DROP COLUMN disabled_reason;
ALTER TABLE tb_users DROP COLUMN is_superuser;
