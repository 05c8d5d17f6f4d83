DROP TABLE tb_audit_log;
DROP TABLE tb_oauth_qq;
DROP TABLE tb_users;
