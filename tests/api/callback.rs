//! `GET /oauth_callback/` (spec section 4): rows 1–5 of the callback.

use std::time::Duration;

use crate::helpers::*;

async fn callback_without_code_says_missing_code(kind: Setup) {
    let app = spawn_app(kind).await;
    let b = app.browser();
    let state = b.start_qq_login("/").await;
    for path in [
        format!("/oauth_callback/?state={state}"),
        format!("/oauth_callback/?usercancel=1&state={state}"),
        format!("/oauth_callback?code=&state={state}"),
        "/oauth_callback/".to_owned(),
    ] {
        let r = b.get(&path).await;
        assert_eq!(r.status(), 400, "{path}");
        assert!(r.text().await.unwrap().contains("缺少code"), "{path}");
    }
    assert_eq!(app.qq.token_calls(), 0);
    assert!(!b.is_logged_in().await);
}

async fn callback_with_a_state_not_issued_here_is_refused_without_calling_qq(kind: Setup) {
    let app = spawn_app(kind).await;
    let b = app.browser();
    b.start_qq_login("/").await;
    for state in ["", "0123456789abcdef0123456789abcdef", &"f".repeat(500)] {
        let r = b.callback(&format!("code-{OPENID}"), state).await;
        assert_eq!(r.status(), 400, "state={state:?}");
        assert!(r.text().await.unwrap().contains("state无效"));
    }
    let r = b.get(&format!("/oauth_callback/?code=code-{OPENID}")).await;
    assert_eq!(r.status(), 400);
    assert_eq!(app.qq.token_calls(), 0, "no QQ call for a bad state");
}

async fn a_state_from_another_browser_is_refused(kind: Setup) {
    let app = spawn_app(kind).await;
    let victim = app.browser();
    let attacker = app.browser();
    let state = attacker.start_qq_login("/").await;
    // The attacker's state, planted in the victim's browser (login CSRF).
    let r = victim.callback(&format!("code-{OPENID}"), &state).await;
    assert_eq!(r.status(), 400);
    assert_eq!(app.qq.token_calls(), 0);
}

async fn a_state_works_once(kind: Setup) {
    let app = spawn_app(kind).await;
    app.bind_new_account(OPENID, "13800138000").await;
    let b = app.browser();
    let state = b.start_qq_login("/info/").await;
    let r = b.callback(&format!("code-{OPENID}"), &state).await;
    assert_is_redirect_to(&r, "/info/");
    let calls = app.qq.token_calls();
    let r = b.callback(&format!("code-{OPENID}"), &state).await;
    assert_eq!(r.status(), 400);
    assert_eq!(app.qq.token_calls(), calls, "a used state never reaches QQ");
}

/// One `state` sent back by sixteen callbacks at the same instant, from the same cookie
/// (a double click, a replaying intruder): one logs in, every other is refused before QQ
/// is asked. The store's copy is the only one, taken atomically.
async fn a_state_sent_many_times_at_once_works_once(kind: Setup) {
    let app = spawn_app(kind).await;
    app.bind_new_account(OPENID, "13800138000").await;
    let b = app.browser();
    let state = b.start_qq_login("/info/").await;
    let cookie = b.cookie_header();
    let calls = app.qq.token_calls();
    let path = format!("/oauth_callback/?code=code-{OPENID}&state={state}");
    let answers =
        futures::future::join_all((0..16).map(|_| get_with_cookie(&app.base, &cookie, &path)))
            .await;
    let mut statuses: Vec<u16> = answers.iter().map(|r| r.status().as_u16()).collect();
    statuses.sort_unstable();
    assert_eq!(statuses, [[302].as_slice(), &[400; 15]].concat());
    assert_eq!(app.qq.token_calls(), calls + 1, "QQ asked once");
}

