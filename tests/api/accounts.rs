//! Disabled accounts on every way in, and unbinding a QQ from /info/.

use crate::helpers::*;

const MOBILE: &str = "13800138000";
const DISABLED: &str = "该账号已被禁用，请联系客服";

/// The user centre's unbind button, confirmed.
async fn unbind_confirmed(b: &Browser) -> reqwest::Response {
    let csrf = b.csrf_from("/info/").await;
    b.post_form(
        "/info/qq/unbind/",
        &[("csrf_token", &csrf), ("confirm", "yes")],
    )
    .await
}

async fn a_disabled_account_hears_one_message_whatever_the_password(kind: Setup) {
    let app = spawn_app(kind).await;
    let user = app.create_user(MOBILE, PASSWORD).await;
    app.set_active(user.id, false).await;
    for name in [user.username.as_str(), MOBILE] {
        for password in [PASSWORD, "wrongpass1"] {
            let b = app.browser();
            let r = b.post_login(name, password).await;
            assert_eq!(r.status(), 403, "{name}/{password}");
            assert!(set_cookie(&r, "username").is_none());
            let page = r.text().await.unwrap();
            assert_eq!(
                slot_message(&page, "account-error").as_deref(),
                Some(DISABLED)
            );
            assert!(!b.is_logged_in().await);
        }
    }
}

async fn a_disabled_account_cannot_log_in_by_qq(kind: Setup) {
    let app = spawn_app(kind).await;
    app.bind_new_account(OPENID, MOBILE).await;
    let user = app.user_by_mobile(MOBILE).await.unwrap();
    app.set_active(user.id, false).await;

    let b = app.browser();
    let state = b.start_qq_login("/info/").await;
    let r = b.callback(&format!("code-{OPENID}"), &state).await;

    assert_eq!(r.status(), 403);
    assert!(set_cookie(&r, "username").is_none());
    let page = r.text().await.unwrap();
    assert_eq!(
        slot_message(&page, "account-error").as_deref(),
        Some(DISABLED)
    );
    assert!(
        page.contains("href=\"/qq/authorize/?next=%2Finfo%2F\""),
        "the login page keeps next"
    );
    assert!(!b.is_logged_in().await);
}

async fn binding_a_disabled_account_is_refused_with_the_same_message(kind: Setup) {
    let app = spawn_app(kind).await;
    let user = app.create_user(MOBILE, PASSWORD).await;
    app.set_active(user.id, false).await;
    for password in [PASSWORD, "wrongpass1"] {
        let b = app.browser();
        let form = app.reach_bind_form(&b, OPENID, "/").await;
        app.give_sms_code(MOBILE, "123456").await;
        let r = b.post_bind(&form, MOBILE, password, "123456").await;
        assert_eq!(r.status(), 403);
        let page = r.text().await.unwrap();
        assert_eq!(
            slot_message(&page, "account-error").as_deref(),
            Some(DISABLED)
        );
        assert!(!b.is_logged_in().await);
    }
    assert_eq!(app.binding_count().await, 0);
}

async fn disabling_ends_open_sessions_and_enabling_lets_the_user_back(kind: Setup) {
    let app = spawn_app(kind).await;
    let user = app.create_user(MOBILE, PASSWORD).await;
    let b = app.logged_in(MOBILE, PASSWORD).await;
    assert!(b.is_logged_in().await);

    app.set_active(user.id, false).await;
    assert!(!b.is_logged_in().await, "the open session ends");

    app.set_active(user.id, true).await;
    let r = b.post_login(MOBILE, PASSWORD).await;
    assert_is_redirect_to(&r, "/");
    assert!(b.is_logged_in().await);
}

