// The tables of migrations/ (as `diesel print-schema` writes them).

diesel::table! {
    tb_users (id) {
        id -> Integer,
        username -> Text,
        mobile -> Text,
        password -> Text,
        nickname -> Text,
        avatar_url -> Text,
        is_staff -> Bool,
        is_active -> Bool,
        date_joined -> Timestamp,
        last_login -> Nullable<Timestamp>,
        session_epoch -> Integer,
    }
}

diesel::table! {
    tb_oauth_qq (id) {
        id -> Integer,
        user_id -> Integer,
        openid -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    tb_audit_log (id) {
        id -> Integer,
        actor_id -> Nullable<Integer>,
        action -> Text,
        target_user_id -> Nullable<Integer>,
        detail -> Text,
        created_at -> Timestamp,
        ip -> Text,
        channel -> Text,
    }
}

diesel::joinable!(tb_oauth_qq -> tb_users (user_id));

diesel::allow_tables_to_appear_in_same_query!(tb_users, tb_oauth_qq, tb_audit_log);
