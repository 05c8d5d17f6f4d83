//! Password recovery (找回密码): `/password/reset/`, `purpose=reset` codes, and
//! `POST /api/password/reset/`.

use qqbind::codes::keys;
use serde_json::{json, Value};

use crate::helpers::*;

const MOBILE: &str = "13800138000";
const UNKNOWN: &str = "13911112222";
const NEW_PASSWORD: &str = "newpass2026";

/// Asks for a reset code for `mobile` through the captcha: the JSON answer.
async fn ask_reset_code(app: &TestApp, b: &Browser, mobile: &str) -> (u16, Value) {
    let r = app.ask_sms_code(b, mobile, Some("reset")).await;
    (r.status().as_u16(), r.json().await.unwrap())
}

async fn reset_code(app: &TestApp, mobile: &str) -> Option<String> {
    app.codes().get(&keys::sms_reset(mobile)).await.unwrap()
}

/// The recovery form posted with this browser's CSRF token.
async fn post_reset(b: &Browser, fields: &[(&str, &str)]) -> reqwest::Response {
    let csrf = b.csrf_from("/password/reset/").await;
    let mut all = fields.to_vec();
    all.push(("csrf_token", &csrf));
    b.post_form("/password/reset/", &all).await
}

fn fields<'a>(
    mobile: &'a str,
    code: &'a str,
    pw: &'a str,
    pw2: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("mobile", mobile),
        ("sms_code", code),
        ("password", pw),
        ("password2", pw2),
    ]
}

async fn login_status(app: &TestApp, login: &str, password: &str) -> u16 {
    app.browser()
        .post_login(login, password)
        .await
        .status()
        .as_u16()
}

async fn a_forgotten_password_is_reset_by_a_code_and_every_session_ends(kind: Setup) {
    let app = spawn_app(kind).await;
    let user = app.create_user(MOBILE, PASSWORD).await;
    let elsewhere = app.logged_in(MOBILE, PASSWORD).await;
    let stolen = elsewhere.cookie_header();

    let b = app.browser();
    let page = b.get(&format!("/password/reset/?mobile={MOBILE}")).await;
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert_eq!(
        input_value(&page, "mobile").as_deref(),
        Some(MOBILE),
        "filled in"
    );
    for name in [
        "sms_code",
        "password",
        "password2",
        "csrf_token",
        "image_code",
    ] {
        assert!(input_value(&page, name).is_some(), "field {name}");
    }

    let (status, body) = ask_reset_code(&app, &b, MOBILE).await;
    assert_eq!(
        (status, body),
        (200, json!({"code": "0", "errmsg": "发送短信成功"}))
    );
    let code = app.sent_sms(MOBILE).expect("a code was sent");
    assert_eq!(
        reset_code(&app, MOBILE).await.as_deref(),
        Some(code.as_str())
    );
    assert!(app
        .codes()
        .get(&keys::send_flag_reset(MOBILE))
        .await
        .unwrap()
        .is_some());
    assert_eq!(app.stored_sms_code(MOBILE).await, None, "not a bind code");

    let r = post_reset(&b, &fields(MOBILE, &code, NEW_PASSWORD, NEW_PASSWORD)).await;
    assert_is_redirect_to(&r, "/login/");
    let login = b.get("/login/").await.text().await.unwrap();
    assert!(login.contains("密码已重置，请用新密码登录"), "the notice");
    assert_eq!(
        input_value(&login, "username").as_deref(),
        Some(MOBILE),
        "the mobile filled in"
    );
    assert!(
        between(&login, "id=\"password\"", ">")
            .unwrap()
            .contains("autofocus"),
        "the password is next"
    );
    let plain = b.get("/login/").await.text().await.unwrap();
    assert!(!between(&plain, "id=\"password\"", ">")
        .unwrap()
        .contains("autofocus"));

    assert_eq!(
        login_status(&app, MOBILE, NEW_PASSWORD).await,
        302,
        "new works"
    );
    assert_eq!(
        login_status(&app, MOBILE, PASSWORD).await,
        400,
        "old does not"
    );
    assert!(!elsewhere.is_logged_in().await, "the other session ended");
    assert_eq!(replay_cookie(&app.base, &stolen, "/info/").await, 302);
    assert_eq!(reset_code(&app, MOBILE).await, None, "the code is used up");
    let audit = app.audit_actions(user.id).await;
    assert!(audit.contains(&"password_reset".to_owned()), "{audit:?}");
    let entry = app.audit_of(user.id).await.into_iter().next().unwrap();
    assert_eq!(
        (entry.channel.as_str(), entry.ip.as_str()),
        ("form", "127.0.0.1")
    );

    // The used code does not work twice.
    let r = post_reset(&b, &fields(MOBILE, &code, "another2026", "another2026")).await;
    assert_eq!(r.status(), 400);
    assert_eq!(login_status(&app, MOBILE, NEW_PASSWORD).await, 302);
}

