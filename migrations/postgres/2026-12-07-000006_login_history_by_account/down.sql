DROP INDEX idx_login_history_user;
CREATE INDEX idx_login_history_user ON tb_login_history (user_id, at);
