//! Abuse limits (issue 7): each one, its 429 with a retry time, and `RATE_LIMITS=off`.

use qqbind::limits;
use serde_json::json;

use crate::helpers::*;

const LIMITED_15_MIN: &str = "操作过于频繁，请15分钟后再试";

fn retry_after(r: &reqwest::Response) -> u64 {
    r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

async fn an_account_locks_after_5_failed_logins_and_says_when_to_retry(kind: Setup) {
    let app = spawn_app(kind).await;
    let user = app.create_user("13800138000", PASSWORD).await;
    let other = app.create_user("13900139000", PASSWORD).await;
    let b = app.browser();
    for _ in 0..limits::LOGIN_FAILS_PER_ACCOUNT.limit {
        assert_eq!(
            b.post_login(&user.username, "wrongpass1").await.status(),
            400
        );
    }
    // Locked: even the right password (by name or by mobile) waits.
    for name in [user.username.as_str(), "13800138000"] {
        let r = b.post_login(name, PASSWORD).await;
        assert_eq!(r.status(), 429);
        assert!((890..=900).contains(&retry_after(&r)));
        let page = r.text().await.unwrap();
        assert_eq!(
            slot_message(&page, "account-error").as_deref(),
            Some(LIMITED_15_MIN)
        );
    }
    assert!(!b.is_logged_in().await);
    // Another account is not locked.
    let r = b.post_login(&other.username, PASSWORD).await;
    assert_is_redirect_to(&r, "/");
}

async fn a_successful_login_clears_the_accounts_failures(kind: Setup) {
    let app = spawn_app(kind).await;
    let user = app.create_user("13800138000", PASSWORD).await;
    let b = app.browser();
    for _ in 0..limits::LOGIN_FAILS_PER_ACCOUNT.limit - 1 {
        b.post_login(&user.username, "wrongpass1").await;
    }
    assert_eq!(b.post_login(&user.username, PASSWORD).await.status(), 302);
    for _ in 0..limits::LOGIN_FAILS_PER_ACCOUNT.limit - 1 {
        assert_eq!(
            app.browser()
                .post_login(&user.username, "wrongpass1")
                .await
                .status(),
            400
        );
    }
}

async fn one_client_ip_gets_30_failed_logins_a_window(kind: Setup) {
    let app = spawn_app(kind).await;
    let b = app.browser();
    for i in 0..limits::LOGIN_FAILS_PER_IP.limit {
        let r = b.post_login(&format!("nobody{i}"), "wrongpass1").await;
        assert_eq!(r.status(), 400, "attempt {i}");
    }
    let r = b.post_login("someone_else", "wrongpass1").await;
    assert_eq!(r.status(), 429);
    assert!(retry_after(&r) > 0);
}

async fn one_client_ip_gets_20_sms_codes_an_hour(kind: Setup) {
    let app = spawn_app(kind).await;
    let b = app.browser();
    for i in 0..limits::SMS_PER_IP.limit {
        app.request_sms_code(&b, &format!("1390000{i:04}")).await;
    }
    let id = uuid::Uuid::new_v4().to_string();
    let text = app.captcha(&b, &id).await;
    let r = b
        .get(&format!(
            "/sms_codes/13900009999/?image_code={text}&image_code_id={id}"
        ))
        .await;
    assert_eq!(r.status(), 429);
    assert!((3590..=3600).contains(&retry_after(&r)));
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["code"], "4290");
    assert_eq!(body["errmsg"], "操作过于频繁，请60分钟后再试");
    assert!(app
        .codes()
        .get(&qqbind::codes::keys::sms("13900009999"))
        .await
        .unwrap()
        .is_none());
}

async fn one_client_ip_gets_60_captchas_a_minute(kind: Setup) {
    let app = spawn_app(kind).await;
    let b = app.browser();
    for _ in 0..limits::CAPTCHA_PER_IP.limit {
        let r = b
            .get(&format!("/image_codes/{}/", uuid::Uuid::new_v4()))
            .await;
        assert_eq!(r.status(), 200);
    }
    let r = b
        .get(&format!("/image_codes/{}/", uuid::Uuid::new_v4()))
        .await;
    assert_eq!(r.status(), 429);
    assert!((1..=60).contains(&retry_after(&r)));
}

async fn one_client_ip_gets_60_availability_lookups_a_minute(kind: Setup) {
    let app = spawn_app(kind).await;
    let b = app.browser();
    for i in 0..limits::LOOKUPS_PER_IP.limit {
        let path = if i % 2 == 0 {
            format!("/usernames/name_{i:04}/count/")
        } else {
            format!("/mobiles/1390000{i:04}/count/")
        };
        assert_eq!(b.get(&path).await.status(), 200);
    }
    let r = b.get("/usernames/one_more/count/").await;
    assert_eq!(r.status(), 429);
    assert!((1..=60).contains(&retry_after(&r)));
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["code"], "4290");
}

