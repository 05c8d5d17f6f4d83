//! No dead ends: the pending bind survives a reload, a refused bind keeps the shopper's
//! work, a logged-in customer binds from the user centre, every error is a page.

use serde_json::{json, Value};

use crate::helpers::*;

const MOBILE: &str = "13800138000";
const OTHER: &str = "13700137000";

fn h1(page: &str) -> String {
    between(page, "<h1>", "</h1>")
        .unwrap_or_default()
        .to_owned()
}

async fn a_reload_or_back_shows_the_same_bind_form_without_asking_qq_again(kind: Setup) {
    let app = spawn_app(kind).await;
    let b = app.browser();
    let state = b.start_qq_login("/info/").await;
    let first = b.callback(&format!("code-{OPENID}"), &state).await;
    assert_eq!(first.status(), 200);
    let first = first.text().await.unwrap();
    let calls = app.qq.token_calls();

    // Reload: the same URL. Back or a reopened tab: no query at all.
    let reload = b.callback(&format!("code-{OPENID}"), &state).await;
    assert_eq!(reload.status(), 200);
    let reload = reload.text().await.unwrap();
    let bare = b.get("/oauth_callback/").await;
    assert_eq!(bare.status(), 200);
    let bare = bare.text().await.unwrap();
    assert_eq!(app.qq.token_calls(), calls, "QQ is not asked again");
    let token = input_value(&first, "access_token").unwrap();
    for page in [&reload, &bare] {
        assert_eq!(
            input_value(page, "access_token").as_deref(),
            Some(token.as_str())
        );
        assert_eq!(h1(page), h1(&first), "the same greeting");
        assert!(h1(page).contains("QQ用户"), "{}", h1(page));
    }

    // The used state with another code is still refused, and QQ is not asked.
    let r = b.callback(&format!("code-{OPENID_2}"), &state).await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("state无效"));
    assert_eq!(app.qq.token_calls(), calls);

    // The reloaded form binds.
    let form = BindForm {
        csrf_token: input_value(&bare, "csrf_token").unwrap(),
        access_token: input_value(&bare, "access_token").unwrap(),
        image_code_id: input_value(&bare, "image_code_id").unwrap(),
    };
    app.give_sms_code(MOBILE, "123456").await;
    let r = b.post_bind(&form, MOBILE, PASSWORD, "123456").await;
    assert_is_redirect_to(&r, "/info/");
    // Used: a reload is the state error now (and the customer is logged in).
    let r = b.callback(&format!("code-{OPENID}"), &state).await;
    assert_eq!(r.status(), 400);
    let r = b.get("/oauth_callback/").await;
    assert_eq!(r.status(), 400);
    assert_eq!(app.binding_count().await, 1);
}

async fn the_pending_bind_ends_with_its_token(kind: Setup) {
    let app = spawn_app_with_manual_clock(kind, |s| {
        s.openid_token_ttl = std::time::Duration::from_secs(60)
    })
    .await;
    let b = app.browser();
    let state = b.start_qq_login("/").await;
    assert_eq!(
        b.callback(&format!("code-{OPENID}"), &state).await.status(),
        200
    );
    app.state.clock.advance(59);
    assert_eq!(b.get("/oauth_callback/").await.status(), 200);
    app.state.clock.advance(2);
    let r = b.callback(&format!("code-{OPENID}"), &state).await;
    assert_eq!(r.status(), 400, "expired: the state error");
    assert!(r.text().await.unwrap().contains("state无效"));
    // Another browser never sees this one's pending bind.
    let other = app.browser();
    assert_eq!(other.get("/oauth_callback/").await.status(), 400);
}

