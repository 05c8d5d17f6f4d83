-- Issue 17: what each account accepted, how it logged in, operators' roles, why an
-- account was disabled, a requested closing, and the daily counts the dashboard draws.
ALTER TABLE tb_users ADD COLUMN is_superuser BOOLEAN NOT NULL DEFAULT 0;
ALTER TABLE tb_users ADD COLUMN disabled_reason VARCHAR(256) NOT NULL DEFAULT '';
ALTER TABLE tb_users ADD COLUMN delete_requested_at TIMESTAMP;
-- Every operator so far was made by createsuperuser.
UPDATE tb_users SET is_superuser = 1 WHERE is_staff = 1;

CREATE TABLE tb_consent (
    id          INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    user_id     INTEGER NOT NULL REFERENCES tb_users (id) ON DELETE CASCADE,
    document    VARCHAR(16) NOT NULL CHECK (document IN ('terms', 'privacy')),
    version     VARCHAR(32) NOT NULL,
    accepted_at TIMESTAMP NOT NULL,
    ip          VARCHAR(45) NOT NULL DEFAULT '',
    user_agent  VARCHAR(256) NOT NULL DEFAULT '',
    -- where it was given: register, bind, link, interstitial, api
    context     VARCHAR(16) NOT NULL DEFAULT ''
);
CREATE INDEX idx_consent_user ON tb_consent (user_id, document, accepted_at);

CREATE TABLE tb_login_history (
    id         INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    user_id    INTEGER NOT NULL REFERENCES tb_users (id) ON DELETE CASCADE,
    -- password, sms, qq, wechat, weibo, api
    method     VARCHAR(16) NOT NULL,
    at         TIMESTAMP NOT NULL,
    ip         VARCHAR(45) NOT NULL DEFAULT '',
    user_agent VARCHAR(256) NOT NULL DEFAULT ''
);
CREATE INDEX idx_login_history_user ON tb_login_history (user_id, at);
CREATE INDEX idx_login_history_at ON tb_login_history (at);

CREATE TABLE tb_event_counts (
    day   DATE NOT NULL,
    event VARCHAR(48) NOT NULL,
    n     BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (day, event)
);

-- The accounts made before consents were recorded accepted version 1.0 when they
-- registered or bound (the pages said so): recorded as such, so a new version asks them
-- too.
INSERT INTO tb_consent (user_id, document, version, accepted_at, context)
    SELECT id, 'terms', '1.0', date_joined, 'migrated' FROM tb_users;
INSERT INTO tb_consent (user_id, document, version, accepted_at, context)
    SELECT id, 'privacy', '1.0', date_joined, 'migrated' FROM tb_users;