async fn a_mobile_gets_20_refused_binds_on_the_form_and_the_api(kind: Setup) {
    let app = spawn_app(kind).await;
    let b = app.browser();
    let form = app.reach_bind_form(&b, OPENID, "/").await;
    app.give_sms_code("13800138000", "123456").await;
    for _ in 0..limits::BIND_FAILS_PER_ACCOUNT.limit {
        // A forged token: row 6, refused after the SMS check, nothing used up.
        let r = b
            .post_form(
                "/oauth_callback/",
                &[
                    ("mobile", "13800138000"),
                    ("password", PASSWORD),
                    ("sms_code", "123456"),
                    ("access_token", "forged"),
                    ("csrf_token", &form.csrf_token),
                ],
            )
            .await;
        assert_eq!(r.status(), 400);
    }
    let r = b.post_bind(&form, "13800138000", PASSWORD, "123456").await;
    assert_eq!(r.status(), 429);
    let page = r.text().await.unwrap();
    assert_eq!(
        slot_message(&page, "form-error").as_deref(),
        Some(LIMITED_15_MIN)
    );
    assert_eq!(app.binding_count().await, 0);

    // The API shares the count.
    let r = reqwest::Client::new()
        .post(format!("{}/api/oauth/qq/user/", app.base))
        .json(&json!({"mobile": "13800138000", "password": PASSWORD, "sms_code": "123456", "access_token": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert!(retry_after(&r) > 0);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["code"], "4290");

    // Another mobile is not locked.
    let r = b.post_bind(&form, "13900139000", PASSWORD, "123456").await;
    assert_eq!(r.status(), 400);
}

async fn one_client_ip_gets_60_refused_registrations_a_window(kind: Setup) {
    let app = spawn_app(kind).await;
    let b = app.browser();
    let csrf = b.csrf_from("/register/").await;
    for _ in 0..limits::FORM_FAILS_PER_IP.limit {
        let r = b
            .post_form("/register/", &[("csrf_token", csrf.as_str())])
            .await;
        assert_eq!(r.status(), 400);
    }
    let r = b
        .post_form("/register/", &[("csrf_token", csrf.as_str())])
        .await;
    assert_eq!(r.status(), 429);
    let page = r.text().await.unwrap();
    assert_eq!(
        slot_message(&page, "form-error").as_deref(),
        Some(LIMITED_15_MIN)
    );
}

async fn rate_limits_off_lifts_the_limits_but_not_the_60_second_sms_flag(kind: Setup) {
    let app = spawn_app_with(kind, |s| s.rate_limits = false).await;
    let user = app.create_user("13800138000", PASSWORD).await;
    let b = app.browser();
    for _ in 0..limits::LOGIN_FAILS_PER_ACCOUNT.limit + 2 {
        assert_eq!(
            b.post_login(&user.username, "wrongpass1").await.status(),
            400
        );
    }
    assert_eq!(b.post_login(&user.username, PASSWORD).await.status(), 302);

    app.request_sms_code(&b, "13900139000").await;
    let id = uuid::Uuid::new_v4().to_string();
    let text = app.captcha(&b, &id).await;
    let r = b
        .get(&format!(
            "/sms_codes/13900139000/?image_code={text}&image_code_id={id}"
        ))
        .await;
    assert_eq!(r.status(), 429);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["code"], "4002", "the 60 s flag still holds");
}

async fn x_forwarded_for_counts_only_behind_a_trusted_proxy(kind: Setup) {
    for trusted in [false, true] {
        let app = spawn_app_with(kind, |s| {
            if trusted {
                s.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
            }
        })
        .await;
        let client = reqwest::Client::new();
        let fetch = |client_ip: &'static str| {
            client
                .get(format!(
                    "{}/image_codes/{}/",
                    app.base,
                    uuid::Uuid::new_v4()
                ))
                .header("X-Forwarded-For", client_ip)
                .send()
        };
        for _ in 0..limits::CAPTCHA_PER_IP.limit {
            assert_eq!(fetch("203.0.113.7").await.unwrap().status(), 200);
        }
        // Another client behind the proxy: its own count only when the proxy is trusted;
        // otherwise the header is anyone's to forge, and the socket's address counts.
        let status = fetch("198.51.100.9").await.unwrap().status();
        assert_eq!(status, if trusted { 200 } else { 429 }, "trusted={trusted}");
    }
}

crate::all_setups!(
    an_account_locks_after_5_failed_logins_and_says_when_to_retry,
    a_successful_login_clears_the_accounts_failures,
    one_client_ip_gets_30_failed_logins_a_window,
    one_client_ip_gets_20_sms_codes_an_hour,
    one_client_ip_gets_60_captchas_a_minute,
    one_client_ip_gets_60_availability_lookups_a_minute,
    a_mobile_gets_20_refused_binds_on_the_form_and_the_api,
    one_client_ip_gets_60_refused_registrations_a_window,
    rate_limits_off_lifts_the_limits_but_not_the_60_second_sms_flag,
    x_forwarded_for_counts_only_behind_a_trusted_proxy,
);