async fn a_replayed_old_session_cookie_cannot_reuse_a_state(kind: Setup) {
    let app = spawn_app(kind).await;
    app.bind_new_account(OPENID, "13800138000").await;
    let b = app.browser();
    let state = b.start_qq_login("/").await;
    let old_cookie = b.cookie_header();
    assert_eq!(
        b.callback(&format!("code-{OPENID}"), &state).await.status(),
        302
    );
    // Same state, with the session cookie as it was before the callback.
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!(
            "{}/oauth_callback/?code=code-{OPENID}&state={state}",
            app.base
        ))
        .header("cookie", old_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

async fn qq_failures_show_oauth_failed_and_nothing_secret(kind: Setup) {
    let app = spawn_app(kind).await;
    let cases: Vec<(Option<TokenReply>, Option<MeReply>)> = vec![
        (Some(TokenReply::JsonpError), None),
        (Some(TokenReply::PlainJsonError), None),
        (Some(TokenReply::CodeMsgError), None),
        (Some(TokenReply::Garbage), None),
        (Some(TokenReply::Http500), None),
        (Some(TokenReply::Redirect), None),
        (None, Some(MeReply::JsonpError)),
        (None, Some(MeReply::WrongClientId)),
        (None, Some(MeReply::Garbage)),
        (None, Some(MeReply::BadOpenId)),
    ];
    for (token, me) in cases {
        app.qq
            .set_token(token.clone().unwrap_or(TokenReply::QueryString));
        app.qq.set_me(me.clone().unwrap_or(MeReply::Jsonp));
        let b = app.browser();
        let state = b.start_qq_login("/").await;
        let r = b.callback(&format!("code-{OPENID}"), &state).await;
        assert_eq!(r.status(), 502, "{token:?} {me:?}");
        let page = r.text().await.unwrap();
        assert!(page.contains("OAuth2.0认证失败"), "{token:?} {me:?}");
        assert!(!page.contains(CLIENT_SECRET));
        assert!(!page.contains(&format!("tok-{OPENID}")));
        assert!(!b.is_logged_in().await);
    }
    assert_eq!(app.user_count().await, 0);
}

/// A QQ login that fails at QQ offers QQ again, back to the page it started from; a
/// bind from the user centre binds again.
async fn a_failed_qq_login_offers_qq_again_back_where_it_started(kind: Setup) {
    let app = spawn_app(kind).await;
    app.qq.set_token(TokenReply::JsonpError);
    let b = app.browser();
    let state = b.start_qq_login("/goods/7.html?sku=2").await;
    let r = b.callback(&format!("code-{OPENID}"), &state).await;
    assert_eq!(r.status(), 502);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("id=\"relogin\" href=\"/qq/authorize/?next=%2Fgoods%2F7.html%3Fsku%3D2\""),
        "{page}"
    );
    let r = b
        .get("/qq/authorize/?next=%2Fgoods%2F7.html%3Fsku%3D2")
        .await;
    assert_eq!(r.status(), 302, "the button starts a new QQ login");

    // Binding QQ from the user centre: the button binds again.
    app.qq.set_token(TokenReply::QueryString);
    app.bind_new_account("OTHEROPENID", "13800138000").await;
    app.qq.set_token(TokenReply::JsonpError);
    let me = app.logged_in("13800138000", PASSWORD).await;
    let r = me.get("/qq/login/?next=%2Finfo%2F&intent=link").await;
    let state = state_of(r).await;
    let r = me.callback(&format!("code-{OPENID}"), &state).await;
    assert_eq!(r.status(), 502);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("href=\"/qq/authorize/?next=%2Finfo%2F&#38;intent=link\""),
        "{page}"
    );
}

async fn a_slow_qq_fails_within_the_time_budget(kind: Setup) {
    let app = spawn_app(kind).await;
    app.qq.set_token(TokenReply::Slow(Duration::from_secs(8)));
    let b = app.browser();
    let state = b.start_qq_login("/").await;
    let r = b.callback(&format!("code-{OPENID}"), &state).await;
    assert_eq!(r.status(), 502);
    assert!(r.text().await.unwrap().contains("OAuth2.0认证失败"));
    // Had the 5 s total timeout not fired, the slow answer would have been a bind form (200).
    assert_eq!(app.qq.token_calls(), 1);
}

async fn an_unreachable_qq_fails_with_502(kind: Setup) {
    let port = free_port();
    let app = spawn_app_with(kind, |s| {
        if let qqbind::config::QqMode::Real(qq) = &mut s.qq {
            qq.graph_url = url::Url::parse(&format!("http://127.0.0.1:{port}")).unwrap();
        }
    })
    .await;
    let b = app.browser();
    let state = b.start_qq_login("/").await;
    let r = b.callback(&format!("code-{OPENID}"), &state).await;
    assert_eq!(r.status(), 502);
    assert!(r.text().await.unwrap().contains("OAuth2.0认证失败"));
}

