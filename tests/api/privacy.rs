//! Personal data under the customer's control (issue 17): consents recorded and asked
//! again for a new version, closing the account (注销) end to end, the data file, the
//! login history and the sessions the customer can end.

use qqbind::db;
use serde_json::{json, Value};

use crate::helpers::*;

const MOBILE: &str = "13800138000";

async fn consents(app: &TestApp, user_id: i32) -> Vec<db::consent::Consent> {
    app.state
        .db
        .write(move |c| Ok(db::consent::of_user(c, user_id)?))
        .await
        .unwrap()
}

async fn register(app: &TestApp, b: &Browser, username: &str, mobile: &str) -> reqwest::Response {
    let csrf = b.csrf_from("/register/").await;
    app.give_sms_code(mobile, "123456").await;
    b.post_form(
        "/register/?next=/info/",
        &[
            ("username", username),
            ("password", PASSWORD),
            ("password2", PASSWORD),
            ("mobile", mobile),
            ("sms_code", "123456"),
            ("allow", "1"),
            ("csrf_token", &csrf),
            ("action", "register"),
        ],
    )
    .await
}

/// Each account records what it accepted, where: at register, at bind, at a link.
async fn consent_is_recorded_at_register_bind_and_link(kind: Setup) {
    let app = spawn_app(kind).await;
    let b = app.browser();
    assert_is_redirect_to(&register(&app, &b, "xiaoming", MOBILE).await, "/info/");
    let user = app.user_by_mobile(MOBILE).await.unwrap();
    let got = consents(&app, user.id).await;
    let docs: Vec<(&str, &str, &str)> = got
        .iter()
        .map(|c| (c.document.as_str(), c.version.as_str(), c.context.as_str()))
        .collect();
    assert_eq!(
        docs,
        [("terms", "1.0", "register"), ("privacy", "1.0", "register")]
    );
    assert!(got
        .iter()
        .all(|c| c.ip == "127.0.0.1" && c.user_agent == TEST_USER_AGENT));

    app.bind_new_account(OPENID, "13900139000").await;
    let bound = app.user_by_mobile("13900139000").await.unwrap();
    let contexts: Vec<String> = consents(&app, bound.id)
        .await
        .into_iter()
        .map(|c| c.context)
        .collect();
    assert_eq!(contexts, ["bind", "bind"]);

    // The pages that make an account or link an identity say so beside their button.
    let form = app.browser();
    let state = form.start_qq_login("/").await;
    let page = form
        .callback(&format!("code-{OPENID_2}"), &state)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("登录/绑定即表示同意") && page.contains("href=\"/terms/\""),
        "{page}"
    );
}

