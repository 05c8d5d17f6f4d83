//! `/register/` (spec section 6, the Meiduo register page) and its availability checks.

use qqbind::codes::keys;

use crate::helpers::*;

const MOBILE: &str = "13912345678";
const NAME: &str = "new_shopper";

/// A register form filled correctly (the SMS code is given by each test).
fn good_form<'a>(csrf: &'a str, sms: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("username", NAME),
        ("password", PASSWORD),
        ("password2", PASSWORD),
        ("mobile", MOBILE),
        ("sms_code", sms),
        ("allow", "1"),
        ("csrf_token", csrf),
        ("action", "register"),
    ]
}

/// `form` with `field` set to `value` (or left out).
fn with<'a>(
    mut form: Vec<(&'a str, &'a str)>,
    field: &'a str,
    value: Option<&'a str>,
) -> Vec<(&'a str, &'a str)> {
    form.retain(|(k, _)| *k != field);
    form.extend(value.map(|v| (field, v)));
    form
}

async fn the_register_page_has_every_field_of_the_meiduo_form(kind: Setup) {
    let app = spawn_app(kind).await;
    let b = app.browser();
    let r = b.get("/register/?next=/info/").await;
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    for name in [
        "username",
        "password",
        "password2",
        "mobile",
        "image_code",
        "image_code_id",
        "sms_code",
        "allow",
        "csrf_token",
    ] {
        assert!(
            page.contains(&format!("name=\"{name}\"")),
            "field {name} missing"
        );
    }
    for label in [
        "用户名",
        "确认密码",
        "图形验证码",
        "获取短信验证码",
        "我已阅读并同意<a href=\"/terms/\" target=\"_blank\">《用户协议》</a>",
    ] {
        assert!(page.contains(label), "{label}");
    }
    assert!(page.contains("action=\"/register/?next=%2Finfo%2F\""));
    let login = b.get("/login/?next=/info/").await.text().await.unwrap();
    assert!(login.contains("href=\"/register/?next=%2Finfo%2F\""));
}

async fn registering_through_captcha_and_sms_logs_the_new_customer_in(kind: Setup) {
    let app = spawn_app(kind).await;
    let b = app.browser();
    let csrf = b.csrf_from("/register/").await;
    let sms = app.request_sms_code(&b, MOBILE).await;

    let r = b
        .post_form("/register/?next=/info/", &good_form(&csrf, &sms))
        .await;

    assert_is_redirect_to(&r, "/info/");
    assert!(set_cookie(&r, "username")
        .unwrap()
        .starts_with(&format!("username={NAME};")));
    assert!(b.is_logged_in().await);
    let user = app.user_by_mobile(MOBILE).await.expect("account stored");
    assert_eq!(user.username, NAME);
    assert!(!user.is_staff && user.is_active);
    assert!(bcrypt::verify(PASSWORD, &user.password).unwrap());
    assert_ne!(user.password, PASSWORD);
    assert_eq!(app.audit_actions(user.id).await, ["user_registered"]);
    let entry = &app.audit_of(user.id).await[0];
    assert_eq!(entry.actor_id, Some(user.id));
    assert_eq!(
        app.codes().get(&keys::sms(MOBILE)).await.unwrap(),
        None,
        "the SMS code is used up"
    );
    let info = b.get("/info/").await.text().await.unwrap();
    assert!(info.contains(NAME));
}

/// Each field's own error: 400, its message beside it, what was typed kept (passwords
/// aside), nothing stored, the SMS code still usable.
async fn every_field_error_shows_its_message_beside_the_field(kind: Setup) {
    let app = spawn_app(kind).await;
    let b = app.browser();
    let csrf = b.csrf_from("/register/").await;
    app.give_sms_code(MOBILE, "123456").await;
    let good = good_form(&csrf, "123456");
    let too_long = "u".repeat(21);
    let cases: Vec<(&str, Option<&str>, &str, &str)> = vec![
        (
            "username",
            Some("abcd"),
            "username-error",
            "请输入5-20个字符的用户名",
        ),
        (
            "username",
            Some("bad name!"),
            "username-error",
            "请输入5-20个字符的用户名",
        ),
        (
            "username",
            Some("ab\0cdef"),
            "username-error",
            "请输入5-20个字符的用户名",
        ),
        (
            "username",
            Some(&too_long),
            "username-error",
            "请输入5-20个字符的用户名",
        ),
        (
            "username",
            None,
            "username-error",
            "请输入5-20个字符的用户名",
        ),
        (
            "username",
            Some("13800138000"),
            "username-error",
            "用户名不能是手机号",
        ),
        (
            "password",
            Some("short1"),
            "password-error",
            "请输入8-20位的密码",
        ),
        (
            "password",
            Some("with space 1"),
            "password-error",
            "请输入8-20位的密码",
        ),
        (
            "password2",
            Some("abcd12345"),
            "password2-error",
            "两次输入的密码不一致",
        ),
        ("password2", None, "password2-error", "两次输入的密码不一致"),
        (
            "mobile",
            Some("1391234567"),
            "mobile-error",
            "请输入正确的手机号码",
        ),
        (
            "mobile",
            Some("23912345678"),
            "mobile-error",
            "请输入正确的手机号码",
        ),
        ("mobile", None, "mobile-error", "请输入正确的手机号码"),
        ("sms_code", Some(" "), "sms-code-error", "请填写短信验证码"),
        ("sms_code", None, "sms-code-error", "请填写短信验证码"),
        ("allow", None, "allow-error", "请勾选用户协议"),
    ];
    for (field, value, slot, message) in cases {
        let form = with(good.clone(), field, value);
        let r = b.post_form("/register/", &form).await;
        assert_eq!(r.status(), 400, "{field}={value:?}");
        assert!(set_cookie(&r, "username").is_none());
        let page = r.text().await.unwrap();
        assert_eq!(
            slot_message(&page, slot).as_deref(),
            Some(message),
            "{field}={value:?}"
        );
        assert!(!page.contains(PASSWORD), "passwords are not echoed");
        assert!(!page.contains('\0'), "control characters are not echoed");
        if field != "username" {
            assert_eq!(input_value(&page, "username").unwrap(), NAME);
        }
        if field != "mobile" {
            assert_eq!(input_value(&page, "mobile").unwrap(), MOBILE);
        }
        assert_eq!(input_value(&page, "password").as_deref(), Some(""));
    }
    assert_eq!(app.user_count().await, 0);
    assert_eq!(
        app.codes()
            .get(&keys::sms(MOBILE))
            .await
            .unwrap()
            .as_deref(),
        Some("123456"),
        "a refused form does not use the SMS code up"
    );
    assert!(!b.is_logged_in().await);
}

