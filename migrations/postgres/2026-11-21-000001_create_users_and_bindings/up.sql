-- Users, their QQ bindings, and the audit log (table names as in the Meiduo deployment).
-- The same tables, constraints and limits as migrations/sqlite; PostgreSQL enforces
-- the VARCHAR lengths (the application keeps within them). Username, mobile and openid
-- compare in byte order (COLLATE "C") whatever the cluster's locale, as on SQLite: the
-- operators' prefix searches are ranges over their unique indexes.
CREATE TABLE tb_users (
    id          SERIAL PRIMARY KEY,
    username    VARCHAR(150) COLLATE "C" NOT NULL UNIQUE,
    mobile      VARCHAR(11)  COLLATE "C" NOT NULL UNIQUE,
    password    VARCHAR(128) NOT NULL,
    nickname    VARCHAR(64)  NOT NULL DEFAULT '',
    avatar_url  VARCHAR(512) NOT NULL DEFAULT '',
    is_staff    BOOLEAN      NOT NULL DEFAULT FALSE,
    is_active   BOOLEAN      NOT NULL DEFAULT TRUE,
    date_joined TIMESTAMP    NOT NULL,
    last_login  TIMESTAMP
);
CREATE INDEX idx_users_date_joined ON tb_users (date_joined);

CREATE TABLE tb_oauth_qq (
    id         SERIAL PRIMARY KEY,
    -- one QQ per account
    user_id    INTEGER NOT NULL UNIQUE REFERENCES tb_users (id) ON DELETE CASCADE,
    -- one account per QQ
    openid     VARCHAR(64) COLLATE "C" NOT NULL UNIQUE CHECK (length(openid) BETWEEN 1 AND 64),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE tb_audit_log (
    id             SERIAL PRIMARY KEY,
    actor_id       INTEGER REFERENCES tb_users (id) ON DELETE SET NULL,
    action         VARCHAR(32) NOT NULL,
    target_user_id INTEGER REFERENCES tb_users (id) ON DELETE SET NULL,
    detail         TEXT NOT NULL DEFAULT '',
    created_at     TIMESTAMP NOT NULL
);
CREATE INDEX idx_audit_target ON tb_audit_log (target_user_id, created_at);
CREATE INDEX idx_audit_action ON tb_audit_log (action, created_at);
CREATE INDEX idx_audit_actor ON tb_audit_log (actor_id, created_at);
