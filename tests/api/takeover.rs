//! Issue 13: the account-takeover paths, tried as an intruder would. Every limit holds
//! under a burst of concurrent requests, a stranger's lock-out does not lock the owner
//! out, sessions end and stay ended, and the API's state belongs to its client.

use std::time::Duration;

use futures::future::join_all;
use qqbind::limits;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

const MOBILE: &str = "13800138000";
const WRONG: &str = "wrongpass1";
const NEEDS_CAPTCHA: &str = "请输入图形验证码";
/// The intruder's network and the owner's (behind the trusted proxy 127.0.0.1).
const INTRUDER_NET: &str = "203.0.113";
const OWNER_IP: &str = "198.51.100.7";

async fn behind_proxy(kind: Setup) -> TestApp {
    spawn_app_with(kind, |s| {
        s.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await
}

/// `POST path` from `browser` as the client at `ip` (the proxy's `X-Forwarded-For`).
async fn post_from(
    b: &Browser,
    ip: &str,
    path: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    b.client
        .post(format!("{}{path}", b.base))
        .header("X-Forwarded-For", ip)
        .form(fields)
        .send()
        .await
        .unwrap()
}

async fn login_from(
    b: &Browser,
    ip: &str,
    login: &str,
    password: &str,
    captcha: Option<(&str, &str)>,
) -> reqwest::Response {
    let csrf = b.csrf_from("/login/").await;
    let mut fields = vec![
        ("username", login),
        ("password", password),
        ("csrf_token", csrf.as_str()),
    ];
    if let Some((id, text)) = captcha {
        fields.push(("image_code_id", id));
        fields.push(("image_code", text));
    }
    post_from(b, ip, "/login/", &fields).await
}

/// Counts the answers of a burst: (wrong password evaluated, refused by a limit).
async fn tally(answers: Vec<reqwest::Response>) -> (usize, usize) {
    let (mut evaluated, mut limited) = (0, 0);
    for r in answers {
        match r.status() {
            StatusCode::BAD_REQUEST => evaluated += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                assert!(r.headers().contains_key("retry-after"));
                limited += 1
            }
            other => panic!("unexpected {other}: {}", r.text().await.unwrap()),
        }
    }
    (evaluated, limited)
}

async fn a_burst_of_wrong_passwords_evaluates_at_most_the_limit_then_the_captcha_is_needed(
    kind: Setup,
) {
    let app = behind_proxy(kind).await;
    let user = app.create_user(MOBILE, PASSWORD).await;
    let intruder = app.browser();
    let csrf = intruder.csrf_from("/login/").await;
    // 100 guesses at once, each from its own address of one /24: the per-address limit
    // never bites, the per-account-and-network one does, before bcrypt.
    let burst = (0..100).map(|i| {
        let (b, csrf, name) = (&intruder, csrf.clone(), user.username.clone());
        async move {
            let ip = format!("{INTRUDER_NET}.{}", i % 250 + 1);
            post_from(
                b,
                &ip,
                "/login/",
                &[
                    ("username", &name),
                    ("password", WRONG),
                    ("csrf_token", &csrf),
                ],
            )
            .await
        }
    });
    let (evaluated, limited) = tally(join_all(burst).await).await;
    assert_eq!(evaluated as i64, limits::LOGIN_FAILS_PER_ACCOUNT_NET.limit);
    assert_eq!(limited, 100 - evaluated);

    // The intruder's network is locked out, right password or not.
    let r = login_from(
        &intruder,
        &format!("{INTRUDER_NET}.9"),
        MOBILE,
        PASSWORD,
        None,
    )
    .await;
    assert_eq!(r.status(), 429);
    assert!(!intruder.is_logged_in().await);

    // The owner, from another network: the right password alone is not accepted...
    let owner = app.browser();
    let r = login_from(&owner, OWNER_IP, &user.username, PASSWORD, None).await;
    assert_eq!(r.status(), 400);
    let page = r.text().await.unwrap();
    assert_eq!(
        slot_message(&page, "image-code-error").as_deref(),
        Some(NEEDS_CAPTCHA)
    );
    let id = input_value(&page, "image_code_id").expect("the login form shows the captcha");
    assert!(!owner.is_logged_in().await);
    // ... nor with a wrong captcha ...
    let text = app.captcha(&owner, &id).await;
    let r = login_from(
        &owner,
        OWNER_IP,
        &user.username,
        PASSWORD,
        Some((&id, "zzzz")),
    )
    .await;
    assert_eq!(r.status(), 400);
    let page = r.text().await.unwrap();
    assert_eq!(
        slot_message(&page, "image-code-error").as_deref(),
        Some("输入图形验证码有误")
    );
    assert_ne!(text, "zzzz");
    // ... but with the captcha it is.
    let id = uuid::Uuid::new_v4().to_string();
    let text = app.captcha(&owner, &id).await;
    let r = login_from(
        &owner,
        OWNER_IP,
        &user.username,
        PASSWORD,
        Some((&id, &text)),
    )
    .await;
    assert_is_redirect_to(&r, "/");
    assert!(owner.is_logged_in().await);
    // His success does not unlock the intruder's network.
    let r = login_from(
        &intruder,
        &format!("{INTRUDER_NET}.10"),
        MOBILE,
        PASSWORD,
        None,
    )
    .await;
    assert_eq!(r.status(), 429);
}

async fn a_burst_of_guesses_on_the_bind_forms_row_7_evaluates_at_most_the_limit(kind: Setup) {
    let app = behind_proxy(kind).await;
    app.create_user(MOBILE, PASSWORD).await;
    let intruder = app.browser();
    let form = app.reach_bind_form(&intruder, OPENID, "/").await;
    // The worst case: the intruder even has the SMS code.
    app.give_sms_code(MOBILE, "123456").await;
    let burst = (0..100).map(|_| {
        let (b, form) = (&intruder, form.clone());
        async move {
            post_from(
                b,
                &format!("{INTRUDER_NET}.5"),
                "/oauth_callback/",
                &[
                    ("mobile", MOBILE),
                    ("password", WRONG),
                    ("sms_code", "123456"),
                    ("access_token", &form.access_token),
                    ("csrf_token", &form.csrf_token),
                ],
            )
            .await
        }
    });
    let answers = join_all(burst).await;
    let mut wrong = 0;
    let mut limited = 0;
    for r in answers {
        let status = r.status();
        let page = r.text().await.unwrap();
        match status.as_u16() {
            400 => {
                assert_eq!(
                    slot_message(&page, "account-error").as_deref(),
                    Some("用户名或密码错误")
                );
                wrong += 1;
            }
            429 => limited += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert!(
        wrong as i64 <= limits::LOGIN_FAILS_PER_ACCOUNT_NET.limit,
        "{wrong} passwords evaluated"
    );
    assert_eq!(wrong + limited, 100);
    // The right password from the same network: locked out; nothing bound.
    let r = post_from(
        &intruder,
        &format!("{INTRUDER_NET}.6"),
        "/oauth_callback/",
        &[
            ("mobile", MOBILE),
            ("password", PASSWORD),
            ("sms_code", "123456"),
            ("access_token", &form.access_token),
            ("csrf_token", &form.csrf_token),
        ],
    )
    .await;
    assert_eq!(r.status(), 429);
    assert_eq!(app.binding_count().await, 0);

    // The owner binds his own QQ from his network: the form's captcha is needed too.
    let owner = app.browser();
    let form = app.reach_bind_form(&owner, OPENID_2, "/").await;
    let fields = |captcha: &str| {
        vec![
            ("mobile", MOBILE.to_owned()),
            ("password", PASSWORD.to_owned()),
            ("sms_code", "123456".to_owned()),
            ("access_token", form.access_token.clone()),
            ("csrf_token", form.csrf_token.clone()),
            ("image_code_id", form.image_code_id.clone()),
            ("image_code", captcha.to_owned()),
        ]
    };
    let send = |f: Vec<(&'static str, String)>| {
        let owner = &owner;
        async move {
            let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
            post_from(owner, OWNER_IP, "/oauth_callback/", &f).await
        }
    };
    let r = send(fields("")).await;
    assert_eq!(r.status(), 400);
    let page = r.text().await.unwrap();
    assert_eq!(
        slot_message(&page, "image-code-error").as_deref(),
        Some(NEEDS_CAPTCHA)
    );
    let text = app.captcha(&owner, &form.image_code_id).await;
    let r = send(fields(&text)).await;
    assert_eq!(r.status(), 302, "{}", r.text().await.unwrap());
    let user = app.user_by_mobile(MOBILE).await.unwrap();
    assert_eq!(app.binding_of(OPENID_2).await.unwrap().user_id, user.id);
    let entry = &app.audit_of(user.id).await[0];
    assert_eq!(entry.action, "qq_bind");
    assert_eq!(
        (entry.ip.as_str(), entry.channel.as_str()),
        (OWNER_IP, "form")
    );
}

/// The API's "bind an existing account" shares the account's one counter with `/login/`.
async fn the_api_bind_is_no_second_password_oracle(kind: Setup) {
    let app = behind_proxy(kind).await;
    let user = app.create_user(MOBILE, PASSWORD).await;
    let api = reqwest::Client::new();
    let url = format!("{}/api/oauth/qq/user/", app.base);
    let put = |ip: &str, body: Value| {
        api.put(&url)
            .header("X-Forwarded-For", ip)
            .json(&body)
            .send()
    };
    let token = api_access_token(&app, OPENID).await;
    app.give_sms_code(MOBILE, "123456").await;
    let burst = (0..100).map(|i| {
        let body = json!({"username": user.username, "password": WRONG, "sms_code": "123456", "access_token": token});
        let ip = format!("{INTRUDER_NET}.{}", i % 250 + 1);
        async move { put(&ip, body).await.unwrap() }
    });
    let (evaluated, limited) = tally(join_all(burst).await).await;
    assert!(
        evaluated as i64 <= limits::LOGIN_FAILS_PER_ACCOUNT_NET.limit,
        "{evaluated}"
    );
    assert_eq!(evaluated + limited, 100);
    let right = json!({"username": MOBILE, "password": PASSWORD, "sms_code": "123456", "access_token": token});
    let r = put(&format!("{INTRUDER_NET}.1"), right.clone())
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], "4290");
    // `/login/` from another network now needs the captcha: one counter per account.
    let b = app.browser();
    let r = login_from(&b, OWNER_IP, MOBILE, PASSWORD, None).await;
    assert_eq!(r.status(), 400);
    assert_eq!(
        slot_message(&r.text().await.unwrap(), "image-code-error").as_deref(),
        Some(NEEDS_CAPTCHA)
    );
    // And the API from there: refused without it, bound with it.
    let r = put(OWNER_IP, right.clone()).await.unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        (body["code"].as_str(), body["errmsg"].as_str()),
        (Some("4001"), Some(NEEDS_CAPTCHA))
    );
    let id = uuid::Uuid::new_v4().to_string();
    let text = app.captcha(&b, &id).await;
    let mut with_captcha = right;
    with_captcha["image_code_id"] = json!(id);
    with_captcha["image_code"] = json!(text);
    let r = put(OWNER_IP, with_captcha).await.unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(app.binding_of(OPENID).await.unwrap().user_id, user.id);
}

