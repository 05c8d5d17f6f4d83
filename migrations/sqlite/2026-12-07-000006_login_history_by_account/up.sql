-- A login's line is indexed by its account alone: an account's newest lines are the
-- highest ids (the index ends in the row id), which is how the user centre reads them.
-- The (user_id, at) index held a timestamp in every entry: three times the pages, each
-- of them rewritten by every batch of the login log (every account logs in somewhere in
-- a second's batch at load).
DROP INDEX idx_login_history_user;
CREATE INDEX idx_login_history_user ON tb_login_history (user_id);
