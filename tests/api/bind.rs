//! `POST /oauth_callback/` (spec section 4): success, CSRF, and rows 1–9.

use qqbind::codes::keys;

use crate::helpers::*;

const MOBILE: &str = "13800138000";

/// A browser at the bind form for `OPENID`, and what the database held at that point.
struct AtBindForm {
    app: TestApp,
    b: Browser,
    form: BindForm,
    users: i64,
    bindings: i64,
}

impl AtBindForm {
    async fn new(app: TestApp) -> Self {
        let b = app.browser();
        let form = app.reach_bind_form(&b, OPENID, "/").await;
        Self::with(app, b, form).await
    }

    async fn with(app: TestApp, b: Browser, form: BindForm) -> Self {
        let (users, bindings) = (app.user_count().await, app.binding_count().await);
        Self {
            app,
            b,
            form,
            users,
            bindings,
        }
    }

    async fn post(&self, mobile: &str, password: &str, sms: &str) -> reqwest::Response {
        self.b.post_bind(&self.form, mobile, password, sms).await
    }

    /// 400, `message` in the slot `slot`, the mobile and token kept, the password not
    /// echoed, and nothing changed: no user, no binding, no login.
    async fn assert_refused(&self, r: reqwest::Response, slot: &str, message: &str, mobile: &str) {
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
            Some(self.form.access_token.as_str())
        );
        assert!(!page.contains(PASSWORD), "the password is never sent back");
        assert!(page.contains("name=\"csrf_token\""));
        assert_eq!(self.app.user_count().await, self.users, "no user created");
        assert_eq!(
            self.app.binding_count().await,
            self.bindings,
            "no binding created"
        );
        assert!(!self.b.is_logged_in().await, "not logged in");
    }
}

