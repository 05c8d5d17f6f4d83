//! Running it like a service: `/metrics` on its own listener, `X-Request-Id` on every
//! answer.

use std::collections::HashMap;

use crate::helpers::*;

const MOBILE: &str = "13800138000";

/// What `/metrics` answers.
async fn scrape_text(app: &TestApp) -> String {
    let port = app.metrics_port.expect("METRICS_LISTEN set");
    reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The scrape, as `name{labels}` → value.
async fn scrape(app: &TestApp) -> HashMap<String, f64> {
    scrape_text(app)
        .await
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (k, v) = l.rsplit_once(' ')?;
            Some((k.to_owned(), v.parse().ok()?))
        })
        .collect()
}

fn delta(before: &HashMap<String, f64>, after: &HashMap<String, f64>, key: &str) -> f64 {
    after.get(key).copied().unwrap_or(0.0) - before.get(key).copied().unwrap_or(0.0)
}

async fn with_metrics(kind: Setup) -> TestApp {
    spawn_app_with(kind, |s| {
        s.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    })
    .await
}

async fn each_counter_moves_by_exactly_what_was_done(kind: Setup) {
    let app = with_metrics(kind).await;
    app.bind_new_account(OPENID, MOBILE).await;
    let before = scrape(&app).await;

    // A returning QQ login.
    let b = app.browser();
    let state = b.start_qq_login("/").await;
    assert_is_redirect_to(&b.callback(&format!("code-{OPENID}"), &state).await, "/");
    // A refused bind, row 5.
    let other = app.browser();
    let form = app.reach_bind_form(&other, OPENID_2, "/").await;
    app.give_sms_code("13700137000", "123456").await;
    let r = other
        .post_bind(&form, "13700137000", PASSWORD, "000000")
        .await;
    assert_eq!(r.status(), 400);
    // An SMS sent.
    app.request_sms_code(&other, "13600136000").await;
    // A limited request: past the captcha pictures' 60 a minute.
    let mut limited = 0;
    for _ in 0..61 {
        let id = uuid::Uuid::new_v4();
        if other.get(&format!("/image_codes/{id}/")).await.status() == 429 {
            limited += 1;
        }
    }
    let after = scrape(&app).await;

    let d = |k: &str| delta(&before, &after, k);
    assert_eq!(
        d(r#"qqbind_logins_total{outcome="bound",provider="qq"}"#),
        1.0
    );
    assert_eq!(
        d(r#"qqbind_logins_total{outcome="bind_form",provider="qq"}"#),
        1.0
    );
    assert_eq!(d(r#"qqbind_bind_refusals_total{row="5"}"#), 1.0);
    assert_eq!(d(r#"qqbind_sms_total{outcome="sent",provider="log"}"#), 1.0);
    assert!(limited >= 1);
    assert_eq!(
        d(r#"qqbind_limit_refusals_total{limit="captcha_ip"}"#),
        limited as f64
    );
    // Two QQ logins (the returning one and the bind form's): two of each call.
    assert_eq!(
        d(r#"qqbind_upstream_calls_total{endpoint="token",outcome="ok",provider="qq"}"#),
        2.0
    );
    assert_eq!(
        d(r#"qqbind_upstream_calls_total{endpoint="me",outcome="ok",provider="qq"}"#),
        2.0
    );
    assert_eq!(
        d(r#"qqbind_http_requests_total{method="GET",route="/sms_codes/{mobile}/",status="200"}"#),
        1.0
    );
    assert_eq!(
        d(r#"qqbind_http_requests_total{method="POST",route="/oauth_callback/",status="400"}"#),
        1.0
    );
    assert_eq!(after["qqbind_code_store_up"], 1.0);
    assert!(after["qqbind_db_pool_connections"] >= 1.0);
    assert!(after
        .contains_key(r#"qqbind_http_request_duration_seconds_count{route="/oauth_callback/"}"#));

    // No label holds a mobile, an openid or an address.
    let text = scrape_text(&app).await;
    for secret in [
        MOBILE,
        "13600136000",
        "13700137000",
        OPENID,
        OPENID_2,
        "127.0.0.1",
    ] {
        assert!(!text.contains(secret), "{secret} in /metrics");
    }
    // Never on the public port.
    assert_eq!(app.browser().get("/metrics").await.status(), 404);
}

async fn a_qq_failure_is_counted_by_kind(kind: Setup) {
    let app = with_metrics(kind).await;
    let before = scrape(&app).await;
    app.qq.set_token(TokenReply::Http500);
    let b = app.browser();
    let state = b.start_qq_login("/").await;
    assert_eq!(
        b.callback(&format!("code-{OPENID}"), &state).await.status(),
        502
    );
    let after = scrape(&app).await;
    let d = |k: &str| delta(&before, &after, k);
    assert_eq!(
        d(r#"qqbind_upstream_calls_total{endpoint="token",outcome="http",provider="qq"}"#),
        1.0
    );
    assert_eq!(
        d(r#"qqbind_logins_total{outcome="failed",provider="qq"}"#),
        1.0
    );
}

async fn every_answer_carries_a_request_id(kind: Setup) {
    let app = spawn_app_with(kind, |s| {
        s.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    let b = app.browser();
    let mut seen = std::collections::HashSet::new();
    for (path, status) in [
        ("/login/", 200),
        ("/qq/login/", 200),
        ("/qq/authorize/", 302),
        ("/no/such/page/", 404),
        ("/logout/", 405),
        ("/api/user/", 401),
    ] {
        let r = b.get(path).await;
        assert_eq!(r.status(), status, "{path}");
        let id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
        assert!(
            id.len() >= 8 && id.bytes().all(|c| c.is_ascii_alphanumeric()),
            "{path}: {id}"
        );
        if status == 404 || status == 405 {
            let page = r.text().await.unwrap();
            assert!(page.contains(&id), "{path}: the error page shows the id");
        }
        assert!(seen.insert(id), "a new id per request");
    }
    // A trusted proxy's id is kept when it is a short safe token; otherwise replaced.
    let via = |id: &'static str| {
        let b = b.clone();
        async move {
            let r = b
                .client
                .get(format!("{}/login/", b.base))
                .header("X-Request-Id", id)
                .send()
                .await
                .unwrap();
            r.headers()["x-request-id"].to_str().unwrap().to_owned()
        }
    };
    assert_eq!(via("lb-7f3a.91:x").await, "lb-7f3a.91:x");
    assert_ne!(via("<script>").await, "<script>");
}

async fn an_untrusted_clients_request_id_is_not_taken(kind: Setup) {
    let app = spawn_app(kind).await;
    let r = app
        .browser()
        .client
        .get(format!("{}/login/", app.base))
        .header("X-Request-Id", "forged-by-client")
        .send()
        .await
        .unwrap();
    assert_ne!(r.headers()["x-request-id"], "forged-by-client");
}

crate::all_setups!(
    each_counter_moves_by_exactly_what_was_done,
    a_qq_failure_is_counted_by_kind,
    every_answer_carries_a_request_id,
    an_untrusted_clients_request_id_is_not_taken,
);
