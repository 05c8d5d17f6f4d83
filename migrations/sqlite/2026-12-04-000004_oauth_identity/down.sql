CREATE TABLE tb_oauth_qq (
    id         INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    user_id    INTEGER NOT NULL UNIQUE REFERENCES tb_users (id) ON DELETE CASCADE,
    openid     VARCHAR(64) NOT NULL UNIQUE CHECK (length(openid) BETWEEN 1 AND 64),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
INSERT INTO tb_oauth_qq (user_id, openid, created_at, updated_at)
    SELECT user_id, openid, bound_at, bound_at FROM tb_oauth_identity WHERE provider = 'qq' ORDER BY id;
DROP TABLE tb_oauth_identity;