async fn a_new_mobile_gets_an_account_bound_and_logged_in(kind: Setup) {
    let app = spawn_app(kind).await;
    let b = app.browser();
    let form = app.reach_bind_form(&b, OPENID, "/info/").await;
    let code = app.request_sms_code(&b, MOBILE).await;
    assert_eq!(code.len(), 6);
    let r = b.post_bind(&form, MOBILE, PASSWORD, &code).await;
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

async fn a_returning_qq_user_goes_straight_in(kind: Setup) {
    let app = spawn_app(kind).await;
    let b = app.browser();
    let form = app.reach_bind_form(&b, OPENID, "/").await;
    app.give_sms_code(MOBILE, "123456").await;
    assert_eq!(
        b.post_bind(&form, MOBILE, PASSWORD, "123456")
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

async fn an_existing_account_binds_with_its_password(kind: Setup) {
    let app = spawn_app(kind).await;
    let user = app.create_user(MOBILE, "oldpass123").await;
    let b = app.browser();
    let form = app.reach_bind_form(&b, OPENID, "/info/").await;
    let code = app.request_sms_code(&b, MOBILE).await;
    let r = b.post_bind(&form, MOBILE, "oldpass123", &code).await;
    assert_is_redirect_to(&r, "/info/");
    assert_eq!(app.user_count().await, 1, "no second account");
    assert_eq!(app.binding_of(OPENID).await.unwrap().user_id, user.id);
    let after = app.user_by_mobile(MOBILE).await.unwrap();
    assert_eq!(after.password, user.password, "password unchanged");
    assert_eq!(after.nickname, "QQ用户4F65", "QQ nickname adopted");
}

async fn the_same_openid_for_the_same_account_again_is_a_plain_login(kind: Setup) {
    let app = spawn_app(kind).await;
    // Phone and laptop both reached the bind form for the same QQ.
    let phone = app.browser();
    let laptop = app.browser();
    let on_phone = app.reach_bind_form(&phone, OPENID, "/").await;
    let on_laptop = app.reach_bind_form(&laptop, OPENID, "/info/").await;
    app.give_sms_code(MOBILE, "111111").await;
    assert_eq!(
        phone
            .post_bind(&on_phone, MOBILE, PASSWORD, "111111")
            .await
            .status(),
        302
    );
    // The laptop submits the same account afterwards: just a login.
    app.give_sms_code(MOBILE, "222222").await;
    let r = laptop
        .post_bind(&on_laptop, MOBILE, PASSWORD, "222222")
        .await;
    assert_is_redirect_to(&r, "/info/");
    assert!(laptop.is_logged_in().await);
    assert_eq!(app.user_count().await, 1);
    assert_eq!(app.binding_count().await, 1);
}

async fn a_post_without_a_valid_csrf_token_is_forbidden(kind: Setup) {
    let f = AtBindForm::new(spawn_app(kind).await).await;
    f.app.give_sms_code(MOBILE, "123456").await;
    for csrf in [None, Some(""), Some("00"), Some("not-hex")] {
        let mut fields = vec![
            ("mobile", MOBILE),
            ("password", PASSWORD),
            ("sms_code", "123456"),
            ("access_token", f.form.access_token.as_str()),
        ];
        if let Some(t) = csrf {
            fields.push(("csrf_token", t));
        }
        let r = f.b.post_form("/oauth_callback/", &fields).await;
        assert_eq!(r.status(), 403, "csrf {csrf:?}");
    }
    // Another browser's valid token is not this browser's.
    let other = f.app.browser();
    let other_form = f.app.reach_bind_form(&other, OPENID_2, "/").await;
    let forged = BindForm {
        csrf_token: other_form.csrf_token,
        ..f.form.clone()
    };
    let r = f.b.post_bind(&forged, MOBILE, PASSWORD, "123456").await;
    assert_eq!(r.status(), 403);
    assert_eq!(f.app.user_count().await, f.users);
    assert_eq!(f.app.binding_count().await, f.bindings);
    assert_eq!(
        f.app
            .codes()
            .get(&keys::sms(MOBILE))
            .await
            .unwrap()
            .as_deref(),
        Some("123456"),
        "code untouched"
    );
    assert!(!f.b.is_logged_in().await);
}

async fn row_1_a_missing_field(kind: Setup) {
    let f = AtBindForm::new(spawn_app(kind).await).await;
    f.app.give_sms_code(MOBILE, "123456").await;
    for (mobile, password, sms) in [
        ("", PASSWORD, "123456"),
        (MOBILE, "", "123456"),
        (MOBILE, PASSWORD, ""),
    ] {
        let r = f.post(mobile, password, sms).await;
        f.assert_refused(r, "form-error", "缺少必传参数", mobile)
            .await;
    }
    // A missing access_token, and fields absent from the body altogether.
    let r =
        f.b.post_form(
            "/oauth_callback/",
            &[
                ("mobile", MOBILE),
                ("password", PASSWORD),
                ("sms_code", "123456"),
                ("csrf_token", &f.form.csrf_token),
            ],
        )
        .await;
    assert_eq!(r.status(), 400);
    assert_eq!(
        slot_message(&r.text().await.unwrap(), "form-error").as_deref(),
        Some("缺少必传参数")
    );
    let r =
        f.b.post_form("/oauth_callback/", &[("csrf_token", &f.form.csrf_token)])
            .await;
    assert_eq!(r.status(), 400);
    assert_eq!(f.app.user_count().await, f.users);
}

async fn row_2_a_malformed_mobile(kind: Setup) {
    let f = AtBindForm::new(spawn_app(kind).await).await;
    for mobile in ["12800138000", "1380013800", "138001380001", "1380013800x"] {
        let r = f.post(mobile, PASSWORD, "123456").await;
        f.assert_refused(r, "mobile-error", "请输入正确的手机号码", mobile)
            .await;
    }
    // A control character is refused, and not sent back in the page.
    let r = f.post("1380013\u{0}8000", PASSWORD, "123456").await;
    f.assert_refused(r, "mobile-error", "请输入正确的手机号码", MOBILE)
        .await;
}

async fn row_3_a_malformed_password(kind: Setup) {
    let f = AtBindForm::new(spawn_app(kind).await).await;
    for pw in ["short1", "abcdefghijk1234567890", "abcd 1234", "abcd!1234"] {
        let r = f.post(MOBILE, pw, "123456").await;
        f.assert_refused(r, "password-error", "请输入8-20位的密码", MOBILE)
            .await;
    }
}

async fn row_4_no_sms_code_stored(kind: Setup) {
    let f = AtBindForm::new(spawn_app(kind).await).await;
    let r = f.post(MOBILE, PASSWORD, "123456").await;
    f.assert_refused(r, "sms-code-error", "无效的短信验证码", MOBILE)
        .await;
}

async fn row_5_a_wrong_sms_code_and_five_tries_kill_it(kind: Setup) {
    let f = AtBindForm::new(spawn_app(kind).await).await;
    f.app.give_sms_code(MOBILE, "123456").await;
    for _ in 0..5 {
        let r = f.post(MOBILE, PASSWORD, "654321").await;
        f.assert_refused(r, "sms-code-error", "输入短信验证码有误", MOBILE)
            .await;
    }
    assert_eq!(
        f.app.codes().get(&keys::sms(MOBILE)).await.unwrap(),
        None,
        "5 wrong tries invalidate the code"
    );
    let r = f.post(MOBILE, PASSWORD, "123456").await;
    f.assert_refused(r, "sms-code-error", "无效的短信验证码", MOBILE)
        .await;
}

async fn four_wrong_tries_still_leave_the_code_usable(kind: Setup) {
    let f = AtBindForm::new(spawn_app(kind).await).await;
    f.app.give_sms_code(MOBILE, "123456").await;
    for _ in 0..4 {
        assert_eq!(f.post(MOBILE, PASSWORD, "000000").await.status(), 400);
    }
    assert_eq!(f.post(MOBILE, PASSWORD, "123456").await.status(), 302);
}

async fn row_6_a_forged_altered_or_foreign_openid_token(kind: Setup) {
    let app = spawn_app(kind).await;
    let other = app.browser();
    let foreign = app.reach_bind_form(&other, OPENID_2, "/").await;
    let mut f = AtBindForm::new(app).await;
    let genuine = f.form.access_token.clone();
    let (payload, tag) = genuine.split_once('.').unwrap();
    // One character of the tag changed (always to a different one).
    let first = if tag.starts_with('A') { 'B' } else { 'A' };
    let altered_tag = format!("{payload}.{first}{}", &tag[1..]);
    let swapped = format!("{}.{tag}", foreign.access_token.split_once('.').unwrap().0);
    for token in [
        "forged",
        "a.b",
        &altered_tag,
        &swapped,
        &foreign.access_token,
    ] {
        f.app.give_sms_code(MOBILE, "123456").await;
        f.form.access_token = token.to_owned();
        let r = f.post(MOBILE, PASSWORD, "123456").await;
        f.assert_refused(r, "openid-error", "无效的openid", MOBILE)
            .await;
        assert_eq!(
            f.app
                .codes()
                .get(&keys::sms(MOBILE))
                .await
                .unwrap()
                .as_deref(),
            Some("123456"),
            "code not used up"
        );
    }
}

async fn row_6_an_expired_openid_token(kind: Setup) {
    let app = spawn_app_with_manual_clock(kind, |s| {
        s.openid_token_ttl = std::time::Duration::from_secs(1)
    })
    .await;
    let f = AtBindForm::new(app).await;
    f.app.give_sms_code(MOBILE, "123456").await;
    f.app.state.clock.advance(2);
    let r = f.post(MOBILE, PASSWORD, "123456").await;
    f.assert_refused(r, "openid-error", "无效的openid", MOBILE)
        .await;
}

async fn row_7_an_existing_account_with_a_wrong_password(kind: Setup) {
    let app = spawn_app(kind).await;
    app.create_user(MOBILE, "rightpass1").await;
    let f = AtBindForm::new(app).await;
    f.app.give_sms_code(MOBILE, "123456").await;
    let r = f.post(MOBILE, "wrongpass1", "123456").await;
    f.assert_refused(r, "account-error", "用户名或密码错误", MOBILE)
        .await;
    assert!(f.app.binding_of(OPENID).await.is_none());
}

async fn row_8_an_account_bound_to_another_qq(kind: Setup) {
    let app = spawn_app(kind).await;
    app.bind_new_account(OPENID_2, MOBILE).await;
    let f = AtBindForm::new(app).await;
    f.app.give_sms_code(MOBILE, "123456").await;
    let r = f.post(MOBILE, PASSWORD, "123456").await;
    f.assert_refused(r, "qq-login-error", "该账号已绑定其他QQ", MOBILE)
        .await;
    assert!(f.app.binding_of(OPENID).await.is_none());
}

async fn row_9_the_openid_bound_to_another_account_meanwhile(kind: Setup) {
    let app = spawn_app(kind).await;
    let b = app.browser();
    let form = app.reach_bind_form(&b, OPENID, "/").await;
    // Meanwhile, in another browser, the same QQ binds another mobile.
    app.bind_new_account(OPENID, "13900139000").await;
    let f = AtBindForm::with(app, b, form).await;
    f.app.give_sms_code(MOBILE, "123456").await;
    let r = f.post(MOBILE, PASSWORD, "123456").await;
    f.assert_refused(r, "qq-login-error", "QQ登录失败", MOBILE)
        .await;
    assert!(
        f.app.user_by_mobile(MOBILE).await.is_none(),
        "no orphan account"
    );
}

async fn oversized_and_malformed_bodies_get_a_4xx_and_change_nothing(kind: Setup) {
    let f = AtBindForm::new(spawn_app(kind).await).await;
    f.app.give_sms_code(MOBILE, "123456").await;
    let big = "x".repeat(20 * 1024);
    assert_eq!(f.post(MOBILE, &big, "123456").await.status(), 413);
    let raw = |content_type: &'static str, body: Vec<u8>| {
        f.b.client
            .post(format!("{}/oauth_callback/", f.app.base))
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    for body in [
        b"mobile=%FF%FE&password=\xff\xfe&sms_code=1".to_vec(),
        b"%%%&&&==".to_vec(),
        vec![0xC3, 0x28, b'=', 0xA0],
    ] {
        let r = raw("application/x-www-form-urlencoded", body)
            .await
            .unwrap();
        assert!(r.status().is_client_error(), "{}", r.status());
    }
    let r = raw("application/json", b"{}".to_vec()).await.unwrap();
    assert!(r.status().is_client_error(), "{}", r.status());
    assert_eq!(f.app.user_count().await, 0);
    assert!(!f.b.is_logged_in().await);
}

async fn the_form_without_javascript_can_ask_for_the_sms_code(kind: Setup) {
    let f = AtBindForm::new(spawn_app(kind).await).await;
    let text = f.app.captcha(&f.b, &f.form.image_code_id).await;
    let r =
        f.b.post_form(
            "/oauth_callback/",
            &[
                ("mobile", MOBILE),
                ("image_code", &text),
                ("image_code_id", &f.form.image_code_id),
                ("access_token", &f.form.access_token),
                ("csrf_token", &f.form.csrf_token),
                ("action", "send_sms"),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert!(page.contains("短信验证码已发送"));
    assert_eq!(input_value(&page, "mobile").as_deref(), Some(MOBILE));
    let code = f
        .app
        .codes()
        .get(&keys::sms(MOBILE))
        .await
        .unwrap()
        .expect("code stored");
    assert_eq!(f.post(MOBILE, PASSWORD, &code).await.status(), 302);
}

crate::all_setups!(
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