async fn all_format_errors_show_at_once(kind: Setup) {
    let app = spawn_app(kind).await;
    let b = app.browser();
    let csrf = b.csrf_from("/register/").await;
    let r = b
        .post_form("/register/", &[("csrf_token", csrf.as_str())])
        .await;
    assert_eq!(r.status(), 400);
    let page = r.text().await.unwrap();
    for (slot, msg) in [
        ("username-error", "请输入5-20个字符的用户名"),
        ("password-error", "请输入8-20位的密码"),
        ("mobile-error", "请输入正确的手机号码"),
        ("sms-code-error", "请填写短信验证码"),
        ("allow-error", "请勾选用户协议"),
    ] {
        assert_eq!(slot_message(&page, slot).as_deref(), Some(msg), "{slot}");
    }
    assert_eq!(app.user_count().await, 0);
}

async fn a_taken_username_or_mobile_is_refused_before_the_sms_code_is_used(kind: Setup) {
    let app = spawn_app(kind).await;
    let existing = app.create_user("13700137000", PASSWORD).await;
    let b = app.browser();
    let csrf = b.csrf_from("/register/").await;
    app.give_sms_code(MOBILE, "123456").await;
    app.give_sms_code("13700137000", "654321").await;

    let form = with(
        good_form(&csrf, "123456"),
        "username",
        Some(&existing.username),
    );
    let r = b.post_form("/register/", &form).await;
    assert_eq!(r.status(), 400);
    let page = r.text().await.unwrap();
    assert_eq!(
        slot_message(&page, "username-error").as_deref(),
        Some("用户名已存在")
    );

    let form = with(good_form(&csrf, "654321"), "mobile", Some("13700137000"));
    let r = b.post_form("/register/", &form).await;
    assert_eq!(r.status(), 400);
    let page = r.text().await.unwrap();
    assert_eq!(
        slot_message(&page, "mobile-error").as_deref(),
        Some("手机号已存在")
    );
    assert_eq!(app.user_count().await, 1);
    assert!(app.codes().get(&keys::sms(MOBILE)).await.unwrap().is_some());
    assert!(app
        .codes()
        .get(&keys::sms("13700137000"))
        .await
        .unwrap()
        .is_some());
}

async fn a_missing_or_wrong_sms_code_shows_the_seed_messages(kind: Setup) {
    let app = spawn_app(kind).await;
    let b = app.browser();
    let csrf = b.csrf_from("/register/").await;

    let r = b.post_form("/register/", &good_form(&csrf, "123456")).await;
    assert_eq!(r.status(), 400);
    let page = r.text().await.unwrap();
    assert_eq!(
        slot_message(&page, "sms-code-error").as_deref(),
        Some("无效的短信验证码")
    );

    app.give_sms_code(MOBILE, "123456").await;
    for _ in 0..keys::SMS_MAX_TRIES {
        let r = b.post_form("/register/", &good_form(&csrf, "000000")).await;
        assert_eq!(r.status(), 400);
        let page = r.text().await.unwrap();
        assert_eq!(
            slot_message(&page, "sms-code-error").as_deref(),
            Some("输入短信验证码有误")
        );
    }
    // Five wrong guesses killed the code: the right one no longer works.
    let r = b.post_form("/register/", &good_form(&csrf, "123456")).await;
    let page = r.text().await.unwrap();
    assert_eq!(
        slot_message(&page, "sms-code-error").as_deref(),
        Some("无效的短信验证码")
    );
    assert_eq!(app.user_count().await, 0);
}