/// A new version of a document: the next login shows the consent page, with an
/// unticked box, before it goes on to `next`; pages needing the login wait for it.
async fn a_new_document_version_is_accepted_at_the_next_login(kind: Setup) {
    let app = spawn_app(kind).await;
    let b = app.browser();
    register(&app, &b, "xiaoming", MOBILE).await;
    let user = app.user_by_mobile(MOBILE).await.unwrap();
    // The shop publishes 《用户协议》 2.0: the next start runs with TERMS_VERSION=2.0.
    let mut settings = test_settings(
        &app.database_url,
        app.redis.as_ref().map(RedisServer::url),
        &app.qq.url,
    );
    settings.terms_version = "2.0".to_owned();
    let next_start = qqbind::startup::Application::build(settings).await.unwrap();
    let base = format!("http://127.0.0.1:{}", next_start.port());
    tokio::spawn(next_start.run_until_stopped());
    let other = Browser {
        base,
        ..app.browser()
    };
    let r = other.post_login("xiaoming", PASSWORD).await;
    assert_is_redirect_to(&r, "/consent/?next=/");
    let r = other.get("/info/").await;
    assert_is_redirect_to(&r, "/consent/?next=/info/");
    let page = other
        .get("/consent/?next=/info/")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("版本 2.0"), "{page}");
    // Only 《用户协议》 changed: the page names it, not 《隐私政策》.
    assert!(
        page.contains("<h1 id=\"consent-title\">《用户协议》已更新</h1>"),
        "{page}"
    );
    assert!(page.contains("id=\"consent-terms\"") && !page.contains("id=\"consent-privacy\""));
    assert!(page.contains("<label for=\"allow\">我已阅读并同意《用户协议》</label>"));
    // The documents the consent page links to say the same versions.
    for (path, version) in [("/terms/", "2.0"), ("/privacy/", "1.0")] {
        let doc = other.get(path).await.text().await.unwrap();
        assert!(doc.contains(&format!("版本 {version} ·")), "{path}: {doc}");
    }
    assert!(
        page.contains("id=\"allow\" name=\"allow\" type=\"checkbox\" value=\"on\">"),
        "unticked"
    );
    let csrf = input_value(&page, "csrf_token").unwrap();
    let r = other
        .post_form(
            "/consent/",
            &[("csrf_token", csrf.as_str()), ("next", "/info/")],
        )
        .await;
    assert_eq!(r.status(), 400);
    assert_eq!(
        slot_message(&r.text().await.unwrap(), "consent-error").as_deref(),
        Some("请勾选同意《用户协议》")
    );
    assert_is_redirect_to(&other.get("/info/").await, "/consent/?next=/info/");
    let r = other
        .post_form(
            "/consent/",
            &[
                ("csrf_token", csrf.as_str()),
                ("next", "/info/"),
                ("allow", "on"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/info/");
    assert_eq!(other.get("/info/").await.status(), 200);
    let last = consents(&app, user.id).await.pop().unwrap();
    assert_eq!(
        (last.version.as_str(), last.context.as_str()),
        ("1.0", "interstitial")
    );
    assert_eq!(app.audit_actions(user.id).await[0], "consent_given");
    // Accepted: the next login goes straight on.
    let again = Browser {
        base: other.base.clone(),
        ..app.browser()
    };
    assert_is_redirect_to(&again.post_login("xiaoming", PASSWORD).await, "/");
}

async fn close(b: &Browser, fields: &[(&str, &str)]) -> reqwest::Response {
    let csrf = b.csrf_from("/info/delete/").await;
    let mut form = vec![("csrf_token", csrf.as_str())];
    form.extend_from_slice(fields);
    b.post_form("/info/delete/", &form).await
}

/// Closing an account: every session ends, the QQ binds again, the mobile registers
/// again, personal data goes, the audit log keeps the event with the id only.
async fn closing_an_account_frees_everything_and_keeps_only_its_id(kind: Setup) {
    let app = spawn_app(kind).await;
    app.bind_new_account(OPENID, MOBILE).await;
    let user = app.user_by_mobile(MOBILE).await.unwrap();
    let a = app.logged_in(MOBILE, PASSWORD).await;
    let other_device = app.logged_in(MOBILE, PASSWORD).await;
    let page = a.get("/info/delete/").await.text().await.unwrap();
    assert!(
        page.contains("手机号和用户名被释放") && page.contains("不可恢复"),
        "{page}"
    );
    // The data can be kept first, from the page that closes the account.
    assert!(page.contains("<a href=\"/info/export/\" id=\"delete-export\">下载我的数据</a>"));
    // Without the CSRF token: refused, nothing changes.
    let r = a
        .post_form("/info/delete/", &[("password", PASSWORD)])
        .await;
    assert_eq!(r.status(), 403);
    let r = close(&a, &[("password", "wrong-password")]).await;
    assert_eq!(r.status(), 400);
    assert_eq!(
        slot_message(&r.text().await.unwrap(), "delete-error").as_deref(),
        Some("密码错误")
    );
    let r = close(&a, &[]).await;
    assert_eq!(r.status(), 400);
    assert!(app.binding_of(OPENID).await.is_some());

    let r = close(&a, &[("password", PASSWORD)]).await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/login/");
    let login = a.get("/login/").await.text().await.unwrap();
    assert!(login.contains("账号已注销"), "{login}");
    assert!(!a.is_logged_in().await);
    assert!(!other_device.is_logged_in().await, "every session ended");

    let closed = app.user(user.id).await;
    assert_eq!(closed.username, format!("closed_{}", user.id));
    assert!(!closed.is_active && closed.nickname.is_empty() && closed.password == "!");
    assert!(app.binding_of(OPENID).await.is_none());
    assert!(consents(&app, user.id).await.is_empty());
    let log = app.audit_of(user.id).await;
    assert_eq!(log[0].action, "account_closed");
    assert!(
        log.iter().all(|e| e.detail.is_empty() && e.ip.is_empty()),
        "{log:?}"
    );
    // The mobile and the QQ are free: the same QQ binds the same mobile anew.
    app.bind_new_account(OPENID, MOBILE).await;
    let again = app.user_by_mobile(MOBILE).await.unwrap();
    assert_ne!(again.id, user.id);
    assert_eq!(app.binding_of(OPENID).await.unwrap().user_id, again.id);
    // The old cookie is refused for good.
    assert!(!a.is_logged_in().await);
}

/// Two closings at once: the account closes once.
async fn two_closings_at_once_close_once(kind: Setup) {
    let app = spawn_app(kind).await;
    app.bind_new_account(OPENID, MOBILE).await;
    let user = app.user_by_mobile(MOBILE).await.unwrap();
    let (a, b) = (
        app.logged_in(MOBILE, PASSWORD).await,
        app.logged_in(MOBILE, PASSWORD).await,
    );
    let (ca, cb) = (
        a.csrf_from("/info/delete/").await,
        b.csrf_from("/info/delete/").await,
    );
    let (fa, fb) = (
        [("csrf_token", ca.as_str()), ("password", PASSWORD)],
        [("csrf_token", cb.as_str()), ("password", PASSWORD)],
    );
    let (ra, rb) = tokio::join!(
        a.post_form("/info/delete/", &fa),
        b.post_form("/info/delete/", &fb),
    );
    assert!(ra.status() == 303 || rb.status() == 303);
    let closed: Vec<String> = app
        .audit_actions(user.id)
        .await
        .into_iter()
        .filter(|a| a == "account_closed")
        .collect();
    assert_eq!(closed.len(), 1);
}

/// With a cooling-off: sessions end now, a login cancels it, and once it has passed the
/// upkeep erases the account.
async fn a_cooling_off_lets_a_login_cancel_the_closing(kind: Setup) {
    let app = spawn_app_with_manual_clock(kind, |s| s.account_delete_grace_days = 7).await;
    app.bind_new_account(OPENID, MOBILE).await;
    let user = app.user_by_mobile(MOBILE).await.unwrap();
    let a = app.logged_in(MOBILE, PASSWORD).await;
    assert!(a
        .get("/info/delete/")
        .await
        .text()
        .await
        .unwrap()
        .contains("<strong>7</strong> 天冷静期"));
    let r = close(&a, &[("password", PASSWORD)]).await;
    assert_eq!(r.status(), 303);
    assert!(a
        .get("/login/")
        .await
        .text()
        .await
        .unwrap()
        .contains("账号将在7天后注销"));
    assert!(!a.is_logged_in().await);
    assert!(app.user(user.id).await.delete_requested_at.is_some());
    // A login within the cooling-off cancels it.
    let back = app.browser();
    assert_eq!(back.post_login(MOBILE, PASSWORD).await.status(), 302);
    let info = back.get("/info/").await.text().await.unwrap();
    assert!(info.contains("您的账号注销申请已取消"), "{info}");
    assert!(app.user(user.id).await.delete_requested_at.is_none());
    // Asked again, and left alone for 8 days: erased.
    assert_eq!(close(&back, &[("password", PASSWORD)]).await.status(), 303);
    qqbind::startup::maintain_once(&app.state).await;
    assert!(
        app.user_by_mobile(MOBILE).await.is_some(),
        "not before its time"
    );
    app.state.clock.advance(8 * 86_400);
    qqbind::startup::maintain_once(&app.state).await;
    assert!(app.user_by_mobile(MOBILE).await.is_none());
    assert!(app.binding_of(OPENID).await.is_none());
    let actions = app.audit_actions(user.id).await;
    assert_eq!(actions[0], "account_closed");
    for a in ["account_close_requested", "account_close_cancelled"] {
        assert!(actions.iter().any(|x| x == a), "{a}: {actions:?}");
    }
}

/// The SMS way: a closing code to the account's own mobile, then the code.
async fn an_sms_code_can_prove_it_is_the_owner(kind: Setup) {
    let app = spawn_app(kind).await;
    app.bind_new_account(OPENID, MOBILE).await;
    let a = app.logged_in(MOBILE, PASSWORD).await;
    let csrf = a.csrf_from("/info/delete/").await;
    let r = a
        .post_form("/info/delete/sms/", &[("csrf_token", csrf.as_str())])
        .await;
    assert_eq!(r.status(), 303);
    let page = a.get("/info/delete/").await.text().await.unwrap();
    assert!(page.contains("注销验证码已发送至 138****8000"), "{page}");
    let code = app.sent_sms(MOBILE).expect("sent");
    // A bind code does not close an account, nor a wrong one.
    let r = close(&a, &[("sms_code", "000000")]).await;
    assert_eq!(r.status(), 400);
    let r = close(&a, &[("sms_code", &code)]).await;
    assert_eq!(r.status(), 303);
    assert!(app.user_by_mobile(MOBILE).await.is_none());
}

/// The JSON API's closing, and its JWT refused after.
async fn the_json_api_closes_an_account(kind: Setup) {
    let app = spawn_app(kind).await;
    app.bind_new_account(OPENID, MOBILE).await;
    let user = app.user_by_mobile(MOBILE).await.unwrap();
    let jwt = qqbind::web::api::jwt::issue(&app.state, &user).unwrap();
    let http = reqwest::Client::new();
    let call = |body: Value| {
        http.post(format!("{}/api/user/delete/", app.base))
            .header("Authorization", format!("JWT {jwt}"))
            .json(&body)
            .send()
    };
    let r = call(json!({})).await.unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "4003");
    let r = call(json!({"password": "wrong-password"})).await.unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "4014");
    let r = call(json!({"password": PASSWORD})).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["erased"], true);
    let r = http
        .get(format!("{}/api/user/", app.base))
        .header("Authorization", format!("JWT {jwt}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(app.user_by_mobile(MOBILE).await.is_none());
}

/// The data file holds the profile, identities, consents, audit entries and logins;
/// no password hash, no secret.
async fn the_data_file_holds_everything_and_no_secret(kind: Setup) {
    let app = spawn_app(kind).await;
    app.bind_new_account(OPENID, MOBILE).await;
    let user = app.user_by_mobile(MOBILE).await.unwrap();
    let b = app.logged_in(MOBILE, PASSWORD).await;
    let r = b.get("/info/export/").await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment"));
    let text = r.text().await.unwrap();
    assert!(
        !text.contains(&user.password) && !text.contains("$2b$"),
        "no hash"
    );
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["account"]["mobile"], MOBILE);
    assert_eq!(v["identities"][0]["openid"], OPENID);
    assert_eq!(v["consents"].as_array().unwrap().len(), 2);
    assert_eq!(v["consents"][0]["context"], "bind");
    let logins = v["login_history"].as_array().unwrap();
    let methods: Vec<&str> = logins
        .iter()
        .map(|l| l["method"].as_str().unwrap())
        .collect();
    assert_eq!(methods, ["password", "qq"], "newest first");
    assert_eq!(logins[0]["user_agent"], TEST_USER_AGENT);
    // The devices logged in now, as the user centre lists them: this one, and the
    // bind's. Each says when, where and what; none carries its session's id.
    let sessions = v["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2, "{sessions:?}");
    let device = qqbind::sessions::device(TEST_USER_AGENT);
    for s in sessions {
        let keys: Vec<&str> = s.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["created", "device", "ip", "last_seen"]);
        assert_eq!(
            (s["ip"].as_str(), s["device"].as_str()),
            (Some("127.0.0.1"), Some(device.as_str()))
        );
        let created = s["created"].as_str().unwrap();
        assert!(created.len() == 20 && created.ends_with('Z'), "{created}");
    }
    assert!(v["audit_log"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["action"] == "qq_bind"));
}

