//! `GET /qq/login/` and `GET /qq/authorize/` (spec section 4).

use crate::helpers::*;
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
    // The state is remembered in this browser's session (an HttpOnly cookie).
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

async fn many_pending_logins_with_long_next_values_still_work(kind: Setup) {
    let app = spawn_app(kind).await;
    let b = app.browser();
    let long_next = format!("/{}", "n".repeat(255));
    let mut states = Vec::new();
    for _ in 0..6 {
        states.push(b.start_qq_login(&long_next).await);
    }
    // The newest logins stay usable; the oldest were dropped to keep the cookie small.
    let r = b
        .callback(&format!("code-{OPENID}"), states.last().unwrap())
        .await;
    assert_eq!(r.status(), 200);
    let r = b.callback(&format!("code-{OPENID_2}"), &states[0]).await;
    assert_eq!(r.status(), 400);
}

crate::all_setups!(
    a_phone_gets_qqs_page_for_phones,
    many_pending_logins_with_long_next_values_still_work,
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