async fn unbinding_asks_first_then_removes_the_binding(kind: Setup) {
    let app = spawn_app(kind).await;
    app.bind_new_account(OPENID, MOBILE).await;
    let user = app.user_by_mobile(MOBILE).await.unwrap();
    let b = app.logged_in(MOBILE, PASSWORD).await;
    let info = b.get("/info/").await.text().await.unwrap();
    assert!(info.contains("action=\"/info/qq/unbind/\""));
    assert!(info.contains("4F65****3B11"), "masked openid");
    let csrf = input_value(&info, "csrf_token").unwrap();

    // First post: the question, nothing changed.
    let r = b
        .post_form("/info/qq/unbind/", &[("csrf_token", &csrf)])
        .await;
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert!(page.contains("确定要解除绑定吗"));
    assert_eq!(input_value(&page, "confirm").as_deref(), Some("yes"));
    assert!(app.binding_of(OPENID).await.is_some());

    // Confirmed: gone, told so, audited.
    let r = b
        .post_form(
            "/info/qq/unbind/",
            &[("csrf_token", &csrf), ("confirm", "yes")],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/info/");
    assert!(app.binding_of(OPENID).await.is_none());
    let info = b.get("/info/").await.text().await.unwrap();
    assert!(info.contains("已解除QQ绑定"));
    assert!(info.contains("尚未绑定QQ"));
    let again = b.get("/info/").await.text().await.unwrap();
    assert!(!again.contains("已解除QQ绑定"), "the notice shows once");
    let entries = app.audit_of(user.id).await;
    assert_eq!(entries[0].action, "qq_unbind");
    assert_eq!(entries[0].actor_id, Some(user.id));
    assert_eq!(entries[0].detail, format!("openid={OPENID}"));
    assert_eq!(app.user_count().await, 1, "the account stays");
}

async fn after_unbinding_the_qq_sees_the_bind_form_and_the_account_can_bind_another(kind: Setup) {
    let app = spawn_app(kind).await;
    app.bind_new_account(OPENID, MOBILE).await;
    let b = app.logged_in(MOBILE, PASSWORD).await;
    let r = unbind_confirmed(&b).await;
    assert_eq!(r.status(), 303);

    // The old QQ: bind form again.
    let fresh = app.browser();
    let _ = app.reach_bind_form(&fresh, OPENID, "/").await;

    // Another QQ binds to the same account with its password.
    let other = app.browser();
    let form = app.reach_bind_form(&other, OPENID_2, "/info/").await;
    app.give_sms_code(MOBILE, "123456").await;
    let r = other.post_bind(&form, MOBILE, PASSWORD, "123456").await;
    assert_is_redirect_to(&r, "/info/");
    let user = app.user_by_mobile(MOBILE).await.unwrap();
    assert_eq!(app.binding_of(OPENID_2).await.unwrap().user_id, user.id);
    assert!(app.binding_of(OPENID).await.is_none());
    assert_eq!(app.user_count().await, 1);
}

async fn unbinding_needs_a_login_and_a_csrf_token(kind: Setup) {
    let app = spawn_app(kind).await;
    app.bind_new_account(OPENID, MOBILE).await;

    let anonymous = app.browser();
    let csrf = anonymous.csrf_from("/login/").await;
    let r = anonymous
        .post_form(
            "/info/qq/unbind/",
            &[("csrf_token", &csrf), ("confirm", "yes")],
        )
        .await;
    assert_is_redirect_to(&r, "/login/?next=/info/");

    let b = app.logged_in(MOBILE, PASSWORD).await;
    for fields in [
        vec![("confirm", "yes")],
        vec![("confirm", "yes"), ("csrf_token", "forged")],
    ] {
        let r = b.post_form("/info/qq/unbind/", &fields).await;
        assert_eq!(r.status(), 403);
    }
    assert!(app.binding_of(OPENID).await.is_some());
}

async fn unbinding_without_a_binding_changes_nothing(kind: Setup) {
    let app = spawn_app(kind).await;
    let user = app.create_user(MOBILE, PASSWORD).await;
    let b = app.logged_in(MOBILE, PASSWORD).await;
    let r = unbind_confirmed(&b).await;
    assert_eq!(r.status(), 303);
    let info = b.get("/info/").await.text().await.unwrap();
    assert!(info.contains("该账号尚未绑定QQ"));
    assert!(app.audit_of(user.id).await.is_empty());
}

crate::all_setups!(
    a_disabled_account_hears_one_message_whatever_the_password,
    a_disabled_account_cannot_log_in_by_qq,
    binding_a_disabled_account_is_refused_with_the_same_message,
    disabling_ends_open_sessions_and_enabling_lets_the_user_back,
    unbinding_asks_first_then_removes_the_binding,
    after_unbinding_the_qq_sees_the_bind_form_and_the_account_can_bind_another,
    unbinding_needs_a_login_and_a_csrf_token,
    unbinding_without_a_binding_changes_nothing,
);
