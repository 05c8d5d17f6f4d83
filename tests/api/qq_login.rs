//! `GET /qq/login/` and `GET /qq/authorize/` (spec section 4).

use crate::helpers::*;
use qqbind::codes::keys;
use url::Url;

async fn qq_login_answers_json_with_the_authorize_url_of_this_app(kind: Setup) {
    let app = spawn_app(kind).await;
    let b = app.browser();
    let r = b.get("/qq/login/?next=/info/").await;
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["code"], "0");
    assert_eq!(body["errmsg"], "OK");
    let url = Url::parse(body["login_url"].as_str().unwrap()).unwrap();
    assert_eq!(
        format!("{}{}", &app.qq.url, "/oauth2.0/authorize"),
        url[..url::Position::AfterPath]
    );
    let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["client_id"], CLIENT_ID);
    assert_eq!(q["redirect_uri"], REDIRECT_URI);
    // At least 128 bits of randomness, hex.
    assert!(q["state"].len() >= 32 && q["state"].chars().all(|c| c.is_ascii_hexdigit()));
    // The state is issued to this browser's session (its id in an HttpOnly cookie).
    let cookie = b.cookie_header();
    assert!(cookie.contains("qqbind_session="), "{cookie}");
}

async fn every_login_gets_a_fresh_state(kind: Setup) {
    let app = spawn_app(kind).await;
    let b = app.browser();
    let s1 = b.start_qq_login("/").await;
    let s2 = b.start_qq_login("/").await;
    assert_ne!(s1, s2);
}

async fn qq_authorize_redirects_to_qq(kind: Setup) {
    let app = spawn_app(kind).await;
    let b = app.browser();
    let r = b.get("/qq/authorize/?next=/info/").await;
    assert_eq!(r.status(), 302);
    let location = r.headers()["location"].to_str().unwrap();
    assert!(
        location.starts_with(&format!(
            "{}/oauth2.0/authorize?response_type=code&client_id={CLIENT_ID}&redirect_uri=",
            app.qq.url
        )),
        "{location}"
    );
    assert!(location.contains("&state="));
}

/// Logs in an already-bound QQ user through the callback, returning where it went.
async fn returning_login_lands_on(app: &TestApp, next: &str) -> String {
    let b = app.browser();
    let state = b.start_qq_login(next).await;
    let r = b.callback(&format!("code-{OPENID}"), &state).await;
    assert_eq!(r.status(), 302);
    r.headers()["location"].to_str().unwrap().to_owned()
}

async fn next_keeps_local_paths_and_drops_everything_else(kind: Setup) {
    let app = spawn_app(kind).await;
    app.bind_new_account(OPENID, "13800138000").await;

    for good in ["/info/", "/goods/1.html?sku=2"] {
        assert_eq!(returning_login_lands_on(&app, good).await, good);
    }
    for bad in [
        "//evil.example/",
        "http://evil.example/",
        "https:evil.example",
        "/\\evil.example",
        "javascript:alert(1)",
        "",
    ] {
        assert_eq!(
            returning_login_lands_on(&app, bad).await,
            "/",
            "next={bad:?}"
        );
    }
}

async fn every_pending_login_stays_usable_and_the_cookie_does_not_grow(kind: Setup) {
    let app = spawn_app(kind).await;
    let b = app.browser();
    let long_next = format!("/{}", "n".repeat(255));
    let mut states = vec![b.start_qq_login(&long_next).await];
    let cookie = b.cookie_header();
    for _ in 0..5 {
        let r = b
            .get(&format!("/qq/login/?next={}", urlencode(&long_next)))
            .await;
        assert_eq!(
            set_cookie(&r, "qqbind_session"),
            None,
            "a login started writes nothing to the cookie"
        );
        states.push(state_of(r).await);
    }
    assert_eq!(b.cookie_header(), cookie);
    // The newest and the oldest alike, each once.
    let r = b
        .callback(&format!("code-{OPENID}"), states.last().unwrap())
        .await;
    assert_eq!(r.status(), 200);
    let r = b.callback(&format!("code-{OPENID_2}"), &states[0]).await;
    assert_eq!(r.status(), 200);
    // (The same URL again is a reload, showing the same form; another code is not.)
    let r = b.callback(&format!("code-{OPENID}"), &states[0]).await;
    assert_eq!(r.status(), 400, "used once");
}

/// Two tabs of one browser start a QQ login at the same instant, both with the cookie
/// the login page left. Both logins stay usable: one (a new QQ) gets the bind form,
/// the other (a bound QQ) logs in and lands on its own `next`. (The cookie kept a list
/// of pending logins: each answer wrote its own, the browser kept the last, and the other
/// tab's callback said "state无效".)
async fn two_logins_started_at_once_in_two_tabs_both_complete(kind: Setup) {
    let app = spawn_app(kind).await;
    app.bind_new_account(OPENID, "13800138000").await;
    let b = app.browser();
    assert_eq!(b.get("/login/").await.status(), 200);
    let page = b.cookie_header();
    let (first, second) = tokio::join!(
        get_with_cookie(&app.base, &page, "/qq/login/?next=/goods/1.html"),
        get_with_cookie(&app.base, &page, "/qq/login/?next=/cart/"),
    );
    let kept = kept_cookie(&second, &kept_cookie(&first, &page));
    let (first, second) = (state_of(first).await, state_of(second).await);

    let r = get_with_cookie(
        &app.base,
        &kept,
        &format!("/oauth_callback/?code=code-{OPENID_2}&state={first}"),
    )
    .await;
    assert_eq!(r.status(), 200, "the first tab's new QQ: the bind form");
    let kept = kept_cookie(&r, &kept);
    let r = get_with_cookie(
        &app.base,
        &kept,
        &format!("/oauth_callback/?code=code-{OPENID}&state={second}"),
    )
    .await;
    assert_is_redirect_to(&r, "/cart/");
    assert!(set_cookie(&r, "username").is_some(), "logged in");
}

