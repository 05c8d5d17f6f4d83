//! `POST /oauth_callback/` (spec section 4): success, CSRF, and rows 1–9.

use qqbind::codes::keys;

use crate::helpers::*;

const MOBILE: &str = "13800138000";

async fn post_bind(
    b: &Browser,
    form: &BindForm,
    mobile: &str,
    password: &str,
    sms: &str,
) -> reqwest::Response {
    b.post_form(
        "/oauth_callback/",
        &[
            ("mobile", mobile),
            ("password", password),
            ("sms_code", sms),
            ("access_token", &form.access_token),
            ("csrf_token", &form.csrf_token),
            ("action", "bind"),
        ],
    )
    .await
}

/// What was there before a refused bind, to prove nothing changed.
struct Snapshot {
    users: i64,
    bindings: i64,
}

async fn snapshot(app: &TestApp) -> Snapshot {
    Snapshot {
        users: app.user_count().await,
        bindings: app.binding_count().await,
    }
}

/// 400, the message in its slot, the mobile and token kept, the password not echoed,
/// and nothing changed: no user, no binding, no login.
async fn assert_refused(
    app: &TestApp,
    b: &Browser,
    r: reqwest::Response,
    (slot, message): (&str, &str),
    before: &Snapshot,
    form: &BindForm,
    mobile: &str,
) {
    assert_eq!(r.status(), 400, "expected 400 with {message}");
    let page = r.text().await.unwrap();
    assert_eq!(
        slot_message(&page, slot).as_deref(),
        Some(message),
        "slot {slot}"
    );
    assert_eq!(input_value(&page, "mobile").as_deref(), Some(mobile));
    assert_eq!(
        input_value(&page, "access_token").as_deref(),
        Some(form.access_token.as_str())
    );
    assert!(!page.contains(PASSWORD), "the password is never sent back");
    assert!(page.contains("name=\"csrf_token\""));
    assert_eq!(app.user_count().await, before.users, "no user created");
    assert_eq!(
        app.binding_count().await,
        before.bindings,
        "no binding created"
    );
    assert!(!b.is_logged_in().await, "not logged in");
}

async fn a_new_mobile_gets_an_account_bound_and_logged_in(kind: StoreKind) {
    let app = spawn_app(kind).await;
    let b = app.browser();
    let form = app.reach_bind_form(&b, OPENID, "/info/").await;
    let code = app.request_sms_code(&b, MOBILE).await;
    assert_eq!(code.len(), 6);
    let r = post_bind(&b, &form, MOBILE, PASSWORD, &code).await;
    assert_is_redirect_to(&r, "/info/");
    let username = set_cookie(&r, "username").unwrap();
    assert!(username.starts_with("username=13800138000;") && username.contains("Max-Age=1296000"));

    let user = app.user_by_mobile(MOBILE).await.expect("account created");
    assert_eq!(user.username, MOBILE);
    assert!(
        user.password.starts_with("$2") && user.password != PASSWORD,
        "bcrypt hash"
    );
    assert!(bcrypt::verify(PASSWORD, &user.password).unwrap());
    assert_eq!(user.nickname, "QQ用户4F65");
    assert!(user.last_login.is_some());
    let binding = app.binding_of(OPENID).await.expect("binding stored");
    assert_eq!(binding.user_id, user.id);
    assert_eq!(
        app.codes().get(&keys::sms(MOBILE)).await.unwrap(),
        None,
        "SMS code used up"
    );
    let actions = app.audit_actions(user.id).await;
    assert!(
        actions.contains(&"qq_bind".to_owned())
            && actions.contains(&"user_created_by_qq".to_owned()),
        "{actions:?}"
    );

    let info = b.get("/info/").await.text().await.unwrap();
    assert!(info.contains("138****8000"));
    assert!(
        info.contains("已绑定QQ") && info.contains("4F65****3B11"),
        "masked openid"
    );
}

