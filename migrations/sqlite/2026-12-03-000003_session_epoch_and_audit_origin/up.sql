-- Every session and API token carries the epoch of its account at the time it was
-- made; raising the epoch (disable, logout everywhere, password change) ends them all.
ALTER TABLE tb_users ADD COLUMN session_epoch INTEGER NOT NULL DEFAULT 0;
-- Where an audited change came from: the client's address and the way in.
ALTER TABLE tb_audit_log ADD COLUMN ip VARCHAR(45) NOT NULL DEFAULT '';
ALTER TABLE tb_audit_log ADD COLUMN channel VARCHAR(8) NOT NULL DEFAULT '';
