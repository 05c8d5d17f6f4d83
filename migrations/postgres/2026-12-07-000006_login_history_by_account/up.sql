-- A login's line is indexed by its account and id: an account's newest lines are its
-- highest ids, which is how the user centre reads them (`ORDER BY id DESC LIMIT 10`).
-- The (user_id, at) index held a timestamp in every entry and could not give that
-- order; every batch of the login log (every account logs in somewhere in a second's
-- batch at load) rewrote its pages.
DROP INDEX idx_login_history_user;
CREATE INDEX idx_login_history_user ON tb_login_history (user_id, id);