/// The signed openid token the JSON API gives a QQ that is not bound yet.
async fn api_access_token(app: &TestApp, openid: &str) -> String {
    let client = reqwest::Client::new();
    let v: Value = client
        .get(format!(
            "{}/api/oauth/qq/authorization/?code_challenge={}&code_challenge_method=S256",
            app.base,
            crate::json_api::CHALLENGE
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let auth_url = url::Url::parse(v["auth_url"].as_str().unwrap()).unwrap();
    let state = auth_url
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let v: Value = client
        .get(format!(
            "{}/api/oauth/qq/user/?code=code-{openid}&state={}&code_verifier={}",
            app.base,
            urlencode(&state),
            crate::json_api::VERIFIER
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["access_token"].as_str().unwrap().to_owned()
}

/// Strangers locking a mobile's bind from their network leave the owner's network free.
async fn junk_binds_naming_a_mobile_lock_only_their_network(kind: Setup) {
    let app = behind_proxy(kind).await;
    let b = app.browser();
    let form = app.reach_bind_form(&b, OPENID, "/").await;
    app.give_sms_code(MOBILE, "123456").await;
    let junk = |ip: String| {
        let (b, form) = (&b, form.clone());
        async move {
            post_from(
                b,
                &ip,
                "/oauth_callback/",
                &[
                    ("mobile", MOBILE),
                    ("password", PASSWORD),
                    ("sms_code", "123456"),
                    ("access_token", "forged"),
                    ("csrf_token", &form.csrf_token),
                ],
            )
            .await
            .status()
        }
    };
    let burst = (0..40).map(|i| junk(format!("{INTRUDER_NET}.{}", i + 1)));
    let statuses = join_all(burst).await;
    let refused = statuses.iter().filter(|s| s.as_u16() == 400).count();
    assert_eq!(refused as i64, limits::BIND_FAILS_PER_ACCOUNT_NET.limit);
    assert!(statuses.iter().all(|s| matches!(s.as_u16(), 400 | 429)));
    // The owner, elsewhere, with the captcha: bound.
    let owner = app.browser();
    let form = app.reach_bind_form(&owner, OPENID, "/").await;
    let text = app.captcha(&owner, &form.image_code_id).await;
    let r = post_from(
        &owner,
        OWNER_IP,
        "/oauth_callback/",
        &[
            ("mobile", MOBILE),
            ("password", PASSWORD),
            ("sms_code", "123456"),
            ("access_token", &form.access_token),
            ("csrf_token", &form.csrf_token),
            ("image_code_id", &form.image_code_id),
            ("image_code", &text),
        ],
    )
    .await;
    assert_is_redirect_to(&r, "/");
    assert!(app.binding_of(OPENID).await.is_some());
}

/// Redis stopped: nothing that checks a password or binds goes through unlimited.
async fn with_the_store_down_password_checks_and_binds_answer_503(kind: Setup) {
    if !kind.runs_here() {
        return;
    }
    let mut app = spawn_app(kind).await;
    let user = app.create_user(MOBILE, PASSWORD).await;
    let b = app.browser();
    let form = app.reach_bind_form(&b, OPENID, "/").await;
    let token = api_access_token(&app, OPENID_2).await;
    app.redis.as_mut().unwrap().stop();

    for _ in 0..12 {
        assert_eq!(b.post_login(&user.username, WRONG).await.status(), 503);
    }
    let r = b.post_login(&user.username, PASSWORD).await;
    assert_eq!(r.status(), 503);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("服务暂时不可用，请稍后再试"));
    assert!(!b.is_logged_in().await);
    let r = b.post_bind(&form, MOBILE, PASSWORD, "123456").await;
    assert_eq!(r.status(), 503);
    let api = reqwest::Client::new();
    let url = format!("{}/api/oauth/qq/user/", app.base);
    for r in [
        api.post(&url)
            .json(&json!({"mobile": MOBILE, "password": PASSWORD, "sms_code": "123456", "access_token": token}))
            .send()
            .await
            .unwrap(),
        api.put(&url)
            .json(&json!({"username": MOBILE, "password": PASSWORD, "sms_code": "123456", "access_token": token}))
            .send()
            .await
            .unwrap(),
    ] {
        assert_eq!(r.status(), 503);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["code"], "5000");
    }
    assert_eq!(app.binding_count().await, 0);
}

async fn an_idle_session_ends_and_activity_keeps_it(kind: Setup) {
    let app = spawn_app_with_manual_clock(kind, |s| {
        s.session_idle_timeout = Duration::from_secs(7_200)
    })
    .await;
    app.create_user(MOBILE, PASSWORD).await;
    let b = app.logged_in(MOBILE, PASSWORD).await;
    // Used every hour: alive for five hours, past the 2 h idle timeout.
    for _ in 0..5 {
        app.state.clock.advance(3_600);
        assert!(b.is_logged_in().await);
    }
    app.state.clock.advance(7_201);
    assert!(!b.is_logged_in().await, "idle for 2 h and a second: over");
    // And over for good: the cookie was ended, not just refused once.
    app.state.clock.advance(-7_201);
    assert!(!b.is_logged_in().await);
}

async fn a_remembered_session_may_sit_idle_for_14_days(kind: Setup) {
    let app = spawn_app_with_manual_clock(kind, |_| {}).await;
    app.create_user(MOBILE, PASSWORD).await;
    let b = app.browser();
    let csrf = b.csrf_from("/login/").await;
    let r = b
        .post_form(
            "/login/",
            &[
                ("username", MOBILE),
                ("password", PASSWORD),
                ("remembered", "1"),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_is_redirect_to(&r, "/");
    app.state.clock.advance(13 * 86_400);
    assert!(b.is_logged_in().await, "13 idle days: still in");
    app.state.clock.advance(14 * 86_400 + 1);
    assert!(!b.is_logged_in().await, "14 idle days and a second: over");
}

async fn a_session_ends_at_its_maximum_age_whatever_its_activity(kind: Setup) {
    let app = spawn_app_with_manual_clock(kind, |_| {}).await;
    app.create_user(MOBILE, PASSWORD).await;
    let b = app.logged_in(MOBILE, PASSWORD).await;
    // Used every hour for 14 days (never idle), then a second past them.
    for _ in 0..(14 * 24) {
        app.state.clock.advance(3_600);
        if !b.is_logged_in().await {
            panic!("ended early");
        }
    }
    app.state.clock.advance(1);
    assert!(
        !b.is_logged_in().await,
        "14 days and a second after the login: over"
    );
}

/// Logging in again from the same browser ends its last login: a copy of the old cookie
/// is refused, and the store keeps one live session for the browser, not one per login.
async fn a_browser_logging_in_again_leaves_no_live_copy_of_its_last_login(kind: Setup) {
    let app = spawn_app(kind).await;
    app.create_user(MOBILE, PASSWORD).await;
    let b = app.logged_in(MOBILE, PASSWORD).await;
    let copy = b.cookie_header();
    assert_eq!(replay(&app, &copy, "/info/").await, 200, "the control");
    assert_is_redirect_to(&b.post_login(MOBILE, PASSWORD).await, "/");
    assert!(b.is_logged_in().await);
    assert_eq!(replay(&app, &copy, "/info/").await, 302);
}

/// A copy of a cookie, sent from anywhere.
async fn replay(app: &TestApp, cookie: &str, path: &str) -> StatusCode {
    replay_cookie(&app.base, cookie, path).await
}

/// A logged-out cookie stays logged out: a session is live only while the code store
/// holds it, so there is no revocation record that could expire, and an in-process store
/// that restarts knows no session at all.
async fn a_logged_out_cookie_stays_out_after_a_restart_of_the_in_process_store(kind: Setup) {
    let app = spawn_app(kind).await;
    app.create_staff("operator", MOBILE).await;
    let b = app.logged_in("operator", STAFF_PASSWORD).await;
    assert_eq!(b.get("/admin/").await.status(), 200);
    let copy = b.cookie_header();
    let csrf = b.csrf_from("/info/").await;
    assert_is_redirect_to(
        &b.post_form("/logout/", &[("csrf_token", &csrf)]).await,
        "/login/",
    );
    assert_eq!(replay(&app, &copy, "/admin/").await, 302);

    // The same database and SECRET_KEY, a new process with a new in-process store.
    let again = spawn_app_with(kind, |s| s.database_url = app.database_url.clone()).await;
    assert_eq!(replay(&again, &copy, "/admin/").await, 302);
    assert_eq!(replay(&again, &copy, "/info/").await, 302);
}

/// Disabling ends the account's sessions and API tokens for good: enabling it again
/// does not bring them back.
async fn disable_then_enable_leaves_old_cookies_and_jwts_refused(kind: Setup) {
    let app = spawn_app(kind).await;
    let user = app.create_user(MOBILE, PASSWORD).await;
    let b = app.logged_in(MOBILE, PASSWORD).await;
    let copy = b.cookie_header();
    let token = api_access_token(&app, OPENID).await;
    app.give_sms_code(MOBILE, "123456").await;
    let api = reqwest::Client::new();
    let bound: Value = api
        .post(format!("{}/api/oauth/qq/user/", app.base))
        .json(&json!({"mobile": MOBILE, "password": PASSWORD, "sms_code": "123456", "access_token": token}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let jwt = format!("JWT {}", bound["token"].as_str().unwrap());
    let me = |jwt: String| {
        let api = api.clone();
        let url = format!("{}/api/user/", app.base);
        async move {
            api.get(url)
                .header("Authorization", jwt)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(me(jwt.clone()).await, 200, "the control");
    assert_eq!(replay(&app, &copy, "/info/").await, 200, "the control");

    app.set_active(user.id, false).await;
    assert_eq!(replay(&app, &copy, "/info/").await, 302);
    assert_eq!(me(jwt.clone()).await, 403);
    app.set_active(user.id, true).await;
    assert_eq!(replay(&app, &copy, "/info/").await, 302);
    assert_eq!(me(jwt).await, 401);
    assert_eq!(app.user(user.id).await.session_epoch, 1);
    // A fresh login works as ever.
    let b = app.logged_in(MOBILE, PASSWORD).await;
    assert!(b.is_logged_in().await);
}

/// An intruder's `code` + `state` are worth nothing to another client: the state carries
/// its maker's PKCE challenge, and QQ is not asked without the verifier.
async fn an_api_state_is_redeemed_only_with_its_verifier(kind: Setup) {
    let app = spawn_app(kind).await;
    let client = reqwest::Client::new();
    let get = |path: String| {
        let client = client.clone();
        let base = app.base.clone();
        async move {
            let r = client.get(format!("{base}{path}")).send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    // No challenge, a plain one, a malformed one: no state at all.
    for q in [
        String::new(),
        format!(
            "?code_challenge={}&code_challenge_method=plain",
            crate::json_api::CHALLENGE
        ),
        "?code_challenge=short&code_challenge_method=S256".to_owned(),
    ] {
        let (status, body) = get(format!("/api/oauth/qq/authorization/{q}")).await;
        assert_eq!(status, 400, "{q}: {body}");
        assert!(body.get("auth_url").is_none());
        let expected = if q.is_empty() {
            ("4003", "缺少必传参数 code_challenge")
        } else {
            (
                "4006",
                "code_challenge须为S256（base64url编码的SHA-256，43个字符），code_challenge_method=S256",
            )
        };
        let got = (
            body["code"].as_str().unwrap(),
            body["errmsg"].as_str().unwrap(),
        );
        assert_eq!(got, expected);
    }
    let (_, body) = get(format!(
        "/api/oauth/qq/authorization/?code_challenge={}&code_challenge_method=S256",
        crate::json_api::CHALLENGE
    ))
    .await;
    let auth_url = url::Url::parse(body["auth_url"].as_str().unwrap()).unwrap();
    let state = auth_url
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let redeem = |verifier: &str| {
        format!(
            "/api/oauth/qq/user/?code=code-{OPENID}&state={}{verifier}",
            urlencode(&state)
        )
    };
    let other_verifier = "x".repeat(43);
    for verifier in [
        String::new(),
        format!("&code_verifier={other_verifier}"),
        "&code_verifier=short".to_owned(),
    ] {
        let (status, body) = get(redeem(&verifier)).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("4006")),
            "{verifier}"
        );
        assert_eq!(
            body["errmsg"],
            "code_verifier与发起QQ登录时的code_challenge不符"
        );
    }
    assert_eq!(app.qq.token_calls(), 0, "QQ was not asked");
    // Its own client still can, once.
    let (status, body) = get(redeem(&format!(
        "&code_verifier={}",
        crate::json_api::VERIFIER
    )))
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["access_token"].is_string());
    assert_eq!(app.qq.token_calls(), 1);
}

/// A lock held elsewhere during a bind: 503, and the SMS code still works afterwards.
async fn a_database_lock_during_a_bind_is_a_503_that_leaves_the_sms_code_usable(kind: Setup) {
    let app = spawn_app_with(kind, |s| s.db_busy_timeout = Duration::from_millis(300)).await;
    let user = app.create_user(MOBILE, PASSWORD).await;
    let b = app.browser();
    let form = app.reach_bind_form(&b, OPENID, "/").await;
    app.give_sms_code(MOBILE, "123456").await;
    let held = crate::faults::HeldLock::take(&app, MOBILE);
    assert_unavailable(b.post_bind(&form, MOBILE, PASSWORD, "123456").await).await;
    held.release();
    assert_eq!(
        app.stored_sms_code(MOBILE).await.as_deref(),
        Some("123456"),
        "the code was put back"
    );
    let r = b.post_bind(&form, MOBILE, PASSWORD, "123456").await;
    assert_is_redirect_to(&r, "/");
    assert_eq!(app.binding_of(OPENID).await.unwrap().user_id, user.id);
}

/// Starting a QQ login stores a state: one client gets 30 a minute.
async fn qq_login_starts_are_limited_per_client(kind: Setup) {
    let app = spawn_app(kind).await;
    let b = app.browser();
    let burst = (0..limits::QQ_LOGINS_PER_IP.limit + 10).map(|i| {
        let b = &b;
        async move {
            let path = if i % 2 == 0 {
                "/qq/login/?next=/"
            } else {
                "/qq/authorize/?next=/"
            };
            b.get(path).await.status().as_u16()
        }
    });
    let statuses = join_all(burst).await;
    let ok = statuses.iter().filter(|s| matches!(s, 200 | 302)).count();
    assert_eq!(ok as i64, limits::QQ_LOGINS_PER_IP.limit);
    assert!(statuses.iter().all(|s| matches!(s, 200 | 302 | 429)));
    let r = b.get("/qq/login/?next=/").await;
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], "4290");
    assert_eq!(body["errmsg"], "操作过于频繁，请1分钟后再试");
}

/// SMS codes per client are counted before anything is sent: a burst of requests, each
/// with a right captcha for its own mobile, sends exactly the limit.
async fn a_burst_of_sms_requests_sends_at_most_the_limit(kind: Setup) {
    let app = spawn_app(kind).await;
    let b = app.browser();
    let mut asks = Vec::new();
    for i in 0..limits::SMS_PER_IP.limit + 10 {
        let id = uuid::Uuid::new_v4().to_string();
        let text = app.captcha(&b, &id).await;
        asks.push(format!(
            "/sms_codes/1390000{i:04}/?image_code={text}&image_code_id={id}"
        ));
    }
    let answers = join_all(asks.iter().map(|path| {
        let b = &b;
        async move {
            let r = b.get(path).await;
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap())
        }
    }))
    .await;
    let sent = answers.iter().filter(|(s, _)| *s == 200).count();
    assert_eq!(sent as i64, limits::SMS_PER_IP.limit);
    for (status, body) in answers.iter().filter(|(s, _)| *s != 200) {
        assert_eq!(*status, 429);
        assert_eq!(body["code"], "4290");
        assert_eq!(body["errmsg"], "操作过于频繁，请60分钟后再试");
    }
    let outbox = app.state.sms.outbox().unwrap().entries();
    assert_eq!(
        outbox.len() as i64,
        limits::SMS_PER_IP.limit,
        "only those were sent"
    );
}

/// An IPv6 client is counted per /64: hopping addresses inside it does not help.
async fn ipv6_clients_are_counted_per_64(kind: Setup) {
    let app = behind_proxy(kind).await;
    let client = reqwest::Client::new();
    let fetch = |ip: String| {
        let client = client.clone();
        let url = format!("{}/image_codes/{}/", app.base, uuid::Uuid::new_v4());
        async move {
            client
                .get(url)
                .header("X-Forwarded-For", ip)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    for i in 0..limits::CAPTCHA_PER_IP.limit {
        assert_eq!(fetch(format!("2001:db8:1:2::{:x}", i + 1)).await, 200);
    }
    assert_eq!(fetch("2001:db8:1:2:ffff::1".to_owned()).await, 429);
    assert_eq!(
        fetch("2001:db8:1:3::1".to_owned()).await,
        200,
        "another /64"
    );
}

crate::all_setups!(
    a_burst_of_wrong_passwords_evaluates_at_most_the_limit_then_the_captcha_is_needed,
    a_burst_of_guesses_on_the_bind_forms_row_7_evaluates_at_most_the_limit,
    the_api_bind_is_no_second_password_oracle,
    junk_binds_naming_a_mobile_lock_only_their_network,
    an_idle_session_ends_and_activity_keeps_it,
    a_remembered_session_may_sit_idle_for_14_days,
    a_session_ends_at_its_maximum_age_whatever_its_activity,
    disable_then_enable_leaves_old_cookies_and_jwts_refused,
    a_browser_logging_in_again_leaves_no_live_copy_of_its_last_login,
    an_api_state_is_redeemed_only_with_its_verifier,
    a_database_lock_during_a_bind_is_a_503_that_leaves_the_sms_code_usable,
    qq_login_starts_are_limited_per_client,
    ipv6_clients_are_counted_per_64,
    a_burst_of_sms_requests_sends_at_most_the_limit,
);

mod redis_down {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::with_the_store_down_password_checks_and_binds_answer_503(
            crate::helpers::Setup::REDIS,
        )
        .await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::with_the_store_down_password_checks_and_binds_answer_503(
            crate::helpers::Setup::REDIS.on(qqbind::db::Backend::Postgres),
        )
        .await
    }
}

mod restart {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::a_logged_out_cookie_stays_out_after_a_restart_of_the_in_process_store(
            crate::helpers::Setup::MEMORY,
        )
        .await
    }
}
