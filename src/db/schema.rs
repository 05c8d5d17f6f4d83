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
    tb_oauth_identity (id) {
        id -> Integer,
        provider -> Text,
        openid -> Text,
        unionid -> Nullable<Text>,
        user_id -> Integer,
        nickname -> Text,
        avatar_url -> Text,
        bound_at -> Timestamp,
        last_login_at -> Nullable<Timestamp>,
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

diesel::joinable!(tb_oauth_identity -> tb_users (user_id));

diesel::allow_tables_to_appear_in_same_query!(tb_users, tb_oauth_identity, tb_audit_log);