async fn a_refused_bind_keeps_the_shoppers_work(kind: Setup) {
    let app = spawn_app(kind).await;
    app.create_user(MOBILE, "rightpass1").await;
    let b = app.browser();
    let form = app.reach_bind_form(&b, OPENID, "/").await;
    let code = app.request_sms_code(&b, MOBILE).await;
    // A fresh captcha, typed but not used by the refused bind.
    let captcha = app.captcha(&b, &form.image_code_id).await;
    let post = |password: &'static str, sms: String| {
        let (b, form, captcha) = (b.clone(), form.clone(), captcha.clone());
        async move {
            b.post_form(
                "/oauth_callback/",
                &[
                    ("mobile", MOBILE),
                    ("password", password),
                    ("sms_code", &sms),
                    ("access_token", &form.access_token),
                    ("csrf_token", &form.csrf_token),
                    ("image_code", &captcha),
                    ("image_code_id", &form.image_code_id),
                    ("action", "bind"),
                ],
            )
            .await
        }
    };

    // Row 7: the SMS code, the captcha and the button's wait are kept; a way to recovery.
    let r = post("wrongpass1", code.clone()).await;
    assert_eq!(r.status(), 400);
    let page = r.text().await.unwrap();
    assert_eq!(
        slot_message(&page, "account-error").as_deref(),
        Some("用户名或密码错误")
    );
    assert_eq!(
        input_value(&page, "sms_code").as_deref(),
        Some(code.as_str())
    );
    assert_eq!(
        input_value(&page, "image_code").as_deref(),
        Some(captcha.as_str())
    );
    assert_eq!(
        input_value(&page, "image_code_id").as_deref(),
        Some(form.image_code_id.as_str())
    );
    assert!(!page.contains("wrongpass1"));
    assert!(
        page.contains(&format!(
            "href=\"/password/reset/?mobile={MOBILE}&amp;next=%2Fqq%2Fauthorize%2F%3Fnext%3D%252F%26intent%3Dlink\""
        )),
        "忘记密码？ with the mobile, and back to QQ after"
    );
    let wait: u64 = between(&page, "data-wait=\"", "\"")
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (50..=60).contains(&wait),
        "the SMS button still waits: {wait}"
    );
    assert!(
        page.contains("aria-invalid=\"true\""),
        "the field is marked"
    );
    // One message per field: no green notice beside a red error.
    assert!(!page.contains("短信验证码已发送"));

    // Row 5: the refused code is not shown back.
    let r = post("rightpass1", "000000".into()).await;
    assert_eq!(r.status(), 400);
    let page = r.text().await.unwrap();
    assert_eq!(
        slot_message(&page, "sms-code-error").as_deref(),
        Some("输入短信验证码有误")
    );
    assert_eq!(input_value(&page, "sms_code").as_deref(), Some(""));
    assert!(
        between(&page, "id=\"sms_code\"", ">")
            .unwrap()
            .contains("aria-invalid=\"true\""),
        "the refused field is marked"
    );
    assert_eq!(input_value(&page, "mobile").as_deref(), Some(MOBILE));
}

async fn an_expired_token_offers_a_new_qq_login_with_the_same_next(kind: Setup) {
    let app = spawn_app_with_manual_clock(kind, |s| {
        s.openid_token_ttl = std::time::Duration::from_secs(1)
    })
    .await;
    let b = app.browser();
    let form = app.reach_bind_form(&b, OPENID, "/goods/7.html").await;
    app.give_sms_code(MOBILE, "123456").await;
    app.state.clock.advance(2);
    let r = b.post_bind(&form, MOBILE, PASSWORD, "123456").await;
    assert_eq!(r.status(), 400);
    let page = r.text().await.unwrap();
    assert_eq!(
        slot_message(&page, "openid-error").as_deref(),
        Some("无效的openid")
    );
    assert!(
        page.contains("href=\"/qq/authorize/?next=%2Fgoods%2F7.html\""),
        "重新QQ登录 comes back to the same next"
    );
    assert!(page.contains("重新QQ登录"));
    let r = b.get("/qq/authorize/?next=%2Fgoods%2F7.html").await;
    assert_eq!(r.status(), 302, "a new QQ login starts");
}

/// A logged-in customer's 绑定QQ (`intent=link`), back at the callback with
/// `code-<openid>`.
async fn callback_logged_in(b: &Browser, openid: &str, next: &str) -> reqwest::Response {
    let r = b
        .get(&format!("/qq/login/?next={}&intent=link", urlencode(next)))
        .await;
    let body: serde_json::Value = r.json().await.unwrap();
    let url = url::Url::parse(body["login_url"].as_str().unwrap()).unwrap();
    let state = url
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    b.callback(&format!("code-{openid}"), &state).await
}