async fn registering_without_a_csrf_token_is_refused(kind: Setup) {
    let app = spawn_app(kind).await;
    let b = app.browser();
    let _ = b.csrf_from("/register/").await;
    app.give_sms_code(MOBILE, "123456").await;
    for token in [None, Some("forged")] {
        let form = good_form("x", "123456")
            .into_iter()
            .filter(|(k, _)| *k != "csrf_token")
            .chain(token.map(|t| ("csrf_token", t)))
            .collect::<Vec<_>>();
        let r = b.post_form("/register/", &form).await;
        assert_eq!(r.status(), 403);
    }
    assert_eq!(app.user_count().await, 0);
    assert!(app.codes().get(&keys::sms(MOBILE)).await.unwrap().is_some());
}

async fn the_sms_button_works_without_javascript(kind: Setup) {
    let app = spawn_app(kind).await;
    let b = app.browser();
    let page = b.get("/register/").await.text().await.unwrap();
    let csrf = input_value(&page, "csrf_token").unwrap();
    let id = input_value(&page, "image_code_id").unwrap();
    let text = app.captcha(&b, &id).await;

    let wrong = if text == "AAAA" { "BBBB" } else { "AAAA" };
    let r = b
        .post_form(
            "/register/",
            &[
                ("username", NAME),
                ("mobile", MOBILE),
                ("image_code", wrong),
                ("image_code_id", &id),
                ("csrf_token", &csrf),
                ("action", "send_sms"),
            ],
        )
        .await;
    assert_eq!(r.status(), 400);
    let page = r.text().await.unwrap();
    assert_eq!(
        slot_message(&page, "image-code-error").as_deref(),
        Some("输入图形验证码有误")
    );
    assert_eq!(input_value(&page, "username").unwrap(), NAME);

    let id = input_value(&page, "image_code_id").unwrap();
    let text = app.captcha(&b, &id).await;
    let r = b
        .post_form(
            "/register/",
            &[
                ("mobile", MOBILE),
                ("image_code", &text),
                ("image_code_id", &id),
                ("csrf_token", &csrf),
                ("action", "send_sms"),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert!(page.contains("短信验证码已发送，5分钟内有效"));
    assert!(app.codes().get(&keys::sms(MOBILE)).await.unwrap().is_some());
    assert_eq!(
        app.user_count().await,
        0,
        "sending a code registers nothing"
    );
}

async fn two_racing_registrations_of_one_username_make_one_account(kind: Setup) {
    let app = spawn_app(kind).await;
    let (b1, b2) = (app.browser(), app.browser());
    let (c1, c2) = (
        b1.csrf_from("/register/").await,
        b2.csrf_from("/register/").await,
    );
    app.give_sms_code(MOBILE, "111111").await;
    app.give_sms_code("13912345679", "222222").await;
    let f1 = good_form(&c1, "111111");
    let f2 = with(good_form(&c2, "222222"), "mobile", Some("13912345679"));
    let (r1, r2) = tokio::join!(
        b1.post_form("/register/", &f1),
        b2.post_form("/register/", &f2)
    );
    let mut statuses = [r1.status().as_u16(), r2.status().as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [302, 400]);
    let loser = if r1.status() == 400 { r1 } else { r2 };
    let page = loser.text().await.unwrap();
    assert_eq!(
        slot_message(&page, "username-error").as_deref(),
        Some("用户名已存在")
    );
    assert_eq!(app.user_count().await, 1);
}

async fn username_and_mobile_availability_answer_json(kind: Setup) {
    let app = spawn_app(kind).await;
    let user = app.create_user("13700137000", PASSWORD).await;
    let b = app.browser();
    for (path, count) in [
        (format!("/usernames/{}/count/", user.username), 1),
        ("/usernames/free_name/count/".to_owned(), 0),
        ("/mobiles/13700137000/count/".to_owned(), 1),
        ("/mobiles/13700137001/count/".to_owned(), 0),
    ] {
        let r = b.get(&path).await;
        assert_eq!(r.status(), 200, "{path}");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["code"], "0");
        assert_eq!(body["count"], count, "{path}");
    }
    for (path, errmsg) in [
        ("/usernames/ab/count/", "请输入5-20个字符的用户名"),
        ("/usernames/13800138000/count/", "用户名不能是手机号"),
        ("/mobiles/123/count/", "请输入正确的手机号码"),
    ] {
        let r = b.get(path).await;
        assert_eq!(r.status(), 400, "{path}");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["errmsg"], errmsg);
    }
}

crate::all_setups!(
    the_register_page_has_every_field_of_the_meiduo_form,
    registering_through_captcha_and_sms_logs_the_new_customer_in,
    every_field_error_shows_its_message_beside_the_field,
    all_format_errors_show_at_once,
    a_taken_username_or_mobile_is_refused_before_the_sms_code_is_used,
    a_missing_or_wrong_sms_code_shows_the_seed_messages,
    registering_without_a_csrf_token_is_refused,
    the_sms_button_works_without_javascript,
    two_racing_registrations_of_one_username_make_one_account,
    username_and_mobile_availability_answer_json,
);