async fn a_returning_qq_user_goes_straight_in(kind: StoreKind) {
    let app = spawn_app(kind).await;
    let b = app.browser();
    let form = app.reach_bind_form(&b, OPENID, "/").await;
    app.give_sms_code(MOBILE, "123456").await;
    assert_eq!(
        post_bind(&b, &form, MOBILE, PASSWORD, "123456")
            .await
            .status(),
        302
    );
    let csrf = b.csrf_from("/info/").await;
    assert_is_redirect_to(
        &b.post_form("/logout/", &[("csrf_token", &csrf)]).await,
        "/login/",
    );
    assert!(!b.is_logged_in().await);

    let state = b.start_qq_login("/info/").await;
    let r = b.callback(&format!("code-{OPENID}"), &state).await;
    assert_is_redirect_to(&r, "/info/");
    assert!(b.is_logged_in().await);
    assert_eq!(app.user_count().await, 1);
}

async fn an_existing_account_binds_with_its_password(kind: StoreKind) {
    let app = spawn_app(kind).await;
    let user = app.create_user(MOBILE, "oldpass123").await;
    let b = app.browser();
    let form = app.reach_bind_form(&b, OPENID, "/info/").await;
    let code = app.request_sms_code(&b, MOBILE).await;
    let r = post_bind(&b, &form, MOBILE, "oldpass123", &code).await;
    assert_is_redirect_to(&r, "/info/");
    assert_eq!(app.user_count().await, 1, "no second account");
    assert_eq!(app.binding_of(OPENID).await.unwrap().user_id, user.id);
    let after = app.user_by_mobile(MOBILE).await.unwrap();
    assert_eq!(after.password, user.password, "password unchanged");
    assert_eq!(after.nickname, "QQ用户4F65", "QQ nickname adopted");
}

async fn the_same_openid_for_the_same_account_again_is_a_plain_login(kind: StoreKind) {
    let app = spawn_app(kind).await;
    // Phone and laptop both reached the bind form for the same QQ.
    let phone = app.browser();
    let laptop = app.browser();
    let on_phone = app.reach_bind_form(&phone, OPENID, "/").await;
    let on_laptop = app.reach_bind_form(&laptop, OPENID, "/info/").await;
    app.give_sms_code(MOBILE, "111111").await;
    assert_eq!(
        post_bind(&phone, &on_phone, MOBILE, PASSWORD, "111111")
            .await
            .status(),
        302
    );
    // The laptop submits the same account afterwards: just a login.
    app.give_sms_code(MOBILE, "222222").await;
    let r = post_bind(&laptop, &on_laptop, MOBILE, PASSWORD, "222222").await;
    assert_is_redirect_to(&r, "/info/");
    assert!(laptop.is_logged_in().await);
    assert_eq!(app.user_count().await, 1);
    assert_eq!(app.binding_count().await, 1);
}

async fn a_post_without_a_valid_csrf_token_is_forbidden(kind: StoreKind) {
    let app = spawn_app(kind).await;
    let b = app.browser();
    let form = app.reach_bind_form(&b, OPENID, "/").await;
    app.give_sms_code(MOBILE, "123456").await;
    let before = snapshot(&app).await;
    for csrf in [None, Some(""), Some("00"), Some("not-hex")] {
        let mut fields = vec![
            ("mobile", MOBILE),
            ("password", PASSWORD),
            ("sms_code", "123456"),
            ("access_token", form.access_token.as_str()),
        ];
        if let Some(t) = csrf {
            fields.push(("csrf_token", t));
        }
        let r = b.post_form("/oauth_callback/", &fields).await;
        assert_eq!(r.status(), 403, "csrf {csrf:?}");
    }
    // Another browser's valid token is not this browser's.
    let other = app.browser();
    let other_form = app.reach_bind_form(&other, OPENID_2, "/").await;
    let r = b
        .post_form(
            "/oauth_callback/",
            &[
                ("mobile", MOBILE),
                ("password", PASSWORD),
                ("sms_code", "123456"),
                ("access_token", &form.access_token),
                ("csrf_token", &other_form.csrf_token),
            ],
        )
        .await;
    assert_eq!(r.status(), 403);
    assert_eq!(app.user_count().await, before.users);
    assert_eq!(app.binding_count().await, before.bindings);
    assert_eq!(
        app.codes()
            .get(&keys::sms(MOBILE))
            .await
            .unwrap()
            .as_deref(),
        Some("123456"),
        "code untouched"
    );
    assert!(!b.is_logged_in().await);
}