/// The form's fields, the slot of the message, the message.
type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);

async fn every_refusal_is_a_400_by_field_and_changes_nothing(kind: Setup) {
    let app = spawn_app(kind).await;
    let user = app.create_user(MOBILE, PASSWORD).await;
    let b = app.browser();
    app.codes()
        .set_ex(&keys::sms_reset(MOBILE), "654321", keys::SMS_CODE_TTL)
        .await
        .unwrap();
    let cases: &[Case] = &[
        (&[("mobile", MOBILE)], "form-error", "缺少必传参数"),
        (
            &fields("1380013800", "654321", NEW_PASSWORD, NEW_PASSWORD),
            "mobile-error",
            "请输入正确的手机号码",
        ),
        (
            &fields(MOBILE, "654321", "short", "short"),
            "password-error",
            "请输入8-20位的密码",
        ),
        (
            &fields(MOBILE, "654321", "has space 1", "has space 1"),
            "password-error",
            "请输入8-20位的密码",
        ),
        (
            &fields(MOBILE, "654321", NEW_PASSWORD, "newpass2027"),
            "password2-error",
            "两次密码不一致",
        ),
        (
            &fields(MOBILE, "111111", NEW_PASSWORD, NEW_PASSWORD),
            "sms-code-error",
            "输入短信验证码有误",
        ),
        (
            &fields("13700137000", "654321", NEW_PASSWORD, NEW_PASSWORD),
            "sms-code-error",
            "无效的短信验证码",
        ),
    ];
    for (form, slot, message) in cases {
        let r = post_reset(&b, form).await;
        assert_eq!(r.status(), 400, "{message}");
        let page = r.text().await.unwrap();
        assert_eq!(
            slot_message(&page, slot).as_deref(),
            Some(*message),
            "{form:?}"
        );
        assert!(!page.contains(NEW_PASSWORD), "passwords are never echoed");
        let mobile = form.iter().find(|(k, _)| *k == "mobile").map(|(_, v)| *v);
        assert_eq!(
            input_value(&page, "mobile").as_deref(),
            mobile,
            "the mobile is kept"
        );
    }
    // No CSRF token: 403.
    let r = b
        .post_form(
            "/password/reset/",
            &fields(MOBILE, "654321", NEW_PASSWORD, NEW_PASSWORD),
        )
        .await;
    assert_eq!(r.status(), 403);
    assert_eq!(app.user(user.id).await.password, user.password, "unchanged");
    assert_eq!(app.user(user.id).await.session_epoch, user.session_epoch);
    // The right code still works after all that (one wrong try of five).
    let r = post_reset(&b, &fields(MOBILE, "654321", NEW_PASSWORD, NEW_PASSWORD)).await;
    assert_is_redirect_to(&r, "/login/");
}

