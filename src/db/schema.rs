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
        is_superuser -> Bool,
        disabled_reason -> Text,
        delete_requested_at -> Nullable<Timestamp>,
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

diesel::table! {
    tb_consent (id) {
        id -> Integer,
        user_id -> Integer,
        document -> Text,
        version -> Text,
        accepted_at -> Timestamp,
        ip -> Text,
        user_agent -> Text,
        context -> Text,
    }
}

diesel::table! {
    tb_login_history (id) {
        id -> Integer,
        user_id -> Integer,
        method -> Text,
        at -> Timestamp,
        ip -> Text,
        user_agent -> Text,
    }
}

diesel::table! {
    tb_event_counts (day, event) {
        day -> Date,
        event -> Text,
        n -> BigInt,
    }
}

diesel::joinable!(tb_oauth_identity -> tb_users (user_id));
diesel::joinable!(tb_consent -> tb_users (user_id));
diesel::joinable!(tb_login_history -> tb_users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    tb_users,
    tb_oauth_identity,
    tb_audit_log,
    tb_consent,
    tb_login_history,
    tb_event_counts,
);