async fn row_1_a_missing_field(kind: StoreKind) {
    let app = spawn_app(kind).await;
    let b = app.browser();
    let form = app.reach_bind_form(&b, OPENID, "/").await;
    app.give_sms_code(MOBILE, "123456").await;
    let before = snapshot(&app).await;
    for (mobile, password, sms) in [
        ("", PASSWORD, "123456"),
        (MOBILE, "", "123456"),
        (MOBILE, PASSWORD, ""),
    ] {
        let r = post_bind(&b, &form, mobile, password, sms).await;
        assert_refused(
            &app,
            &b,
            r,
            ("form-error", "缺少必传参数"),
            &before,
            &form,
            mobile,
        )
        .await;
    }
    // A missing access_token (and fields absent from the body altogether).
    let r = b
        .post_form(
            "/oauth_callback/",
            &[
                ("mobile", MOBILE),
                ("password", PASSWORD),
                ("sms_code", "123456"),
                ("csrf_token", &form.csrf_token),
            ],
        )
        .await;
    assert_eq!(r.status(), 400);
    assert_eq!(
        slot_message(&r.text().await.unwrap(), "form-error").as_deref(),
        Some("缺少必传参数")
    );
    let r = b
        .post_form("/oauth_callback/", &[("csrf_token", &form.csrf_token)])
        .await;
    assert_eq!(r.status(), 400);
    assert_eq!(app.user_count().await, before.users);
}

async fn row_2_a_malformed_mobile(kind: StoreKind) {
    let app = spawn_app(kind).await;
    let b = app.browser();
    let form = app.reach_bind_form(&b, OPENID, "/").await;
    let before = snapshot(&app).await;
    for mobile in ["12800138000", "1380013800", "138001380001", "1380013800x"] {
        let r = post_bind(&b, &form, mobile, PASSWORD, "123456").await;
        assert_refused(
            &app,
            &b,
            r,
            ("form-error", "请输入正确的手机号码"),
            &before,
            &form,
            mobile,
        )
        .await;
    }
}

async fn row_3_a_malformed_password(kind: StoreKind) {
    let app = spawn_app(kind).await;
    let b = app.browser();
    let form = app.reach_bind_form(&b, OPENID, "/").await;
    let before = snapshot(&app).await;
    for pw in ["short1", "abcdefghijk1234567890", "abcd 1234", "abcd!1234"] {
        let r = post_bind(&b, &form, MOBILE, pw, "123456").await;
        assert_refused(
            &app,
            &b,
            r,
            ("form-error", "请输入8-20位的密码"),
            &before,
            &form,
            MOBILE,
        )
        .await;
    }
}

async fn row_4_no_sms_code_stored(kind: StoreKind) {
    let app = spawn_app(kind).await;
    let b = app.browser();
    let form = app.reach_bind_form(&b, OPENID, "/").await;
    let before = snapshot(&app).await;
    let r = post_bind(&b, &form, MOBILE, PASSWORD, "123456").await;
    assert_refused(
        &app,
        &b,
        r,
        ("sms-code-error-server", "无效的短信验证码"),
        &before,
        &form,
        MOBILE,
    )
    .await;
}

async fn row_5_a_wrong_sms_code_and_five_tries_kill_it(kind: StoreKind) {
    let app = spawn_app(kind).await;
    let b = app.browser();
    let form = app.reach_bind_form(&b, OPENID, "/").await;
    app.give_sms_code(MOBILE, "123456").await;
    let before = snapshot(&app).await;
    for _ in 0..5 {
        let r = post_bind(&b, &form, MOBILE, PASSWORD, "654321").await;
        assert_refused(
            &app,
            &b,
            r,
            ("sms-code-error-server", "输入短信验证码有误"),
            &before,
            &form,
            MOBILE,
        )
        .await;
    }
    assert_eq!(
        app.codes().get(&keys::sms(MOBILE)).await.unwrap(),
        None,
        "5 wrong tries invalidate the code"
    );
    let r = post_bind(&b, &form, MOBILE, PASSWORD, "123456").await;
    assert_refused(
        &app,
        &b,
        r,
        ("sms-code-error-server", "无效的短信验证码"),
        &before,
        &form,
        MOBILE,
    )
    .await;
}