/// A login started before the code store kept pending logins (the store held the bare
/// session id, the cookie the login's `next`) still completes after the upgrade, once;
/// the same bare entry of another session does not.
async fn a_login_started_before_the_upgrade_still_completes(kind: Setup) {
    let app = spawn_app(kind).await;
    app.bind_new_account(OPENID, "13800138000").await;
    let b = app.browser();
    assert_eq!(b.get("/login/").await.status(), 200);
    let secret = app.state.settings.secret_key.expose().to_owned();
    let mut state = session_state(&secret, &b.cookie_header());
    let sid: String = serde_json::from_str(&state["sid"]).unwrap();
    let expires_at = app.state.clock.now() + 600;
    let (mine, theirs) = ("a".repeat(48), "b".repeat(48));
    let pending = serde_json::json!([
        { "state": mine, "next": "/info/", "expires_at": expires_at },
        { "state": theirs, "next": "/info/", "expires_at": expires_at },
    ]);
    state.insert("qq_pending".to_owned(), pending.to_string());
    let cookie = session_cookie(&secret, &state);
    let ttl = std::time::Duration::from_secs(600);
    let codes = app.codes();
    codes
        .set_ex(&keys::qq_state(&mine), &sid, ttl)
        .await
        .unwrap();
    codes
        .set_ex(&keys::qq_state(&theirs), "another-session", ttl)
        .await
        .unwrap();

    let callback = |cookie: String, nonce: String| {
        let base = app.base.clone();
        async move {
            get_with_cookie(
                &base,
                &cookie,
                &format!("/oauth_callback/?code=code-{OPENID}&state={nonce}"),
            )
            .await
        }
    };
    let r = callback(cookie.clone(), theirs.clone()).await;
    assert_eq!(r.status(), 400, "issued to another session");
    let r = callback(cookie.clone(), mine.clone()).await;
    assert_is_redirect_to(&r, "/info/");
    let r = callback(cookie, mine).await;
    assert_eq!(r.status(), 400, "used once");
}

/// Two tabs start a QQ login; the first logs in (a new session, for fixation safety), so
/// the second tab's `state` is no longer this browser's: 400 as ever, but the page says
/// that the browser is logged in, not just to log in again. A stranger's state on a
/// browser not logged in gets the plain message.
async fn a_tab_back_after_another_logged_in_is_told_it_is_logged_in(kind: Setup) {
    let app = spawn_app(kind).await;
    app.bind_new_account(OPENID, "13800138000").await;
    let b = app.browser();
    let first = b.start_qq_login("/goods/1.html").await;
    let second = b.start_qq_login("/cart/").await;
    let r = b.callback(&format!("code-{OPENID}"), &first).await;
    assert_is_redirect_to(&r, "/goods/1.html");
    let calls = app.qq.token_calls();
    let r = b.callback(&format!("code-{OPENID}"), &second).await;
    assert_eq!(r.status(), 400);
    let page = r.text().await.unwrap();
    assert!(
        page.contains(
            "QQ登录请求已失效（state无效）。您已登录，可直接继续；如需换一个账号，请重新点击QQ登录"
        ),
        "{page}"
    );
    assert!(page.contains("href=\"/info/\">用户中心</a>"), "{page}");
    assert_eq!(app.qq.token_calls(), calls, "QQ is not asked");
    assert!(b.is_logged_in().await, "still logged in");

    let stranger = app.browser();
    assert_eq!(stranger.get("/login/").await.status(), 200);
    let r = stranger.callback(&format!("code-{OPENID}"), &second).await;
    assert_eq!(r.status(), 400);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("QQ登录请求已失效（state无效），请重新点击QQ登录"),
        "{page}"
    );
    assert!(!page.contains("您已登录"));
}

crate::all_setups!(
    a_phone_gets_qqs_page_for_phones,
    a_tab_back_after_another_logged_in_is_told_it_is_logged_in,
    every_pending_login_stays_usable_and_the_cookie_does_not_grow,
    two_logins_started_at_once_in_two_tabs_both_complete,
    a_login_started_before_the_upgrade_still_completes,
    qq_login_answers_json_with_the_authorize_url_of_this_app,
    every_login_gets_a_fresh_state,
    qq_authorize_redirects_to_qq,
    next_keeps_local_paths_and_drops_everything_else,
);

async fn a_phone_gets_qqs_page_for_phones(kind: Setup) {
    let app = spawn_app(kind).await;
    let b = app.browser();
    let go = |ua: &'static str| {
        let b = b.clone();
        async move {
            let r = b
                .client
                .get(format!("{}/qq/authorize/?next=/", b.base))
                .header("User-Agent", ua)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 302);
            let to = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
            to.query_pairs()
                .find(|(k, _)| k == "display")
                .map(|(_, v)| v.into_owned())
        }
    };
    let iphone =
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148";
    let android = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/120.0 Mobile Safari/537.36";
    let desktop =
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36";
    assert_eq!(go(iphone).await.as_deref(), Some("mobile"));
    assert_eq!(go(android).await.as_deref(), Some("mobile"));
    assert_eq!(go(desktop).await, None);
}
