-- Users, their QQ bindings, and the audit log (table names as in the Meiduo deployment).
CREATE TABLE tb_users (
    id          INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    username    VARCHAR(150) NOT NULL UNIQUE,
    mobile      VARCHAR(11)  NOT NULL UNIQUE,
    password    VARCHAR(128) NOT NULL,
    nickname    VARCHAR(64)  NOT NULL DEFAULT '',
    avatar_url  VARCHAR(512) NOT NULL DEFAULT '',
    is_staff    BOOLEAN      NOT NULL DEFAULT 0,
    is_active   BOOLEAN      NOT NULL DEFAULT 1,
    date_joined TIMESTAMP    NOT NULL,
    last_login  TIMESTAMP
);
CREATE INDEX idx_users_date_joined ON tb_users (date_joined);

CREATE TABLE tb_oauth_qq (
    id         INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    -- one QQ per account
    user_id    INTEGER NOT NULL UNIQUE REFERENCES tb_users (id) ON DELETE CASCADE,
    -- one account per QQ
    openid     VARCHAR(64) NOT NULL UNIQUE CHECK (length(openid) BETWEEN 1 AND 64),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE tb_audit_log (
    id             INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    actor_id       INTEGER REFERENCES tb_users (id) ON DELETE SET NULL,
    action         VARCHAR(32) NOT NULL,
    target_user_id INTEGER REFERENCES tb_users (id) ON DELETE SET NULL,
    detail         TEXT NOT NULL DEFAULT '',
    created_at     TIMESTAMP NOT NULL
);
CREATE INDEX idx_audit_target ON tb_audit_log (target_user_id, created_at);
CREATE INDEX idx_audit_action ON tb_audit_log (action, created_at);
CREATE INDEX idx_audit_actor ON tb_audit_log (actor_id, created_at);
