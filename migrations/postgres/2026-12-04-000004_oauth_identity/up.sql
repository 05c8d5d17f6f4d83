-- One table of external identities (QQ, WeChat, Weibo) replaces tb_oauth_qq; every QQ
-- binding moves across with its account and the time it was made. Ids compare in byte
-- order (COLLATE "C"), as on SQLite: the operators' prefix searches are ranges.
CREATE TABLE tb_oauth_identity (
    id            SERIAL PRIMARY KEY,
    provider      VARCHAR(16) NOT NULL CHECK (provider IN ('qq', 'wechat', 'weibo')),
    openid        VARCHAR(64) COLLATE "C" NOT NULL CHECK (length(openid) BETWEEN 1 AND 64),
    -- the same person across the apps of one provider account (QQ, WeChat); NULL if unknown
    unionid       VARCHAR(64) COLLATE "C" CHECK (unionid IS NULL OR length(unionid) BETWEEN 1 AND 64),
    user_id       INTEGER NOT NULL REFERENCES tb_users (id) ON DELETE CASCADE,
    nickname      VARCHAR(64)  NOT NULL DEFAULT '',
    avatar_url    VARCHAR(512) NOT NULL DEFAULT '',
    bound_at      TIMESTAMP NOT NULL,
    last_login_at TIMESTAMP,
    -- one account per identity
    UNIQUE (provider, openid),
    -- one identity of each provider per account
    UNIQUE (provider, user_id)
);
CREATE INDEX idx_identity_unionid ON tb_oauth_identity (provider, unionid);
CREATE INDEX idx_identity_user ON tb_oauth_identity (user_id);
INSERT INTO tb_oauth_identity (provider, openid, unionid, user_id, bound_at, last_login_at)
    SELECT 'qq', openid, NULL, user_id, created_at, NULL FROM tb_oauth_qq ORDER BY id;
DROP TABLE tb_oauth_qq;