async fn a_bind_code_never_resets_and_a_reset_code_never_binds(kind: Setup) {
    let app = spawn_app(kind).await;
    app.create_user(MOBILE, PASSWORD).await;
    let b = app.browser();
    app.give_sms_code(MOBILE, "123456").await;
    let r = post_reset(&b, &fields(MOBILE, "123456", NEW_PASSWORD, NEW_PASSWORD)).await;
    assert_eq!(r.status(), 400);
    assert_eq!(
        slot_message(&r.text().await.unwrap(), "sms-code-error").as_deref(),
        Some("无效的短信验证码")
    );
    assert_eq!(app.stored_sms_code(MOBILE).await.as_deref(), Some("123456"));

    // A reset code on the bind form: row 4.
    let qq = app.browser();
    let form = app.reach_bind_form(&qq, OPENID, "/").await;
    app.codes().delete(&keys::sms(MOBILE)).await.unwrap();
    app.codes()
        .set_ex(&keys::sms_reset(MOBILE), "654321", keys::SMS_CODE_TTL)
        .await
        .unwrap();
    let r = qq.post_bind(&form, MOBILE, PASSWORD, "654321").await;
    assert_eq!(r.status(), 400);
    assert_eq!(
        slot_message(&r.text().await.unwrap(), "sms-code-error").as_deref(),
        Some("无效的短信验证码")
    );
    assert_eq!(app.binding_count().await, 0);
    assert_eq!(reset_code(&app, MOBILE).await.as_deref(), Some("654321"));
    // Each purpose has its own 60 s flag: a reset code does not block a bind code.
    let (status, _) = ask_reset_code(&app, &b, MOBILE).await;
    assert_eq!(status, 200);
    assert_eq!(app.request_sms_code(&b, MOBILE).await.len(), 6);
}

async fn asking_for_a_code_tells_nobody_whether_the_mobile_has_an_account(kind: Setup) {
    let app = spawn_app(kind).await;
    app.create_user(MOBILE, PASSWORD).await;
    let b = app.browser();
    let known = ask_reset_code(&app, &b, MOBILE).await;
    let unknown = ask_reset_code(&app, &b, UNKNOWN).await;
    assert_eq!(known, unknown, "the same answer");
    assert_eq!(unknown.0, 200);
    assert!(app.sent_sms(MOBILE).is_some());
    assert_eq!(
        app.sent_sms(UNKNOWN),
        None,
        "nothing sent to a mobile with no account"
    );
    let marker = reset_code(&app, UNKNOWN).await;
    assert!(
        marker
            .as_deref()
            .is_some_and(|m| !m.chars().any(|c| c.is_ascii_digit())),
        "no code stored, only a marker no code matches: {marker:?}"
    );
    // Again at once: both 429 4002.
    let known = ask_reset_code(&app, &b, MOBILE).await;
    let unknown = ask_reset_code(&app, &b, UNKNOWN).await;
    assert_eq!(known, unknown);
    assert_eq!((known.0, known.1["code"].as_str()), (429, Some("4002")));

    // Submitting a guess: the unknown mobile hears what a wrong code hears.
    let mut answers = Vec::new();
    for mobile in [MOBILE, UNKNOWN] {
        let r = post_reset(&b, &fields(mobile, "000000", NEW_PASSWORD, NEW_PASSWORD)).await;
        let status = r.status().as_u16();
        answers.push((
            status,
            slot_message(&r.text().await.unwrap(), "sms-code-error"),
        ));
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[0], (400, Some("输入短信验证码有误".to_owned())));
    // Typing the marker itself gets nowhere either.
    let r = post_reset(
        &b,
        &fields(
            UNKNOWN,
            marker.as_deref().unwrap(),
            NEW_PASSWORD,
            NEW_PASSWORD,
        ),
    )
    .await;
    assert_eq!(r.status(), 400);
    assert_eq!(app.user_count().await, 1);
}

async fn a_disabled_account_is_refused_and_keeps_its_password(kind: Setup) {
    let app = spawn_app(kind).await;
    let user = app.create_user(MOBILE, PASSWORD).await;
    app.set_active(user.id, false).await;
    let b = app.browser();
    let (status, _) = ask_reset_code(&app, &b, MOBILE).await;
    assert_eq!(status, 200);
    let code = app.sent_sms(MOBILE).unwrap();
    let r = post_reset(&b, &fields(MOBILE, &code, NEW_PASSWORD, NEW_PASSWORD)).await;
    assert_eq!(r.status(), 403);
    assert_eq!(
        slot_message(&r.text().await.unwrap(), "form-error").as_deref(),
        Some(qqbind::login::DISABLED_MESSAGE)
    );
    assert_eq!(app.user(user.id).await.password, user.password);
    assert!(!app
        .audit_actions(user.id)
        .await
        .contains(&"password_reset".to_owned()));
}