/// The user centre lists the last logins and the live sessions; one device can be
/// logged out, or all the others.
async fn the_customer_sees_their_logins_and_ends_other_sessions(kind: Setup) {
    let app = spawn_app(kind).await;
    app.bind_new_account(OPENID, MOBILE).await;
    let user = app.user_by_mobile(MOBILE).await.unwrap();
    let a = app.logged_in(MOBILE, PASSWORD).await;
    let b = app.logged_in(MOBILE, PASSWORD).await;
    let c = app.logged_in(MOBILE, PASSWORD).await;
    let page = a.get("/info/").await.text().await.unwrap();
    let history = page
        .split("id=\"login-history\"")
        .nth(1)
        .unwrap()
        .split("</tbody>")
        .next()
        .unwrap();
    assert_eq!(history.matches("<tr><td").count(), 4, "{history}");
    assert!(history.contains("密码登录") && history.contains("QQ登录"));
    assert!(page.contains("不是您本人的登录？"));
    let sessions = page
        .split("id=\"sessions\"")
        .nth(1)
        .unwrap()
        .split("</tbody>")
        .next()
        .unwrap();
    assert_eq!(
        sessions.matches("<tr id=\"session-").count(),
        4,
        "{sessions}"
    );
    assert_eq!(sessions.matches("id=\"this-device\"").count(), 1);
    assert!(page.contains("并<a href=\"#end-other-sessions\">退出其他设备</a>"));
    assert!(page.contains("id=\"end-other-sessions\""));
    assert!(sessions.contains("Windows · Chrome"));
    // End one other device (b's, the newest but one).
    let handles: Vec<String> = sessions
        .split("action=\"/info/sessions/")
        .skip(1)
        .map(|s| s.split('/').next().unwrap().to_owned())
        .collect();
    assert_eq!(handles.len(), 3);
    let csrf = input_value(&page, "csrf_token").unwrap();
    let r = a
        .post_form(
            &format!("/info/sessions/{}/end/", handles[0]),
            &[("csrf_token", csrf.as_str())],
        )
        .await;
    assert_eq!(r.status(), 303);
    let after = a.get("/info/").await.text().await.unwrap();
    assert_eq!(
        after.matches("<tr id=\"session-").count(),
        3,
        "one device out"
    );
    assert!(!after.contains(&format!("session-{}", handles[0])));
    assert!(after.contains("已退出该设备"));
    // Someone else's handle, or garbage, ends nothing.
    let r = a
        .post_form(
            "/info/sessions/0000000000000000/end/",
            &[("csrf_token", csrf.as_str())],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        a.post_form("/info/sessions/x/end/", &[("csrf_token", csrf.as_str())])
            .await
            .status(),
        404
    );
    let r = a
        .post_form(
            "/info/sessions/end_others/",
            &[("csrf_token", csrf.as_str())],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert!(a.is_logged_in().await);
    assert!(!b.is_logged_in().await && !c.is_logged_in().await);
    // One device left: no button to end the others, and the advice does not point to one.
    let alone = a.get("/info/").await.text().await.unwrap();
    assert!(!alone.contains("id=\"end-other-sessions\""));
    let not_me = alone.split("id=\"not-me\">").nth(1).unwrap();
    assert!(
        not_me
            .starts_with("不是您本人的登录？请立即<a href=\"/info/password/\">修改密码</a>。</p>"),
        "{not_me}"
    );
    assert!(app
        .audit_actions(user.id)
        .await
        .contains(&"sessions_ended".to_owned()));
}

/// The history keeps `LOGIN_HISTORY_DAYS`: older logins are pruned by the app.
async fn old_logins_are_pruned(kind: Setup) {
    let app = spawn_app_with(kind, |s| s.login_history_days = 30).await;
    app.bind_new_account(OPENID, MOBILE).await;
    let user = app.user_by_mobile(MOBILE).await.unwrap();
    let old = db::now() - chrono::Duration::days(31);
    app.state
        .db
        .write(move |c| {
            Ok(db::login_history::record(
                c, user.id, "password", old, "1.2.3.4", "old",
            )?)
        })
        .await
        .unwrap();
    app.state.logins.flush(&app.state.db).await;
    let count = || async {
        app.state
            .db
            .write(move |c| Ok(db::login_history::recent(c, user.id, 100)?))
            .await
            .unwrap()
            .len()
    };
    assert_eq!(count().await, 2);
    qqbind::startup::maintain_once(&app.state).await;
    assert_eq!(count().await, 1);
}

/// Logins made at once each reach the history once, with their User-Agent: the batch
/// the log writes (a cached row insert a line on SQLite, multi-row on PostgreSQL) loses
/// none and repeats none, whichever flush takes them.
async fn logins_at_once_are_each_in_the_history_once(kind: Setup) {
    let app = spawn_app(kind).await;
    app.bind_new_account(OPENID, MOBILE).await;
    let user = app.user_by_mobile(MOBILE).await.unwrap();
    // Four at once: a login counts as a possible failure of its account until it is
    // through, and five of those in flight refuse the next (the takeover limit).
    let browsers = futures::future::join_all((0..4).map(|_| app.logged_in(MOBILE, PASSWORD))).await;
    assert_eq!(browsers.len(), 4);
    // Two flushes racing (this one and the app's own, every second) take disjoint lines.
    futures::future::join(
        app.state.logins.flush(&app.state.db),
        app.state.logins.flush(&app.state.db),
    )
    .await;
    let logins = app
        .state
        .db
        .write(move |c| Ok(db::login_history::recent(c, user.id, 100)?))
        .await
        .unwrap();
    let count = |method: &str| logins.iter().filter(|l| l.method == method).count();
    assert_eq!(count("password"), 4, "{logins:?}");
    assert_eq!(count("qq"), 1, "{logins:?}");
    assert_eq!(logins.len(), 5);
    assert!(logins.iter().all(|l| l.user_agent == TEST_USER_AGENT));
    assert!(logins.iter().all(|l| !l.ip.is_empty()));
}

crate::all_setups!(
    consent_is_recorded_at_register_bind_and_link,
    a_new_document_version_is_accepted_at_the_next_login,
    closing_an_account_frees_everything_and_keeps_only_its_id,
    two_closings_at_once_close_once,
    a_cooling_off_lets_a_login_cancel_the_closing,
    an_sms_code_can_prove_it_is_the_owner,
    the_json_api_closes_an_account,
    the_data_file_holds_everything_and_no_secret,
    the_customer_sees_their_logins_and_ends_other_sessions,
    old_logins_are_pruned,
    logins_at_once_are_each_in_the_history_once,
);