async fn four_wrong_tries_still_leave_the_code_usable(kind: StoreKind) {
    let app = spawn_app(kind).await;
    let b = app.browser();
    let form = app.reach_bind_form(&b, OPENID, "/").await;
    app.give_sms_code(MOBILE, "123456").await;
    for _ in 0..4 {
        assert_eq!(
            post_bind(&b, &form, MOBILE, PASSWORD, "000000")
                .await
                .status(),
            400
        );
    }
    assert_eq!(
        post_bind(&b, &form, MOBILE, PASSWORD, "123456")
            .await
            .status(),
        302
    );
}

async fn row_6_a_forged_altered_or_foreign_openid_token(kind: StoreKind) {
    let app = spawn_app(kind).await;
    let b = app.browser();
    let form = app.reach_bind_form(&b, OPENID, "/").await;
    let other = app.browser();
    let foreign = app.reach_bind_form(&other, OPENID_2, "/").await;
    let before = snapshot(&app).await;
    let (payload, tag) = form.access_token.split_once('.').unwrap();
    let altered_tag = format!("{payload}.{}A", &tag[..tag.len() - 1]);
    let swapped = format!("{}.{tag}", foreign.access_token.split_once('.').unwrap().0);
    for token in [
        "forged",
        "a.b",
        altered_tag.as_str(),
        swapped.as_str(),
        foreign.access_token.as_str(),
    ] {
        app.give_sms_code(MOBILE, "123456").await;
        let tampered = BindForm {
            access_token: token.to_owned(),
            ..form.clone()
        };
        let r = post_bind(&b, &tampered, MOBILE, PASSWORD, "123456").await;
        assert_refused(
            &app,
            &b,
            r,
            ("openid-error", "无效的openid"),
            &before,
            &tampered,
            MOBILE,
        )
        .await;
        assert_eq!(
            app.codes()
                .get(&keys::sms(MOBILE))
                .await
                .unwrap()
                .as_deref(),
            Some("123456"),
            "code not used up"
        );
    }
}

async fn row_6_an_expired_openid_token(kind: StoreKind) {
    let app = spawn_app_with(kind, |s| {
        s.openid_token_ttl = std::time::Duration::from_secs(1)
    })
    .await;
    let b = app.browser();
    let form = app.reach_bind_form(&b, OPENID, "/").await;
    app.give_sms_code(MOBILE, "123456").await;
    let before = snapshot(&app).await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let r = post_bind(&b, &form, MOBILE, PASSWORD, "123456").await;
    assert_refused(
        &app,
        &b,
        r,
        ("openid-error", "无效的openid"),
        &before,
        &form,
        MOBILE,
    )
    .await;
}

async fn row_7_an_existing_account_with_a_wrong_password(kind: StoreKind) {
    let app = spawn_app(kind).await;
    app.create_user(MOBILE, "rightpass1").await;
    let b = app.browser();
    let form = app.reach_bind_form(&b, OPENID, "/").await;
    app.give_sms_code(MOBILE, "123456").await;
    let before = snapshot(&app).await;
    let r = post_bind(&b, &form, MOBILE, "wrongpass1", "123456").await;
    assert_refused(
        &app,
        &b,
        r,
        ("account-error", "用户名或密码错误"),
        &before,
        &form,
        MOBILE,
    )
    .await;
    assert_eq!(app.binding_of(OPENID).await.map(|b| b.id), None);
}

async fn row_8_an_account_bound_to_another_qq(kind: StoreKind) {
    let app = spawn_app(kind).await;
    // The account binds OPENID_2 first.
    let first = app.browser();
    let f = app.reach_bind_form(&first, OPENID_2, "/").await;
    app.give_sms_code(MOBILE, "111111").await;
    assert_eq!(
        post_bind(&first, &f, MOBILE, PASSWORD, "111111")
            .await
            .status(),
        302
    );

    let b = app.browser();
    let form = app.reach_bind_form(&b, OPENID, "/").await;
    app.give_sms_code(MOBILE, "123456").await;
    let before = snapshot(&app).await;
    let r = post_bind(&b, &form, MOBILE, PASSWORD, "123456").await;
    assert_refused(
        &app,
        &b,
        r,
        ("qq-login-error", "该账号已绑定其他QQ"),
        &before,
        &form,
        MOBILE,
    )
    .await;
    assert!(app.binding_of(OPENID).await.is_none());
}