async fn one_code_resets_once_under_concurrent_submits(kind: Setup) {
    let app = spawn_app(kind).await;
    let user = app.create_user(MOBILE, PASSWORD).await;
    app.codes()
        .set_ex(&keys::sms_reset(MOBILE), "654321", keys::SMS_CODE_TTL)
        .await
        .unwrap();
    let browsers: Vec<(Browser, String)> = futures::future::join_all((0..8).map(|_| async {
        let b = app.browser();
        let csrf = b.csrf_from("/password/reset/").await;
        (b, csrf)
    }))
    .await;
    let answers = futures::future::join_all(browsers.iter().enumerate().map(|(i, (b, csrf))| {
        let pw = format!("parallel{i:02}x");
        async move {
            let mut f = fields(MOBILE, "654321", &pw, &pw);
            f.push(("csrf_token", csrf));
            (
                b.post_form("/password/reset/", &f).await.status().as_u16(),
                pw,
            )
        }
    }))
    .await;
    let winners: Vec<&String> = answers
        .iter()
        .filter(|(s, _)| *s == 302)
        .map(|(_, p)| p)
        .collect();
    assert_eq!(winners.len(), 1, "{answers:?}");
    assert!(
        answers.iter().all(|(s, _)| *s == 302 || *s == 400),
        "{answers:?}"
    );
    assert_eq!(login_status(&app, MOBILE, winners[0]).await, 302);
    let resets = app
        .audit_actions(user.id)
        .await
        .into_iter()
        .filter(|a| a == "password_reset")
        .count();
    assert_eq!(resets, 1);
}