async fn a_logged_in_customer_binds_from_the_user_centre_with_one_confirmation(kind: Setup) {
    let app = spawn_app(kind).await;
    let user = app.create_user(MOBILE, PASSWORD).await;
    let b = app.logged_in(MOBILE, PASSWORD).await;
    let r = callback_logged_in(&b, OPENID, "/info/").await;
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("将QQ <strong>QQ用户")
            && page.contains(&format!("绑定到账号 <strong>{}</strong>？", user.username)),
        "{page}"
    );
    assert_eq!(input_value(&page, "mobile"), None, "no mobile field");
    assert_eq!(input_value(&page, "sms_code"), None, "no SMS field");
    assert_eq!(
        app.binding_count().await,
        0,
        "nothing bound before the confirmation"
    );
    let csrf = input_value(&page, "csrf_token").unwrap();
    let token = input_value(&page, "access_token").unwrap();

    // No CSRF token: 403, nothing bound.
    let r = b
        .post_form("/oauth_callback/link/", &[("access_token", &token)])
        .await;
    assert_eq!(r.status(), 403);
    // Anonymous: to the login page.
    let r = app
        .browser()
        .post_form(
            "/oauth_callback/link/",
            &[("access_token", &token), ("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status(), 302);
    assert_eq!(app.binding_count().await, 0);

    let r = b
        .post_form(
            "/oauth_callback/link/",
            &[("access_token", &token), ("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/info/");
    assert_eq!(app.binding_of(OPENID).await.unwrap().user_id, user.id);
    let info = b.get("/info/").await.text().await.unwrap();
    assert!(info.contains("绑定成功"), "the notice");
    assert!(info.contains("已绑定QQ"));
    let entry = app.audit_of(user.id).await.into_iter().next().unwrap();
    assert_eq!(entry.action, "qq_bind");
    assert_eq!(entry.detail, format!("openid={OPENID}"));
    // The QQ now logs straight in.
    let other = app.browser();
    let state = other.start_qq_login("/").await;
    assert_is_redirect_to(
        &other.callback(&format!("code-{OPENID}"), &state).await,
        "/",
    );
}

async fn a_qq_bound_elsewhere_is_a_409_that_names_its_account_only_masked(kind: Setup) {
    let app = spawn_app(kind).await;
    app.bind_new_account(OPENID, OTHER).await;
    app.create_user(MOBILE, PASSWORD).await;
    let b = app.logged_in(MOBILE, PASSWORD).await;
    let r = callback_logged_in(&b, OPENID, "/info/").await;
    assert_eq!(r.status(), 409);
    let page = r.text().await.unwrap();
    assert!(page.contains("该QQ已绑定账号 137****7000"), "{page}");
    assert!(
        !page.contains(OTHER),
        "never the full mobile (the owner's username is it)"
    );
    assert!(
        page.contains("action=\"/logout/\""),
        "offers to log out and log in as it"
    );
    assert!(b.is_logged_in().await, "still logged in as themselves");
    let me = app.user_by_mobile(MOBILE).await.unwrap();
    assert_eq!(app.audit_of(me.id).await.len(), 0, "nothing changed");
    let owner = app.user_by_mobile(OTHER).await.unwrap();
    assert_eq!(app.binding_of(OPENID).await.unwrap().user_id, owner.id);

    // 退出当前账号，用该QQ登录: out, and straight to QQ, back where the bind was going.
    let next = input_value(&page, "next").unwrap().replace("&#38;", "&");
    assert_eq!(next, "/qq/authorize/?next=%2Finfo%2F");
    let r = b
        .post_form(
            "/logout/",
            &[
                ("next", next.as_str()),
                ("csrf_token", &input_value(&page, "csrf_token").unwrap()),
            ],
        )
        .await;
    assert_is_redirect_to(&r, &next);
    assert!(!b.is_logged_in().await, "out");
    let state = b.state_from_authorize(&next).await;
    let r = b.callback(&format!("code-{OPENID}"), &state).await;
    assert_is_redirect_to(&r, "/info/");
    let info = b.get("/info/").await.text().await.unwrap();
    assert!(
        info.contains(&format!("id=\"info-username\">{}<", owner.username)),
        "in as the QQ's owner"
    );
    assert!(
        !info.contains("已退出登录"),
        "no notice of the logout on the new account's page"
    );
}

async fn an_account_with_a_qq_is_told_to_unbind_first(kind: Setup) {
    let app = spawn_app(kind).await;
    app.bind_new_account(OPENID, MOBILE).await;
    let b = app.logged_in(MOBILE, PASSWORD).await;
    let r = callback_logged_in(&b, OPENID_2, "/info/").await;
    assert_eq!(r.status(), 409);
    let page = r.text().await.unwrap();
    assert!(page.contains("该账号已绑定其他QQ"));
    assert!(page.contains("去用户中心解除绑定"));
    assert_eq!(app.binding_of(OPENID_2).await.map(|b| b.user_id), None);
    // Its own QQ: straight back to next.
    let r = callback_logged_in(&b, OPENID, "/info/").await;
    assert_is_redirect_to(&r, "/info/");
}

async fn two_accounts_racing_for_one_qq_get_one_binding(kind: Setup) {
    let app = spawn_app(kind).await;
    app.create_user(MOBILE, PASSWORD).await;
    app.create_user(OTHER, PASSWORD).await;
    let mut forms = Vec::new();
    for mobile in [MOBILE, OTHER] {
        let b = app.logged_in(mobile, PASSWORD).await;
        let page = callback_logged_in(&b, OPENID, "/info/")
            .await
            .text()
            .await
            .unwrap();
        let csrf = input_value(&page, "csrf_token").unwrap();
        let token = input_value(&page, "access_token").unwrap();
        forms.push((b, csrf, token));
    }
    let answers = futures::future::join_all(forms.iter().map(|(b, csrf, token)| async move {
        b.post_form(
            "/oauth_callback/link/",
            &[("access_token", token), ("csrf_token", csrf)],
        )
        .await
        .status()
        .as_u16()
    }))
    .await;
    let mut sorted = answers.clone();
    sorted.sort();
    assert!(sorted == [303, 409] || sorted == [303, 400], "{answers:?}");
    assert_eq!(app.binding_count().await, 1);
}

async fn the_json_api_links_with_a_jwt(kind: Setup) {
    let app = spawn_app(kind).await;
    app.bind_new_account(OPENID_2, OTHER).await;
    let client = reqwest::Client::new();
    // A JWT for an account with no QQ yet, and openid tokens as the API's callback
    // step signs them.
    app.create_user(MOBILE, PASSWORD).await;
    let user = app.user_by_mobile(MOBILE).await.unwrap();
    let jwt = qqbind::web::api::jwt::issue(&app.state, &user).unwrap();
    let token_for = |openid: &'static str| {
        let app = &app;
        async move {
            let exp = app.state.clock.now() + 300;
            let id = qqbind::domain::OpenId::parse(openid).unwrap();
            app.state
                .signer
                .sign_openid(&id, exp, qqbind::web::api::oauth::TOKEN_BINDING)
        }
    };
    let link = |auth: Option<String>, body: Value| {
        let client = client.clone();
        let url = format!("{}/api/oauth/qq/link/", app.base);
        async move {
            let mut r = client.post(url).json(&body);
            if let Some(a) = auth {
                r = r.header("Authorization", a);
            }
            let r = r.send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let bearer = Some(format!("Bearer {jwt}"));
    let t = token_for(OPENID).await;
    let (status, body) = link(None, json!({ "access_token": t })).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("4101")));
    let (status, body) = link(bearer.clone(), json!({})).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("4003")));
    let (status, body) = link(bearer.clone(), json!({ "access_token": "forged" })).await;
    assert_eq!(
        (status, body),
        (400, json!({"code": "4013", "errmsg": "无效的openid"}))
    );
    let owned = token_for(OPENID_2).await;
    let (status, body) = link(bearer.clone(), json!({ "access_token": owned })).await;
    assert_eq!(
        (status, body),
        (
            409,
            json!({"code": "4090", "errmsg": "该QQ已绑定账号 137****7000"})
        )
    );
    let (status, body) = link(bearer.clone(), json!({ "access_token": t })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["code"].as_str(), body["id"].as_i64()),
        (Some("0"), Some(user.id as i64))
    );
    assert_eq!(app.binding_of(OPENID).await.unwrap().user_id, user.id);
    let entry = app.audit_of(user.id).await.into_iter().next().unwrap();
    assert_eq!(
        (entry.action.as_str(), entry.channel.as_str()),
        ("qq_bind", "api")
    );
}