async fn both_token_formats_log_a_bound_user_in(kind: Setup) {
    let app = spawn_app(kind).await;
    app.bind_new_account(OPENID, "13800138000").await;
    for reply in [TokenReply::QueryString, TokenReply::Json] {
        app.qq.set_token(reply.clone());
        let b = app.browser();
        let state = b.start_qq_login("/info/").await;
        let r = b.callback(&format!("code-{OPENID}"), &state).await;
        assert_is_redirect_to(&r, "/info/");
        assert!(b.is_logged_in().await, "{reply:?}");
    }
}

async fn a_bound_user_is_logged_in_with_a_new_session_and_the_username_cookie(kind: Setup) {
    let app = spawn_app(kind).await;
    app.bind_new_account(OPENID, "13800138000").await;
    let b = app.browser();
    let state = b.start_qq_login("/info/").await;
    let before = b.cookie_header();
    let r = b.callback(&format!("code-{OPENID}"), &state).await;
    assert_is_redirect_to(&r, "/info/");
    let username = set_cookie(&r, "username").expect("username cookie");
    assert!(username.starts_with("username=13800138000;"), "{username}");
    assert!(username.contains("Max-Age=1296000"), "{username}");
    assert!(!username.contains("HttpOnly"), "the header script reads it");
    let session = set_cookie(&r, "qqbind_session").expect("a new session cookie");
    assert!(
        session.contains("HttpOnly") && session.contains("SameSite=Lax"),
        "{session}"
    );
    assert_ne!(before, b.cookie_header());
    let info = b.get("/info/").await.text().await.unwrap();
    assert!(info.contains("13800138000"));
}

async fn an_unbound_openid_gets_the_bind_form_with_the_qq_nickname(kind: Setup) {
    let app = spawn_app(kind).await;
    let b = app.browser();
    let state = b.start_qq_login("/").await;
    let r = b.callback(&format!("code-{OPENID}"), &state).await;
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert!(page.contains("QQ用户4F65"), "nickname from get_user_info");
    assert!(page.contains("http://thirdqq.qlogo.cn/100"), "avatar");
    for field in ["mobile", "password", "sms_code", "image_code"] {
        assert!(page.contains(&format!("name=\"{field}\"")), "{field}");
    }
    assert!(page.contains("获取短信验证码"));
    assert!(input_value(&page, "access_token").is_some_and(|t| t.contains('.')));
    assert!(input_value(&page, "csrf_token").is_some());
    assert!(!page.contains(CLIENT_SECRET) && !page.contains(&format!("tok-{OPENID}")));
    assert_eq!(app.user_count().await, 0);
    assert!(!b.is_logged_in().await);
}

async fn a_failing_user_info_does_not_fail_the_bind_form(kind: Setup) {
    let app = spawn_app(kind).await;
    for reply in [InfoReply::Error, InfoReply::Garbage] {
        app.qq.set_info(reply);
        let b = app.browser();
        let state = b.start_qq_login("/").await;
        let r = b.callback(&format!("code-{OPENID}"), &state).await;
        assert_eq!(r.status(), 200);
        let page = r.text().await.unwrap();
        assert!(page.contains("QQ登录成功，请绑定手机号"));
        assert!(input_value(&page, "access_token").is_some());
    }
}

crate::all_setups!(
    callback_without_code_says_missing_code,
    callback_with_a_state_not_issued_here_is_refused_without_calling_qq,
    a_state_from_another_browser_is_refused,
    a_state_works_once,
    a_state_sent_many_times_at_once_works_once,
    a_replayed_old_session_cookie_cannot_reuse_a_state,
    qq_failures_show_oauth_failed_and_nothing_secret,
    a_slow_qq_fails_within_the_time_budget,
    an_unreachable_qq_fails_with_502,
    a_failed_qq_login_offers_qq_again_back_where_it_started,
    both_token_formats_log_a_bound_user_in,
    a_bound_user_is_logged_in_with_a_new_session_and_the_username_cookie,
    an_unbound_openid_gets_the_bind_form_with_the_qq_nickname,
    a_failing_user_info_does_not_fail_the_bind_form,
);