async fn a_burst_of_guesses_on_one_mobile_is_limited(kind: Setup) {
    let app = spawn_app_with(kind, |s| {
        s.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    let user = app.create_user(MOBILE, PASSWORD).await;
    let b = app.browser();
    let csrf = b.csrf_from("/password/reset/").await;
    // Forty guesses at once from forty addresses, a fresh code in the store each time
    // one is killed: at most the per-mobile limit (20) are looked at.
    app.codes()
        .set_ex(&keys::sms_reset(MOBILE), "654321", keys::SMS_CODE_TTL)
        .await
        .unwrap();
    let answers = futures::future::join_all((0..40).map(|i| {
        let (b, csrf) = (b.clone(), csrf.clone());
        async move {
            let guess = format!("{:06}", 100_000 + i);
            let ip = format!("198.51.{i}.7");
            let mut f = fields(MOBILE, &guess, NEW_PASSWORD, NEW_PASSWORD);
            f.push(("csrf_token", &csrf));
            let r = b
                .client
                .post(format!("{}/password/reset/", b.base))
                .header("X-Forwarded-For", ip)
                .form(&f)
                .send()
                .await
                .unwrap();
            let limited = r.headers().contains_key("retry-after");
            (r.status().as_u16(), limited)
        }
    }))
    .await;
    let evaluated = answers.iter().filter(|(s, _)| *s == 400).count();
    let limited = answers.iter().filter(|(s, l)| *s == 429 && *l).count();
    assert!(evaluated <= 20, "{evaluated} evaluated: {answers:?}");
    assert_eq!(evaluated + limited, 40, "{answers:?}");
    assert_eq!(app.user(user.id).await.password, user.password);
    // The right code from yet another address is refused too, for the window.
    let mut f = fields(MOBILE, "654321", NEW_PASSWORD, NEW_PASSWORD);
    f.push(("csrf_token", &csrf));
    let r = b
        .client
        .post(format!("{}/password/reset/", b.base))
        .header("X-Forwarded-For", "203.0.113.99")
        .form(&f)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
}

async fn the_json_api_resets_through_the_same_rules(kind: Setup) {
    let app = spawn_app(kind).await;
    let user = app.create_user(MOBILE, PASSWORD).await;
    let client = reqwest::Client::new();
    let post = |body: Value| {
        let client = client.clone();
        let url = format!("{}/api/password/reset/", app.base);
        async move {
            let r = client.post(url).json(&body).send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    // The code by the API's SMS route.
    let b = app.browser();
    let id = uuid::Uuid::new_v4().to_string();
    let text = app.captcha(&b, &id).await;
    let r = b
        .get(&format!(
            "/api/sms_codes/{MOBILE}/?image_code={text}&image_code_id={id}&purpose=reset"
        ))
        .await;
    assert_eq!(r.status(), 200);
    let code = app.sent_sms(MOBILE).unwrap();
    assert_eq!(
        post(json!({"mobile": MOBILE, "sms_code": code, "password": NEW_PASSWORD, "password2": "other2026x"})).await,
        (400, json!({"code": "4009", "errmsg": "两次密码不一致"}))
    );
    assert_eq!(
        post(json!({"mobile": MOBILE})).await,
        (400, json!({"code": "4003", "errmsg": "缺少必传参数"}))
    );
    assert_eq!(
        post(json!({"mobile": UNKNOWN, "sms_code": "000000", "password": NEW_PASSWORD, "password2": NEW_PASSWORD})).await,
        (400, json!({"code": "4011", "errmsg": "无效的短信验证码"}))
    );
    assert_eq!(
        post(json!({"mobile": MOBILE, "sms_code": code, "password": NEW_PASSWORD, "password2": NEW_PASSWORD})).await,
        (200, json!({"code": "0", "errmsg": "OK"}))
    );
    assert_eq!(login_status(&app, MOBILE, NEW_PASSWORD).await, 302);
    let entry = app.audit_of(user.id).await.into_iter().next().unwrap();
    assert_eq!(
        (entry.action.as_str(), entry.channel.as_str()),
        ("password_reset", "api")
    );
    // An unknown purpose is a clear 400.
    let r = b
        .get(&format!(
            "/sms_codes/{MOBILE}/?image_code=ABCD&image_code_id={id}&purpose=destroy"
        ))
        .await;
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"code": "4003", "errmsg": "无效的purpose"})
    );
}

/// 忘记密码？ on a login page on its way somewhere keeps the way: the reset's login page
/// goes on to it. A way out of this site is dropped, as everywhere.
async fn a_reset_from_the_login_page_goes_on_where_the_shopper_was_going(kind: Setup) {
    let app = spawn_app(kind).await;
    app.create_user(MOBILE, PASSWORD).await;
    let b = app.browser();
    let login = b.get("/login/?next=/cart/").await.text().await.unwrap();
    assert!(login.contains("href=\"/password/reset/?next=%2Fcart%2F\" id=\"forgot-password\""));
    let plain = b.get("/login/").await.text().await.unwrap();
    assert!(plain.contains("href=\"/password/reset/\" id=\"forgot-password\""));

    let page = b
        .get("/password/reset/?next=%2Fcart%2F")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(input_value(&page, "next").as_deref(), Some("/cart/"));
    assert!(page.contains("href=\"/login/?next=%2Fcart%2F\" id=\"back-to-login\""));
    let away = b
        .get("/password/reset/?next=%2F%2Fevil.example%2F")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(input_value(&away, "next"), None);
    assert!(away.contains("href=\"/login/\" id=\"back-to-login\""));

    let (status, _) = ask_reset_code(&app, &b, MOBILE).await;
    assert_eq!(status, 200);
    let code = app.sent_sms(MOBILE).unwrap();
    let mut form = fields(MOBILE, &code, NEW_PASSWORD, NEW_PASSWORD);
    form.push(("next", "/cart/"));
    assert_is_redirect_to(&post_reset(&b, &form).await, "/login/?next=%2Fcart%2F");
    let r = b.post_login(MOBILE, NEW_PASSWORD).await;
    assert_eq!(r.status(), 302);
}

crate::all_setups!(
    a_forgotten_password_is_reset_by_a_code_and_every_session_ends,
    a_reset_from_the_login_page_goes_on_where_the_shopper_was_going,
    every_refusal_is_a_400_by_field_and_changes_nothing,
    a_bind_code_never_resets_and_a_reset_code_never_binds,
    asking_for_a_code_tells_nobody_whether_the_mobile_has_an_account,
    a_disabled_account_is_refused_and_keeps_its_password,
    one_code_resets_once_under_concurrent_submits,
    a_burst_of_guesses_on_one_mobile_is_limited,
    the_json_api_resets_through_the_same_rules,
);