async fn row_9_the_openid_bound_to_another_account_meanwhile(kind: StoreKind) {
    let app = spawn_app(kind).await;
    let b = app.browser();
    let form = app.reach_bind_form(&b, OPENID, "/").await;
    // Meanwhile, in another browser, the same QQ binds another mobile.
    let other = app.browser();
    let f2 = app.reach_bind_form(&other, OPENID, "/").await;
    app.give_sms_code("13900139000", "999999").await;
    assert_eq!(
        post_bind(&other, &f2, "13900139000", PASSWORD, "999999")
            .await
            .status(),
        302
    );

    app.give_sms_code(MOBILE, "123456").await;
    let before = snapshot(&app).await;
    let r = post_bind(&b, &form, MOBILE, PASSWORD, "123456").await;
    assert_refused(
        &app,
        &b,
        r,
        ("qq-login-error", "QQ登录失败"),
        &before,
        &form,
        MOBILE,
    )
    .await;
    assert!(
        app.user_by_mobile(MOBILE).await.is_none(),
        "no orphan account"
    );
}

async fn oversized_and_malformed_bodies_get_a_4xx_and_change_nothing(kind: StoreKind) {
    let app = spawn_app(kind).await;
    let b = app.browser();
    let form = app.reach_bind_form(&b, OPENID, "/").await;
    app.give_sms_code(MOBILE, "123456").await;
    let big = "x".repeat(20 * 1024);
    let r = post_bind(&b, &form, MOBILE, &big, "123456").await;
    assert_eq!(r.status(), 413);
    for body in [
        b"mobile=%FF%FE&password=\xff\xfe&sms_code=1".to_vec(),
        b"%%%&&&==".to_vec(),
        vec![0xC3, 0x28, b'=', 0xA0],
    ] {
        let r = b
            .client
            .post(format!("{}/oauth_callback/", app.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_client_error(), "{}", r.status());
    }
    let r = b
        .client
        .post(format!("{}/oauth_callback/", app.base))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error(), "{}", r.status());
    assert_eq!(app.user_count().await, 0);
    assert!(!b.is_logged_in().await);
}

async fn the_form_without_javascript_can_ask_for_the_sms_code(kind: StoreKind) {
    let app = spawn_app(kind).await;
    let b = app.browser();
    let form = app.reach_bind_form(&b, OPENID, "/").await;
    let text = app.captcha(&b, &form.image_code_id).await;
    let r = b
        .post_form(
            "/oauth_callback/",
            &[
                ("mobile", MOBILE),
                ("image_code", &text),
                ("image_code_id", &form.image_code_id),
                ("access_token", &form.access_token),
                ("csrf_token", &form.csrf_token),
                ("action", "send_sms"),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert!(page.contains("短信验证码已发送"));
    assert_eq!(input_value(&page, "mobile").as_deref(), Some(MOBILE));
    let code = app
        .codes()
        .get(&keys::sms(MOBILE))
        .await
        .unwrap()
        .expect("code stored");
    assert_eq!(
        post_bind(&b, &form, MOBILE, PASSWORD, &code).await.status(),
        302
    );
}

crate::both_stores!(
    a_new_mobile_gets_an_account_bound_and_logged_in,
    a_returning_qq_user_goes_straight_in,
    an_existing_account_binds_with_its_password,
    the_same_openid_for_the_same_account_again_is_a_plain_login,
    a_post_without_a_valid_csrf_token_is_forbidden,
    row_1_a_missing_field,
    row_2_a_malformed_mobile,
    row_3_a_malformed_password,
    row_4_no_sms_code_stored,
    row_5_a_wrong_sms_code_and_five_tries_kill_it,
    four_wrong_tries_still_leave_the_code_usable,
    row_6_a_forged_altered_or_foreign_openid_token,
    row_6_an_expired_openid_token,
    row_7_an_existing_account_with_a_wrong_password,
    row_8_an_account_bound_to_another_qq,
    row_9_the_openid_bound_to_another_account_meanwhile,
    oversized_and_malformed_bodies_get_a_4xx_and_change_nothing,
    the_form_without_javascript_can_ask_for_the_sms_code,
);