async fn a_wrong_method_gets_a_branded_page_that_knows_who_is_logged_in(kind: Setup) {
    let app = spawn_app(kind).await;
    app.create_user(MOBILE, PASSWORD).await;
    let anonymous = app.browser();
    let r = anonymous.get("/logout/").await;
    assert_eq!(r.status(), 405);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let page = r.text().await.unwrap();
    assert!(page.contains("出错了") && page.contains("405"), "{page}");
    assert!(page.contains("href=\"/login/\""));

    let b = app.logged_in(MOBILE, PASSWORD).await;
    for (path, status) in [
        ("/logout/", 405),
        ("/no/such/page/", 404),
        ("/oauth_callback/?state=x", 400),
    ] {
        let r = b.get(path).await;
        assert_eq!(r.status(), status, "{path}");
        let page = r.text().await.unwrap();
        assert!(
            page.contains("欢迎您"),
            "{path}: the header knows who is logged in"
        );
        assert!(!page.contains(">注册</a>"), "{path}");
    }
    // The API keeps its JSON.
    let r = b
        .client
        .delete(format!("{}/api/user/", b.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "4050");
}

async fn the_agreement_and_privacy_policy_are_real_pages(kind: Setup) {
    let app = spawn_app(kind).await;
    let b = app.browser();
    for (path, title) in [("/terms/", "用户协议"), ("/privacy/", "隐私政策")] {
        let r = b.get(path).await;
        assert_eq!(r.status(), 200);
        let page = r.text().await.unwrap();
        assert!(page.contains(&format!("<h1>{title}</h1>")));
        assert!(page.contains("版本 1.0") && page.contains("生效日期"));
        // Every way in that collects data is named.
        for provider in ["QQ", "微信", "微博"] {
            assert!(page.contains(provider), "{path} names {provider}");
        }
    }
    let privacy = b.get("/privacy/").await.text().await.unwrap();
    let days = app.state.settings.login_history_days;
    assert!(
        privacy.contains(&format!("登录记录保存{days}天")),
        "{privacy}"
    );
    assert!(privacy.contains("下载我的数据") && privacy.contains("注销账号"));
    let terms = b.get("/terms/").await.text().await.unwrap();
    assert!(
        terms.contains(
            "您可以在用户中心自行注销账号（需验证密码或短信验证码），注销立即生效，不可恢复"
        ),
        "{terms}"
    );
    for path in ["/register/", "/login/"] {
        let page = b.get(path).await.text().await.unwrap();
        assert!(
            page.contains("href=\"/terms/\"") && page.contains("href=\"/privacy/\""),
            "{path}"
        );
    }
    app.reach_bind_form(&b, OPENID, "/").await;
    let page = b.get("/oauth_callback/").await.text().await.unwrap();
    assert!(page.contains("登录/绑定即表示同意"));
    // What the login page says after a logout.
    app.create_user(MOBILE, PASSWORD).await;
    let b = app.logged_in(MOBILE, PASSWORD).await;
    let csrf = b.csrf_from("/info/").await;
    let r = b.post_form("/logout/", &[("csrf_token", &csrf)]).await;
    assert_is_redirect_to(&r, "/login/");
    let page = b.get("/login/").await.text().await.unwrap();
    assert!(page.contains("已退出登录"));
    let page = b.get("/login/").await.text().await.unwrap();
    assert!(!page.contains("已退出登录"), "once");
}

/// A plain QQ login (not 绑定QQ) while logged in logs in as whoever the QQ belongs to.
async fn a_plain_qq_login_while_logged_in_switches_to_the_qqs_account(kind: Setup) {
    let app = spawn_app(kind).await;
    app.bind_new_account(OPENID, OTHER).await;
    app.create_user(MOBILE, PASSWORD).await;
    let b = app.logged_in(MOBILE, PASSWORD).await;
    let state = b.start_qq_login("/info/").await;
    let r = b.callback(&format!("code-{OPENID}"), &state).await;
    assert_is_redirect_to(&r, "/info/");
    let info = b.get("/info/").await.text().await.unwrap();
    assert!(info.contains("137****7000"), "now the QQ's account");
}

/// The bind form's 忘记密码？: the reset, the login page with the mobile filled in, then
/// QQ again to bind it to the account, and on to where the shopper was going.
async fn a_forgotten_password_at_the_bind_form_comes_back_to_bind(kind: Setup) {
    let app = spawn_app(kind).await;
    let user = app.create_user(MOBILE, "rightpass1").await;
    let b = app.browser();
    let form = app.reach_bind_form(&b, OPENID, "/goods/1.html").await;
    app.give_sms_code(MOBILE, "123456").await;
    let r = b.post_bind(&form, MOBILE, "wrongpass1", "123456").await;
    assert_eq!(r.status(), 400);
    let page = r.text().await.unwrap();
    let href = between(&page, "id=\"forgot-password\" href=\"", "\"")
        .expect("忘记密码？")
        .replace("&amp;", "&");

    let reset = b.get(&href).await.text().await.unwrap();
    assert_eq!(input_value(&reset, "mobile").as_deref(), Some(MOBILE));
    let next = input_value(&reset, "next")
        .expect("the way back, kept in the form")
        .replace("&#38;", "&");
    assert_eq!(next, "/qq/authorize/?next=%2Fgoods%2F1.html&intent=link");
    let code = app.request_reset_code(&b, MOBILE).await;
    let csrf = input_value(&reset, "csrf_token").unwrap();
    let r = b
        .post_form(
            "/password/reset/",
            &[
                ("mobile", MOBILE),
                ("sms_code", &code),
                ("password", "newpass2026"),
                ("password2", "newpass2026"),
                ("next", &next),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    let login_url =
        "/login/?next=%2Fqq%2Fauthorize%2F%3Fnext%3D%252Fgoods%252F1.html%26intent%3Dlink";
    assert_is_redirect_to(&r, login_url);

    // The login page: the notice, the mobile filled in (once), the way on kept.
    let login = b.get(login_url).await.text().await.unwrap();
    assert!(login.contains("密码已重置，请用新密码登录"));
    assert_eq!(input_value(&login, "username").as_deref(), Some(MOBILE));
    let again = b.get("/login/").await.text().await.unwrap();
    assert_eq!(input_value(&again, "username").as_deref(), Some(""));
    let csrf = input_value(&login, "csrf_token").unwrap();
    let r = b
        .post_form(
            login_url,
            &[
                ("username", MOBILE),
                ("password", "newpass2026"),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_is_redirect_to(&r, "/qq/authorize/?next=%2Fgoods%2F1.html&intent=link");

    // QQ again: this time to bind it to the account now logged in, with one click.
    let state = b
        .state_from_authorize("/qq/authorize/?next=%2Fgoods%2F1.html&intent=link")
        .await;
    let r = b.callback(&format!("code-{OPENID}"), &state).await;
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert!(
        page.contains(&format!("绑定到账号 <strong>{}</strong>？", user.username)),
        "{page}"
    );
    let r = b
        .post_form(
            "/oauth_callback/link/",
            &[
                ("access_token", &input_value(&page, "access_token").unwrap()),
                ("csrf_token", &input_value(&page, "csrf_token").unwrap()),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/goods/1.html");
    assert_eq!(app.binding_of(OPENID).await.unwrap().user_id, user.id);
}

crate::all_setups!(
    a_plain_qq_login_while_logged_in_switches_to_the_qqs_account,
    a_forgotten_password_at_the_bind_form_comes_back_to_bind,
    a_reload_or_back_shows_the_same_bind_form_without_asking_qq_again,
    the_pending_bind_ends_with_its_token,
    a_refused_bind_keeps_the_shoppers_work,
    an_expired_token_offers_a_new_qq_login_with_the_same_next,
    a_logged_in_customer_binds_from_the_user_centre_with_one_confirmation,
    a_qq_bound_elsewhere_is_a_409_that_names_its_account_only_masked,
    an_account_with_a_qq_is_told_to_unbind_first,
    two_accounts_racing_for_one_qq_get_one_binding,
    the_json_api_links_with_a_jwt,
    a_wrong_method_gets_a_branded_page_that_knows_who_is_logged_in,
    the_agreement_and_privacy_policy_are_real_pages,
);
