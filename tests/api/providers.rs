//! WeChat and Weibo beside QQ (issue 16): login, bind and the returning login against
//! fakes on random loopback ports, every error shape of `providers.md` answered with a
//! clear page, and the bind race.

use qqbind::domain::Provider;
use url::Url;

use crate::helpers::*;

const MOBILE: &str = "13800138000";

/// The app with WeChat and Weibo registered at fakes of their own.
pub struct ProvidersApp {
    pub app: TestApp,
    pub wechat: FakeWechat,
    pub weibo: FakeWeibo,
}

pub async fn spawn_with_providers(kind: Setup) -> ProvidersApp {
    let (wechat, weibo) = (FakeWechat::start().await, FakeWeibo::start().await);
    let app = spawn_app_with(kind, |s| with_fakes(s, &wechat, &weibo)).await;
    ProvidersApp { app, wechat, weibo }
}

/// `GET /oauth/<p>/authorize/?next=`: the provider's page, and the `state` it carries.
pub async fn authorize(b: &Browser, p: Provider, next: &str) -> (Url, String) {
    let r = b
        .get(&format!(
            "/oauth/{}/authorize/?next={}",
            p.as_str(),
            urlencode(next)
        ))
        .await;
    assert_eq!(r.status(), 302);
    let to = Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    let state = to
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .expect("a state");
    (to, state)
}

pub async fn provider_callback(b: &Browser, p: Provider, query: &str) -> reqwest::Response {
    b.get(&format!("/oauth/{}/callback/?{query}", p.as_str()))
        .await
}

/// Through the provider's page and back with a fresh code for `id`.
pub async fn sign_in(b: &Browser, p: Provider, id: &str, next: &str) -> reqwest::Response {
    let (_, state) = authorize(b, p, next).await;
    provider_callback(
        b,
        p,
        &format!(
            "code={}&state={}",
            urlencode(&provider_code(id)),
            urlencode(&state)
        ),
    )
    .await
}

pub async fn post_provider_bind(
    b: &Browser,
    p: Provider,
    page: &str,
    mobile: &str,
    sms: &str,
) -> reqwest::Response {
    b.post_form(
        &format!("/oauth/{}/callback/", p.as_str()),
        &[
            ("mobile", mobile),
            ("password", PASSWORD),
            ("sms_code", sms),
            ("access_token", &input_value(page, "access_token").unwrap()),
            ("csrf_token", &input_value(page, "csrf_token").unwrap()),
        ],
    )
    .await
}

async fn wechat_login_bind_and_returning_login(kind: Setup) {
    let t = spawn_with_providers(kind).await;
    let app = &t.app;
    let openid = "ohS-VwAJ9GEXlplngwybJ3Z-ZHrI";
    t.wechat.set_nickname(openid, "飞翔的企鹅🐧");

    // The login page offers the three ways in.
    let b = app.browser();
    let login = b.get("/login/").await.text().await.unwrap();
    for (id, label) in [
        ("qq-login", "QQ登录"),
        ("wechat-login", "微信登录"),
        ("weibo-login", "微博登录"),
    ] {
        assert!(login.contains(&format!("id=\"{id}\"")), "{id} button");
        assert!(login.contains(label));
    }
    assert!(login.contains("href=\"/oauth/wechat/authorize/?next=%2F\""));

    // The QR page: WeChat's parameters in its documented order, the fragment literal.
    let (to, state) = authorize(&b, Provider::Wechat, "/info/").await;
    assert_eq!(to.path(), "/open/connect/qrconnect");
    assert_eq!(to.fragment(), Some("wechat_redirect"));
    let keys: Vec<String> = to.query_pairs().map(|(k, _)| k.into_owned()).collect();
    assert_eq!(
        keys,
        ["appid", "redirect_uri", "response_type", "scope", "state"]
    );
    let q = |k: &str| {
        to.query_pairs()
            .find(|(n, _)| n == k)
            .unwrap()
            .1
            .into_owned()
    };
    assert_eq!(q("appid"), WECHAT_APP_ID);
    assert_eq!(q("redirect_uri"), WECHAT_REDIRECT_URI);
    assert_eq!(q("scope"), "snsapi_login");
    assert!(
        state.len() <= 32 && state.chars().all(|c| c.is_ascii_alphanumeric()),
        "{state}"
    );

    // Back with a code: the bind form greets with WeChat's nickname and avatar.
    let code = provider_code(openid);
    let r = provider_callback(&b, Provider::Wechat, &format!("code={code}&state={state}")).await;
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("亲爱的 <strong>飞翔的企鹅🐧</strong>，请绑定手机号"),
        "{page}"
    );
    assert!(page.contains("action=\"/oauth/wechat/callback/\""));
    assert!(page.contains(&format!(
        "https://thirdwx.qlogo.cn/mmopen/vi_32/{openid}/132"
    )));
    assert!(!page.contains(WECHAT_APP_SECRET) && !page.contains(&format!("tok-{openid}")));

    // The code is spent: a reload shows the same form without asking WeChat again.
    let calls = t.wechat.token_calls();
    let again =
        provider_callback(&b, Provider::Wechat, &format!("code={code}&state={state}")).await;
    assert_eq!(again.status(), 200);
    assert_eq!(t.wechat.token_calls(), calls);

    let sms = app.request_sms_code(&b, MOBILE).await;
    let r = post_provider_bind(&b, Provider::Wechat, &page, MOBILE, &sms).await;
    assert_is_redirect_to(&r, "/info/");
    let user = app.user_by_mobile(MOBILE).await.expect("account made");
    let id = app
        .identity_of(Provider::Wechat, openid)
        .await
        .expect("bound");
    assert_eq!(id.user_id, user.id);
    assert_eq!(id.unionid.as_deref(), Some(format!("u-{openid}").as_str()));
    assert_eq!(id.nickname, "飞翔的企鹅🐧");
    assert!(id.last_login_at.is_some());
    assert!(app.binding_of(openid).await.is_none(), "not a QQ binding");
    assert_eq!(
        app.audit_actions(user.id).await,
        ["identity_bind", "user_created_by_identity"]
    );
    let info = b.get("/info/").await.text().await.unwrap();
    assert!(
        info.contains("已绑定微信：<strong>飞翔的企鹅🐧</strong>"),
        "{info}"
    );
    assert!(info.contains("id=\"unbind-wechat\""));
    assert!(info.contains("<p class=\"hint\">openid "), "{info}");
    assert!(info.contains("尚未绑定QQ") && info.contains("尚未绑定微博"));

    // The returning login: straight in, no form.
    let other = app.browser();
    let r = sign_in(&other, Provider::Wechat, openid, "/info/").await;
    assert_is_redirect_to(&r, "/info/");
    assert!(other.is_logged_in().await);
    assert_eq!(app.binding_count().await, 1);
}

async fn weibo_login_bind_and_returning_login(kind: Setup) {
    let t = spawn_with_providers(kind).await;
    let app = &t.app;
    let uid = "6972314674";
    let b = app.browser();
    let (to, state) = authorize(&b, Provider::Weibo, "/info/").await;
    assert_eq!(to.path(), "/oauth2/authorize");
    let q = |k: &str| {
        to.query_pairs()
            .find(|(n, _)| n == k)
            .map(|v| v.1.into_owned())
    };
    assert_eq!(q("client_id").as_deref(), Some(WEIBO_CLIENT_ID));
    assert_eq!(q("redirect_uri").as_deref(), Some(WEIBO_REDIRECT_URI));
    assert_eq!(q("response_type").as_deref(), Some("code"));
    assert_eq!(q("display"), None, "a computer gets the default page");

    let r = provider_callback(
        &b,
        Provider::Weibo,
        &format!("code={}&state={state}", provider_code(uid)),
    )
    .await;
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert!(
        page.contains(&format!("亲爱的 <strong>微博用户{uid}</strong>")),
        "{page}"
    );
    assert!(
        page.contains(&format!("https://tp3.sinaimg.cn/{uid}/180/0/0")),
        "https avatar"
    );
    // The token was asked for by POST with the same redirect_uri as the consent page's.
    let form = t.weibo.state.lock().unwrap().last_token_form.clone();
    assert_eq!(
        form.get("redirect_uri").map(String::as_str),
        Some(WEIBO_REDIRECT_URI)
    );
    assert_eq!(
        form.get("grant_type").map(String::as_str),
        Some("authorization_code")
    );

    let sms = app.request_sms_code(&b, MOBILE).await;
    let r = post_provider_bind(&b, Provider::Weibo, &page, MOBILE, &sms).await;
    assert_is_redirect_to(&r, "/info/");
    let user = app.user_by_mobile(MOBILE).await.unwrap();
    let id = app.identity_of(Provider::Weibo, uid).await.expect("bound");
    assert_eq!((id.user_id, id.unionid.as_deref()), (user.id, None));
    let info = b.get("/info/").await.text().await.unwrap();
    assert!(info.contains(&format!("已绑定微博：<strong>微博用户{uid}</strong>")));
    // Weibo's id of a person is its uid, and the page calls it so.
    assert!(
        info.contains("<p class=\"hint\">uid 6972****4674 · 绑定于"),
        "{info}"
    );

    let other = app.browser();
    let r = sign_in(&other, Provider::Weibo, uid, "/info/").await;
    assert_is_redirect_to(&r, "/info/");
    assert!(other.is_logged_in().await);

    // A phone gets Weibo's page for phones.
    let phone = app.browser();
    let r = phone
        .client
        .get(format!("{}/oauth/weibo/authorize/?next=/", app.base))
        .header(
            "user-agent",
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
        )
        .send()
        .await
        .unwrap();
    let to = Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    assert!(
        to.query_pairs()
            .any(|(k, v)| k == "display" && v == "mobile"),
        "{to}"
    );
}

/// Two browsers bind one WeChat openid to two mobiles at once: one binding, one
/// refusal saying so, no orphan account.
async fn two_racing_binds_of_one_wechat_openid_leave_one_binding(kind: Setup) {
    let t = spawn_with_providers(kind).await;
    let app = &t.app;
    for round in 0..3 {
        let openid = format!("oRACE{round}-wechat-openid-0000000");
        let (a, b) = (app.browser(), app.browser());
        let pa = sign_in(&a, Provider::Wechat, &openid, "/")
            .await
            .text()
            .await
            .unwrap();
        let pb = sign_in(&b, Provider::Wechat, &openid, "/")
            .await
            .text()
            .await
            .unwrap();
        let (ma, mb) = (format!("1380000{round:04}"), format!("1390000{round:04}"));
        app.give_sms_code(&ma, "111111").await;
        app.give_sms_code(&mb, "222222").await;
        let (ra, rb) = tokio::join!(
            post_provider_bind(&a, Provider::Wechat, &pa, &ma, "111111"),
            post_provider_bind(&b, Provider::Wechat, &pb, &mb, "222222"),
        );
        let mut statuses = [ra.status().as_u16(), rb.status().as_u16()];
        statuses.sort();
        assert_eq!(statuses, [302, 400], "round {round}");
        let loser = if ra.status() == 400 { ra } else { rb };
        let page = loser.text().await.unwrap();
        assert_eq!(
            slot_message(&page, "qq-login-error").as_deref(),
            Some("微信登录失败")
        );
        let owners = [app.user_by_mobile(&ma).await, app.user_by_mobile(&mb).await];
        assert_eq!(owners.iter().flatten().count(), 1, "no orphan account");
        let bound = app.identity_of(Provider::Wechat, &openid).await.unwrap();
        assert_eq!(
            Some(bound.user_id),
            owners.iter().flatten().next().map(|u| u.id)
        );
    }
    assert_eq!(app.binding_count().await, 3);
}

/// An account with no usable password (imported with `!`) and a QQ and a WeChat
/// identity; logged in by WeChat.
async fn passwordless_account_with_two_identities(t: &ProvidersApp) -> (i32, Browser) {
    use qqbind::db::{self, identities::NewIdentity, users::NewUser};
    let user = t
        .app
        .state
        .db
        .write(|c| {
            let u = db::users::insert(
                c,
                &NewUser {
                    username: "imported01",
                    mobile: MOBILE,
                    password: "!",
                    nickname: "",
                    avatar_url: "",
                    is_staff: false,
                    is_active: true,
                    date_joined: db::now(),
                },
            )?;
            for (provider, openid) in [
                ("qq", "QQOPENID0000000000000000000000001"),
                ("wechat", "oLAST-wechat-openid-000000000"),
            ] {
                db::identities::insert(
                    c,
                    &NewIdentity {
                        provider,
                        openid,
                        unionid: None,
                        user_id: u.id,
                        nickname: "",
                        avatar_url: "",
                        bound_at: db::now(),
                        last_login_at: None,
                    },
                )?;
            }
            Ok(u)
        })
        .await
        .unwrap();
    let b = t.app.browser();
    let r = sign_in(
        &b,
        Provider::Wechat,
        "oLAST-wechat-openid-000000000",
        "/info/",
    )
    .await;
    assert_is_redirect_to(&r, "/info/");
    (user.id, b)
}

async fn unbind(b: &Browser, provider: &str) -> reqwest::Response {
    let csrf = b.csrf_from("/info/").await;
    b.post_form(
        &format!("/info/{provider}/unbind/"),
        &[("csrf_token", &csrf), ("confirm", "yes")],
    )
    .await
}

/// The last way into an account with no usable password cannot be unbound, by its
/// owner or an operator, and two unbinds at once cannot take the last two.
async fn the_last_way_in_cannot_be_unbound(kind: Setup) {
    let t = spawn_with_providers(kind).await;
    let (uid, b) = passwordless_account_with_two_identities(&t).await;
    let r = unbind(&b, "qq").await;
    assert_eq!(r.status(), 303);
    let r = unbind(&b, "wechat").await;
    assert_eq!(r.status(), 409);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("这是该账号唯一的登录方式（账号没有可用的密码）"),
        "{page}"
    );
    assert!(t
        .app
        .identity_of(Provider::Wechat, "oLAST-wechat-openid-000000000")
        .await
        .is_some());
    assert_eq!(t.app.audit_actions(uid).await, ["qq_unbind"]);

    // An operator is held to the same rule.
    t.app.create_staff("operator", "13900139000").await;
    let op = t.app.logged_in("operator", STAFF_PASSWORD).await;
    let csrf = op.csrf_from(&format!("/admin/users/{uid}/")).await;
    let r = op
        .post_form(
            &format!("/admin/users/{uid}/unbind/?provider=wechat"),
            &[("csrf_token", &csrf), ("confirm", "yes")],
        )
        .await;
    assert_eq!(r.status(), 409);
    assert_eq!(t.app.binding_count().await, 1);
}

async fn two_unbinds_at_once_leave_a_way_in(kind: Setup) {
    let t = spawn_with_providers(kind).await;
    for _ in 0..3 {
        let (uid, b) = passwordless_account_with_two_identities(&t).await;
        let (ra, rb) = tokio::join!(unbind(&b, "qq"), unbind(&b, "wechat"));
        let mut statuses = [ra.status().as_u16(), rb.status().as_u16()];
        statuses.sort();
        assert_eq!(statuses, [303, 409]);
        assert_eq!(t.app.binding_count().await, 1, "one way in is left");
        // Clean up for the next round: the account and its last identity.
        t.app
            .state
            .db
            .write(move |c| {
                use diesel::prelude::*;
                use qqbind::db::schema::{tb_audit_log, tb_oauth_identity, tb_users};
                qqbind::per_backend!(c, |c| {
                    diesel::delete(tb_oauth_identity::table).execute(c)?;
                    diesel::delete(tb_audit_log::table).execute(c)?;
                    diesel::delete(tb_users::table.find(uid)).execute(c)
                })?;
                Ok(())
            })
            .await
            .unwrap();
    }
}

/// A new openid (WeChat's 公众号 beside its website app) with the unionid of an account's
/// WeChat: that account, after the person confirms — never silently, never a second
/// account.
async fn a_known_unionid_under_a_new_openid_asks_before_logging_in(kind: Setup) {
    let t = spawn_with_providers(kind).await;
    let app = &t.app;
    let (web, mp) = (
        "oWEB-wechat-openid-0000000000",
        "oMP-wechat-openid-00000000000",
    );
    t.wechat.set_unionid(mp, Some(&format!("u-{web}")));
    let b = app.browser();
    let page = sign_in(&b, Provider::Wechat, web, "/")
        .await
        .text()
        .await
        .unwrap();
    app.give_sms_code(MOBILE, "123456").await;
    let r = post_provider_bind(&b, Provider::Wechat, &page, MOBILE, "123456").await;
    assert_eq!(r.status(), 302);
    let owner = app.user_by_mobile(MOBILE).await.unwrap();

    let other = app.browser();
    let r = sign_in(&other, Provider::Wechat, mp, "/info/").await;
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("已关联账号 <strong>138****8000</strong>，要登录该账号吗？"),
        "{page}"
    );
    assert!(input_value(&page, "mobile").is_none(), "no bind form");
    assert!(!other.is_logged_in().await, "not before the person says so");
    // The bind form cannot be forced past it.
    let r = post_provider_bind(&other, Provider::Wechat, &page, "13900139000", "123456").await;
    assert_eq!(r.status(), 400);
    assert!(app.user_by_mobile("13900139000").await.is_none());
    // A forged token is refused.
    let csrf = input_value(&page, "csrf_token").unwrap();
    let r = other
        .post_form(
            "/oauth_callback/same_person/",
            &[("csrf_token", csrf.as_str()), ("access_token", "forged")],
        )
        .await;
    assert_eq!(r.status(), 400);
    let r = other
        .post_form(
            "/oauth_callback/same_person/",
            &[
                ("csrf_token", csrf.as_str()),
                ("access_token", &input_value(&page, "access_token").unwrap()),
            ],
        )
        .await;
    assert_is_redirect_to(&r, "/info/");
    assert!(other.is_logged_in().await);
    let info = other.get("/info/").await.text().await.unwrap();
    assert!(
        info.contains("<dd id=\"info-mobile\">138****8000</dd>") || info.contains(MOBILE),
        "{info}"
    );
    let entry = app.audit_of(owner.id).await.into_iter().next().unwrap();
    assert_eq!(entry.action, "same_person_login");
    assert!(
        entry.detail.contains(&format!("openid={mp}")),
        "{}",
        entry.detail
    );
    assert_eq!(app.user_count().await, 1);
    assert_eq!(app.binding_count().await, 1);
    // It was used once: a replay of the confirmation is refused.
    let r = other
        .post_form(
            "/oauth_callback/same_person/",
            &[
                (
                    "csrf_token",
                    other.csrf_from("/info/password/").await.as_str(),
                ),
                ("access_token", &input_value(&page, "access_token").unwrap()),
            ],
        )
        .await;
    assert_eq!(r.status(), 400);
}

/// An identity stored without a unionid gets it at its next login.
async fn a_missing_unionid_is_filled_at_the_next_login(kind: Setup) {
    let t = spawn_with_providers(kind).await;
    let app = &t.app;
    let openid = "oNOUNION-wechat-openid-000000";
    t.wechat.set_unionid(openid, None);
    let b = app.browser();
    let page = sign_in(&b, Provider::Wechat, openid, "/")
        .await
        .text()
        .await
        .unwrap();
    app.give_sms_code(MOBILE, "123456").await;
    assert_eq!(
        post_provider_bind(&b, Provider::Wechat, &page, MOBILE, "123456")
            .await
            .status(),
        302
    );
    assert_eq!(
        app.identity_of(Provider::Wechat, openid)
            .await
            .unwrap()
            .unionid,
        None
    );
    t.wechat
        .set_unionid(openid, Some("oUNION-arrived-later-00000000"));
    let r = sign_in(&app.browser(), Provider::Wechat, openid, "/").await;
    assert_eq!(r.status(), 302);
    assert_eq!(
        app.identity_of(Provider::Wechat, openid)
            .await
            .unwrap()
            .unionid
            .as_deref(),
        Some("oUNION-arrived-later-00000000")
    );
}

/// The JSON API, for WeChat and Weibo as for QQ: authorization, the code, bind (201 and
/// a JWT), the returning login; and the same person's new openid by confirmation.
async fn the_json_api_walks_wechat_and_weibo(kind: Setup) {
    use serde_json::{json, Value};
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    let t = spawn_with_providers(kind).await;
    let app = &t.app;
    let http = reqwest::Client::new();
    let call = |method: reqwest::Method, path: String, body: Option<Value>| {
        let req = http.request(method, format!("{}{path}", app.base));
        let req = match body {
            Some(b) => req.json(&b),
            None => req,
        };
        async move {
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap())
        }
    };
    // An API login of `p` started: its state.
    let start = |p: Provider| {
        let call = &call;
        async move {
            let (status, body) = call(
                reqwest::Method::GET,
                format!("/api/oauth/{p}/authorization/?next=/cart/&code_challenge={CHALLENGE}&code_challenge_method=S256"),
                None,
            )
            .await;
            assert_eq!(status, 200, "{body}");
            let auth = Url::parse(body["auth_url"].as_str().unwrap()).unwrap();
            auth.query_pairs()
                .find(|(k, _)| k == "state")
                .unwrap()
                .1
                .into_owned()
        }
    };
    let user = |p: Provider, id: String| {
        let (call, start) = (&call, &start);
        async move {
            let state = start(p).await;
            call(
                reqwest::Method::GET,
                format!(
                    "/api/oauth/{p}/user/?code={}&state={}&code_verifier={VERIFIER}",
                    urlencode(&provider_code(&id)),
                    urlencode(&state)
                ),
                None,
            )
            .await
        }
    };
    for (p, id, mobile) in [
        (
            Provider::Wechat,
            "oAPI-wechat-openid-0000000000",
            "13800138011",
        ),
        (Provider::Weibo, "1404376560", "13800138012"),
    ] {
        let (status, body) = user(p, id.to_owned()).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["next"], "/cart/");
        let token = body["access_token"]
            .as_str()
            .expect("not bound yet")
            .to_owned();
        app.give_sms_code(mobile, "123456").await;
        let (status, body) = call(
            reqwest::Method::POST,
            format!("/api/oauth/{p}/user/"),
            Some(json!({"mobile": mobile, "password": PASSWORD, "sms_code": "123456", "access_token": token})),
        )
        .await;
        assert_eq!(status, 201, "{p}: {body}");
        let owner = app.user_by_mobile(mobile).await.unwrap();
        assert_eq!(app.identity_of(p, id).await.unwrap().user_id, owner.id);
        let (status, me) = http
            .get(format!("{}/api/user/", app.base))
            .header(
                "Authorization",
                format!("JWT {}", body["token"].as_str().unwrap()),
            )
            .send()
            .await
            .map(|r| (r.status().as_u16(), r))
            .unwrap();
        assert_eq!(status, 200);
        let me: Value = me.json().await.unwrap();
        assert_eq!(me[format!("{p}_bound")], true, "{me}");
        assert_eq!(me["qq_bound"], false);
        // Returning: a token straight away.
        let (status, body) = user(p, id.to_owned()).await;
        assert_eq!(
            (status, body["user_id"].as_i64()),
            (200, Some(owner.id as i64)),
            "{body}"
        );
    }
    // The same person by unionid, under a new openid: confirmed, then a token.
    let mp = "oAPI2-wechat-openid-000000000";
    t.wechat
        .set_unionid(mp, Some("u-oAPI-wechat-openid-0000000000"));
    let (status, body) = user(Provider::Wechat, mp.to_owned()).await;
    assert_eq!(status, 200);
    assert_eq!(body["same_person"], "138****8011", "{body}");
    let token = body["access_token"].as_str().unwrap().to_owned();
    let (status, wrong) = call(
        reqwest::Method::POST,
        "/api/oauth/weibo/same_person/".to_owned(),
        Some(json!({ "access_token": token })),
    )
    .await;
    assert_eq!(
        (status, wrong["code"].as_str()),
        (400, Some("4013")),
        "a WeChat token at Weibo's"
    );
    let (status, body) = call(
        reqwest::Method::POST,
        "/api/oauth/wechat/same_person/".to_owned(),
        Some(json!({ "access_token": token })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["username"], "13800138011");
    assert!(body["token"].as_str().is_some());
    let (status, body) = call(
        reqwest::Method::POST,
        "/api/oauth/wechat/same_person/".to_owned(),
        Some(json!({})),
    )
    .await;
    assert_eq!((status, body["code"].as_str()), (400, Some("4003")));

    // A refused state names the login to start again: WeChat's, not QQ's.
    let (status, body) = call(
        reqwest::Method::GET,
        format!("/api/oauth/wechat/user/?code=x&state=forged&code_verifier={VERIFIER}"),
        None,
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str(), body["errmsg"].as_str()),
        (
            400,
            Some("4005"),
            Some("state无效或已过期，请重新发起微信登录")
        )
    );
    let state = start(Provider::Weibo).await;
    let (status, body) = call(
        reqwest::Method::GET,
        format!(
            "/api/oauth/weibo/user/?code=x&state={}&code_verifier=wrong-verifier-of-43-characters-xxxxxxxxxxx",
            urlencode(&state)
        ),
        None,
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str(), body["errmsg"].as_str()),
        (
            400,
            Some("4006"),
            Some("code_verifier与发起微博登录时的code_challenge不符")
        )
    );
}

/// WeChat's and Weibo's logins and upstream calls are counted under their own names,
/// and no label holds an openid.
async fn metrics_count_wechat_and_weibo_by_name(kind: Setup) {
    let (wechat, weibo) = (FakeWechat::start().await, FakeWeibo::start().await);
    let app = spawn_app_with(kind, |s| {
        with_fakes(s, &wechat, &weibo);
        s.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    let scrape = || async {
        let port = app.metrics_port.unwrap();
        reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let value = |text: &str, key: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(key).and_then(|v| v.trim().parse().ok()))
            .unwrap_or(0.0)
    };
    let openid = "oMETRICS-wechat-openid-000000";
    let before = scrape().await;
    let b = app.browser();
    assert_eq!(
        sign_in(&b, Provider::Wechat, openid, "/").await.status(),
        200
    );
    assert_eq!(
        sign_in(&b, Provider::Weibo, "77777777", "/").await.status(),
        200
    );
    weibo.set_token(Some(Canned::new(
        400,
        r#"{"error":"invalid_grant","error_code":21325,"request":"/oauth2/access_token"}"#,
    )));
    assert_eq!(
        sign_in(&b, Provider::Weibo, "77777778", "/").await.status(),
        502
    );
    let after = scrape().await;
    for (key, moved) in [
        (
            r#"qqbind_logins_total{outcome="bind_form",provider="wechat"}"#,
            1.0,
        ),
        (
            r#"qqbind_logins_total{outcome="bind_form",provider="weibo"}"#,
            1.0,
        ),
        (
            r#"qqbind_upstream_calls_total{endpoint="token",outcome="ok",provider="wechat"}"#,
            1.0,
        ),
        (
            r#"qqbind_upstream_calls_total{endpoint="userinfo",outcome="ok",provider="wechat"}"#,
            1.0,
        ),
        (
            r#"qqbind_upstream_calls_total{endpoint="token",outcome="ok",provider="weibo"}"#,
            1.0,
        ),
        (
            r#"qqbind_upstream_calls_total{endpoint="get_token_info",outcome="ok",provider="weibo"}"#,
            1.0,
        ),
        (
            r#"qqbind_upstream_calls_total{endpoint="token",outcome="provider",provider="weibo"}"#,
            1.0,
        ),
    ] {
        assert_eq!(
            value(&after, key) - value(&before, key),
            moved,
            "{key}\n{after}"
        );
    }
    assert!(!after.contains(openid) && !after.contains("77777777"));
}

/// The admin shows every identity of a user and finds identities by provider and by
/// openid or unionid prefix.
async fn operators_see_and_find_identities_by_provider(kind: Setup) {
    let t = spawn_with_providers(kind).await;
    let app = &t.app;
    let b = app.browser();
    let page = sign_in(&b, Provider::Wechat, "oADMIN-wechat-openid-00000000", "/")
        .await
        .text()
        .await
        .unwrap();
    app.give_sms_code(MOBILE, "123456").await;
    assert_eq!(
        post_provider_bind(&b, Provider::Wechat, &page, MOBILE, "123456")
            .await
            .status(),
        302
    );
    // The same account binds Weibo from the user centre.
    let r = b
        .get("/oauth/weibo/authorize/?next=/info/&intent=link")
        .await;
    let to = Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    let state = to
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let r = provider_callback(
        &b,
        Provider::Weibo,
        &format!("code={}&state={state}", provider_code("2222222222")),
    )
    .await;
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert!(page.contains("将微博"), "{page}");
    let r = b
        .post_form(
            "/oauth_callback/link/",
            &[
                (
                    "csrf_token",
                    input_value(&page, "csrf_token").unwrap().as_str(),
                ),
                (
                    "access_token",
                    input_value(&page, "access_token").unwrap().as_str(),
                ),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    app.bind_new_account(OPENID, "13700137000").await;
    let owner = app.user_by_mobile(MOBILE).await.unwrap();

    app.create_staff("operator", "13900139000").await;
    let op = app.logged_in("operator", STAFF_PASSWORD).await;
    // The dashboard has a login funnel for each provider.
    let dashboard = op.get("/admin/").await.text().await.unwrap();
    let funnel = |p: &str| -> Vec<(String, i64)> {
        dashboard
            .split(&format!("id=\"{p}-funnel-table\""))
            .nth(1)
            .unwrap_or_else(|| panic!("{p} funnel: {dashboard}"))
            .split("</tbody>")
            .next()
            .unwrap()
            .split("<tr><td data-label=\"\">")
            .skip(1)
            .map(|row| {
                let label = row.split("</td>").next().unwrap().to_owned();
                let v = row
                    .split("<td class=\"num\" data-label=\"次数\">")
                    .nth(1)
                    .unwrap();
                (label, v.split('<').next().unwrap().parse().unwrap())
            })
            .collect()
    };
    let steps = |label: &str, counts: [i64; 4]| -> Vec<(String, i64)> {
        [
            format!("发起{label}登录"),
            format!("{label}回调成功"),
            "显示绑定页".to_owned(),
            "绑定成功".to_owned(),
        ]
        .into_iter()
        .zip(counts)
        .collect()
    };
    assert_eq!(funnel("qq"), steps("QQ", [1, 1, 1, 1]));
    assert_eq!(funnel("wechat"), steps("微信", [1, 1, 1, 1]));
    // Weibo was bound from the user centre: its confirmation, not the bind form.
    assert_eq!(funnel("weibo"), steps("微博", [1, 1, 0, 0]));
    assert!(dashboard.contains("<h2>微博登录漏斗（30天）</h2>"));
    let user_page = op
        .get(&format!("/admin/users/{}/", owner.id))
        .await
        .text()
        .await
        .unwrap();
    for id in ["wechat-binding", "weibo-binding"] {
        assert!(user_page.contains(&format!("id=\"{id}\"")), "{id}");
    }
    assert!(user_page.contains("unionid <code>u-oADMIN-wechat-openid-00000000</code>"));
    assert!(
        user_page.contains("<strong>微博</strong> uid <code>"),
        "{user_page}"
    );
    assert!(user_page.contains("/admin/users/") && user_page.contains("unbind/?provider=weibo"));
    // The log names the provider of each entry.
    let audit = op.get("/admin/audit/").await.text().await.unwrap();
    for label in ["微信绑定时创建账号", "绑定微信", "绑定微博"] {
        assert!(
            audit.contains(&format!("<td data-label=\"操作\">{label}</td>")),
            "{label}: {audit}"
        );
    }
    let table = audit.split("id=\"audit\"").nth(1).expect("the log's table");
    assert!(!table.contains("微信/微博"), "{table}");
    // The list: WeChat and Weibo bound, QQ not; the account is not called unbound.
    let list = op.get("/admin/users/").await.text().await.unwrap();
    let row = list
        .split("<tr>")
        .find(|r| r.contains(MOBILE))
        .expect("the owner's row");
    assert!(
        row.contains("<td data-label=\"第三方绑定\"> <span class=\"tag\">微信</span> <span class=\"tag\">微博</span></td>"),
        "{row}"
    );
    let rows = |page: String| -> Vec<String> {
        let body = page
            .split("id=\"bindings\"")
            .nth(1)
            .unwrap()
            .split("</tbody>")
            .next()
            .unwrap()
            .to_owned();
        body.split("<tr>").skip(2).map(str::to_owned).collect()
    };
    let all = rows(op.get("/admin/bindings/").await.text().await.unwrap());
    assert_eq!(all.len(), 3);
    let wechat = rows(
        op.get("/admin/bindings/?provider=wechat")
            .await
            .text()
            .await
            .unwrap(),
    );
    assert_eq!(wechat.len(), 1);
    assert!(wechat[0].contains("微信"));
    let by_unionid = rows(
        op.get("/admin/bindings/?openid=u-oADMIN")
            .await
            .text()
            .await
            .unwrap(),
    );
    assert_eq!(by_unionid.len(), 1, "{by_unionid:?}");
    let weibo = rows(
        op.get("/admin/bindings/?provider=weibo&openid=2222")
            .await
            .text()
            .await
            .unwrap(),
    );
    assert_eq!(weibo.len(), 1);
    let none = rows(
        op.get("/admin/bindings/?provider=weibo&openid=oADMIN")
            .await
            .text()
            .await
            .unwrap(),
    );
    assert!(none.iter().all(|r| !r.contains("oADMIN")), "{none:?}");
    assert_eq!(
        op.get("/admin/bindings/?provider=github").await.status(),
        400
    );
}

/// `QQ_UNIONID=on` asks QQ's `/me` for the unionid and stores it; off (the default)
/// does not ask. A phone's browser gets QQ's page for phones.
async fn qq_asks_for_the_unionid_only_when_told(kind: Setup) {
    let off = spawn_app(kind).await;
    off.bind_new_account(OPENID, MOBILE).await;
    assert!(!off.qq.state.lock().unwrap().me_asked_unionid);
    assert_eq!(off.binding_of(OPENID).await.unwrap().unionid, None);

    let on = spawn_app_with(kind, |s| s.qq_unionid = true).await;
    on.bind_new_account(OPENID, MOBILE).await;
    assert!(on.qq.state.lock().unwrap().me_asked_unionid);
    assert_eq!(
        on.binding_of(OPENID).await.unwrap().unionid.as_deref(),
        Some(format!("UID_{OPENID}").as_str())
    );

    let phone = on.browser();
    for (ua, mobile) in [
        ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Mobile Safari/537.36", true),
        ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36", false),
    ] {
        let r = get_as(&phone, ua, "/qq/authorize/?next=/").await;
        let to = Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
        assert_eq!(
            to.query_pairs().any(|(k, v)| k == "display" && v == "mobile"),
            mobile,
            "{ua}: {to}"
        );
    }
}

crate::all_setups!(
    wechat_login_bind_and_returning_login,
    weibo_login_bind_and_returning_login,
    two_racing_binds_of_one_wechat_openid_leave_one_binding,
    the_last_way_in_cannot_be_unbound,
    two_unbinds_at_once_leave_a_way_in,
    a_known_unionid_under_a_new_openid_asks_before_logging_in,
    a_missing_unionid_is_filled_at_the_next_login,
    the_json_api_walks_wechat_and_weibo,
    metrics_count_wechat_and_weibo_by_name,
    operators_see_and_find_identities_by_provider,
    qq_asks_for_the_unionid_only_when_told,
);

const WECHAT_UA: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI Language/zh_CN";

async fn get_as(b: &Browser, ua: &str, path: &str) -> reqwest::Response {
    b.client
        .get(format!("{}{path}", b.base))
        .header("user-agent", ua)
        .send()
        .await
        .unwrap()
}

mod in_wechat {
    use super::*;

    /// Inside the WeChat app, with a 公众号: its authorization, its code, and the same
    /// person's website account after confirmation.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_wechat_app_uses_the_in_app_authorization() {
        let (wechat, weibo) = (FakeWechat::start().await, FakeWeibo::start().await);
        let app = spawn_app_with(Setup::MEMORY, |s| {
            with_fakes(s, &wechat, &weibo);
            s.wechat = wechat.app_with_mp();
        })
        .await;
        let (web, mp) = (
            "oWEB2-wechat-openid-000000000",
            "oMP2-wechat-openid-0000000000",
        );
        wechat.set_unionid(mp, Some(&format!("u-{web}")));
        // A computer: the QR page as before.
        let pc = app.browser();
        let (to, _) = authorize(&pc, Provider::Wechat, "/").await;
        assert_eq!(to.path(), "/open/connect/qrconnect");
        let page = sign_in(&pc, Provider::Wechat, web, "/")
            .await
            .text()
            .await
            .unwrap();
        app.give_sms_code(MOBILE, "123456").await;
        assert_eq!(
            post_provider_bind(&pc, Provider::Wechat, &page, MOBILE, "123456")
                .await
                .status(),
            302
        );

        let phone = app.browser();
        let r = get_as(&phone, WECHAT_UA, "/oauth/wechat/authorize/?next=/info/").await;
        assert_eq!(r.status(), 302);
        let to = Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
        assert_eq!(to.path(), "/open/connect/oauth2/authorize");
        assert_eq!(to.fragment(), Some("wechat_redirect"));
        let q = |k: &str| {
            to.query_pairs()
                .find(|(n, _)| n == k)
                .map(|v| v.1.into_owned())
        };
        assert_eq!(q("appid").as_deref(), Some(WECHAT_MP_APP_ID));
        assert_eq!(q("scope").as_deref(), Some("snsapi_userinfo"));
        let state = q("state").unwrap();
        // The code is the 公众号's: exchanged with its credentials.
        let r = get_as(
            &phone,
            WECHAT_UA,
            &format!(
                "/oauth/wechat/callback/?code={}&state={state}",
                provider_code(mp)
            ),
        )
        .await;
        assert_eq!(r.status(), 200);
        let page = r.text().await.unwrap();
        assert!(
            page.contains("已关联账号 <strong>138****8000</strong>"),
            "{page}"
        );
    }

    /// Inside the WeChat app with no 公众号: where WeChat login works, and the other ways.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn without_a_service_account_the_wechat_app_is_told_where_to_log_in() {
        let t = spawn_with_providers(Setup::MEMORY).await;
        let b = t.app.browser();
        let r = get_as(&b, WECHAT_UA, "/oauth/wechat/authorize/?next=/info/").await;
        assert_eq!(r.status(), 200);
        let page = r.text().await.unwrap();
        assert_eq!(
            slot_message(&page, "wechat-elsewhere").as_deref(),
            Some("请在电脑上扫码或用其他方式登录")
        );
        assert!(
            page.contains("href=\"/qq/authorize/?next=%2Finfo%2F\""),
            "{page}"
        );
        assert!(page.contains("href=\"/oauth/weibo/authorize/?next=%2Finfo%2F\""));
        assert!(!page.contains("/oauth/wechat/authorize/"));
        let r = get_as(&b, WECHAT_UA, "/oauth/wechat/login/?next=/").await;
        assert_eq!(r.status(), 400);
        assert_eq!(t.wechat.token_calls(), 0);
    }
}

/// Each failure shape of a provider, and what the customer is told: a clear page with
/// its status, nothing stored, nothing secret.
async fn assert_clear_failure(t: &ProvidersApp, p: Provider, id: &str, what: &str) {
    let b = t.app.browser();
    let r = sign_in(&b, p, id, "/").await;
    let status = r.status().as_u16();
    let page = r.text().await.unwrap();
    assert_eq!(status, 502, "{what}: {page}");
    assert!(page.contains("OAuth2.0认证失败"), "{what}: {page}");
    assert!(
        page.contains(&format!("href=\"/oauth/{}/authorize/", p.as_str())) || page.contains("重新"),
        "{what}: a way to try again"
    );
    for secret in [WECHAT_APP_SECRET, WEIBO_CLIENT_SECRET, &format!("tok-{id}")] {
        assert!(!page.contains(secret), "{what}: {secret} shown");
    }
    assert_eq!(t.app.binding_count().await, 0, "{what}");
}

mod failures {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_wechat_token_error_shape_gets_a_clear_page() {
        let t = spawn_with_providers(Setup::MEMORY).await;
        let openid = "oFAIL-wechat-openid-000000000";
        for (what, status, body) in [
            (
                "invalid code",
                200,
                r#"{"errcode":40029,"errmsg":"invalid code"}"#,
            ),
            (
                "hints suffix",
                200,
                r#"{"errcode":40029,"errmsg":"invalid code, hints: [ req_id: jGkksa0933ssz5 ]"}"#,
            ),
            (
                "code been used",
                200,
                r#"{"errcode":40163,"errmsg":"code been used, rid: 6206378a-793424c0-2e4091cc"}"#,
            ),
            (
                "wrong secret",
                200,
                r#"{"errcode":40125,"errmsg":"invalid appsecret, view more at http:\/\/t.cn\/RAEkdVq, hints: [ req_id: Scg6za0214th22 ]"}"#,
            ),
            (
                "system error",
                200,
                r#"{"errcode":-1,"errmsg":"system error, rid: 6326ffdf-41c7c0d8-5a6bb364"}"#,
            ),
            (
                "expired code",
                200,
                r#"{"errcode":42003,"errmsg":"code expired"}"#,
            ),
            (
                "missing code",
                200,
                r#"{"errcode":41008,"errmsg":"missing code"}"#,
            ),
            (
                "minute quota",
                200,
                r#"{"errcode":45011,"errmsg":"api minute-quota reach limit mustslower retry next minute"}"#,
            ),
            (
                "require https",
                200,
                r#"{"errcode":43003,"errmsg":"require https"}"#,
            ),
            (
                "base scope",
                200,
                r#"{"access_token":"tok-x","expires_in":7200,"refresh_token":"r","openid":"oFAIL-wechat-openid-000000000","scope":"snsapi_base"}"#,
            ),
            (
                "snapshot visitor",
                200,
                r#"{"access_token":"tok-x","expires_in":7200,"refresh_token":"r","openid":"oFAIL-wechat-openid-000000000","scope":"snsapi_userinfo","is_snapshotuser":1}"#,
            ),
            (
                "no openid",
                200,
                r#"{"access_token":"tok-x","expires_in":7200,"scope":"snsapi_login"}"#,
            ),
            (
                "bad openid",
                200,
                r#"{"access_token":"tok-x","expires_in":7200,"openid":"<script>alert(1)</script>","scope":"snsapi_login"}"#,
            ),
            ("HTML page", 200, "<html><body>该链接无法访问</body></html>"),
            ("empty", 200, ""),
            ("HTTP 500", 500, "oops"),
            ("HTTP 404", 404, "<html>404</html>"),
        ] {
            t.wechat.set_token(Some(Canned::new(status, body)));
            assert_clear_failure(&t, Provider::Wechat, openid, what).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_wechat_userinfo_failure_still_shows_the_bind_form_without_a_profile() {
        let t = spawn_with_providers(Setup::MEMORY).await;
        let openid = "oINFO-wechat-openid-000000000";
        for (what, body) in [
            (
                "invalid credential",
                r#"{"errcode":40001,"errmsg":"invalid credential, access_token is invalid or not latest, rid: 1"}"#,
            ),
            (
                "expired token",
                r#"{"errcode":42001,"errmsg":"access_token expired"}"#,
            ),
            (
                "unauthorized",
                r#"{"errcode":48001,"errmsg":"api unauthorized"}"#,
            ),
            (
                "another openid",
                r#"{"openid":"oSOMEONE-else-000000000000000","nickname":"别人","headimgurl":"","privilege":[]}"#,
            ),
            (
                "another unionid",
                r#"{"openid":"oINFO-wechat-openid-000000000","nickname":"别人","headimgurl":"","privilege":[],"unionid":"u-other"}"#,
            ),
            ("garbage", "}{"),
        ] {
            t.wechat.set_userinfo(Some(Canned::new(200, body)));
            let b = t.app.browser();
            let r = sign_in(&b, Provider::Wechat, openid, "/").await;
            assert_eq!(r.status(), 200, "{what}");
            let page = r.text().await.unwrap();
            assert!(
                page.contains("微信登录成功，请绑定手机号"),
                "{what}: {page}"
            );
            assert!(
                !page.contains("别人"),
                "{what}: a profile not of this person is not shown"
            );
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_weibo_error_shape_gets_a_clear_page() {
        let t = spawn_with_providers(Setup::MEMORY).await;
        let uid = "5529945701";
        let oauth = |error: &str, code: i64, d: &str| {
            format!(
                r#"{{"error":"{error}","error_code":{code},"request":"/oauth2/access_token","error_uri":"/oauth2/access_token","error_description":"{d}"}}"#
            )
        };
        for (what, status, body) in [
            ("invalid_grant", 400, oauth("invalid_grant", 21325, "invalid authorization code:1e6f0dcfc9050a084781f6c4d7432d51")),
            ("invalid_client", 401, oauth("invalid_client", 21324, "client_secret error.")),
            ("redirect mismatch", 400, oauth("redirect_uri_mismatch", 21322, "redirect_uri mismatch")),
            ("invalid_request", 400, oauth("invalid_request", 21323, "miss required parameter")),
            ("grant type", 400, oauth("unsupported_grant_type", 21328, "x")),
            ("error_code as a string", 400, r#"{"error":"Source paramter (appkey) is missing","error_code":"10006","request":"/oauth2/access_token"}"#.to_owned()),
            ("rate limit", 403, r#"{"error":"User requests out of rate limit!","error_code":10023,"request":"/oauth2/access_token"}"#.to_owned()),
            ("error with 200", 200, oauth("temporarily_unavailable", 21331, "x")),
            ("no uid", 200, r#"{"access_token":"2.00x","expires_in":157679999}"#.to_owned()),
            ("bad uid", 200, r#"{"access_token":"2.00x","expires_in":1,"uid":"../../etc"}"#.to_owned()),
            ("HTML", 200, "<html>微博</html>".to_owned()),
            ("HTTP 502", 502, "bad gateway".to_owned()),
        ] {
            t.weibo.set_token(Some(Canned::new(status, &body)));
            assert_clear_failure(&t, Provider::Weibo, uid, what).await;
        }
        t.weibo.set_token(None);
        for (what, status, body) in [
            ("another application", 200, format!(r#"{{"uid":{uid},"appkey":1352222456,"scope":null,"create_at":1352267591,"expire_in":157679471}}"#)),
            ("another uid", 200, format!(r#"{{"uid":1073880650,"appkey":{WEIBO_CLIENT_ID},"scope":null,"create_at":1,"expire_in":2}}"#)),
            ("invalid token", 401, r#"{"error":"invalid_access_token","error_code":21332,"request":"/oauth2/get_token_info"}"#.to_owned()),
            ("expired token", 401, r#"{"error":"expired_token","error_code":21327,"request":"/oauth2/get_token_info"}"#.to_owned()),
            ("garbage", 200, "[]".to_owned()),
        ] {
            t.weibo.set_token_info(Some(Canned::new(status, &body)));
            assert_clear_failure(&t, Provider::Weibo, uid, what).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_weibo_profile_failure_still_shows_the_bind_form_without_a_profile() {
        let t = spawn_with_providers(Setup::MEMORY).await;
        let uid = "3195025850";
        for (what, status, body) in [
            ("test restriction", 403, r#"{"error":"applications over the unaudited use restrictions!","error_code":21321,"request":"/2/users/show.json"}"#.to_owned()),
            ("unknown user", 400, r#"{"error":"User does not exists!","error_code":20003,"request":"/2/users/show.json"}"#.to_owned()),
            ("another uid", 200, r#"{"id":1,"idstr":"1","screen_name":"别人","profile_image_url":""}"#.to_owned()),
            ("garbage", 200, "null".to_owned()),
        ] {
            t.weibo.set_users_show(Some(Canned::new(status, &body)));
            let b = t.app.browser();
            let r = sign_in(&b, Provider::Weibo, uid, "/").await;
            assert_eq!(r.status(), 200, "{what}");
            let page = r.text().await.unwrap();
            assert!(page.contains("微博登录成功，请绑定手机号"), "{what}: {page}");
            assert!(!page.contains("别人"), "{what}");
        }
    }

    /// A state that comes back cancelled and with a code at the same instant, many
    /// times over, is used once at most: WeChat is asked once at most.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_cancel_racing_its_code_uses_the_state_once() {
        let t = spawn_with_providers(Setup::MEMORY).await;
        for round in 0..5 {
            let b = t.app.browser();
            let (_, state) = authorize(&b, Provider::Wechat, "/cart/").await;
            let code = provider_code(&format!("oRACE{round}-cancel-openid-0000000"));
            let calls = t.wechat.token_calls();
            let with_code = format!("code={code}&state={state}");
            let cancelled = format!("state={state}");
            let answers = futures::future::join_all((0..16).map(|i| {
                let query = if i % 2 == 0 { &with_code } else { &cancelled };
                provider_callback(&b, Provider::Wechat, query)
            }))
            .await;
            // A bind form is the one the state led to (a request sent after its cookie
            // came back shows the same form again, without asking WeChat).
            let asked = t.wechat.token_calls() - calls;
            assert!(asked <= 1, "round {round}: WeChat asked {asked} times");
            let forms = answers.iter().filter(|r| r.status() == 200).count();
            assert!(
                forms == 0 || asked == 1,
                "round {round}: a form without a token"
            );
            assert!(
                answers
                    .iter()
                    .all(|r| matches!(r.status().as_u16(), 200 | 400)),
                "round {round}"
            );
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_refusal_at_the_provider_says_so_and_asks_nothing() {
        let t = spawn_with_providers(Setup::MEMORY).await;
        // WeChat's refusal: back with the state and nothing else.
        let b = t.app.browser();
        let (_, state) = authorize(&b, Provider::Wechat, "/cart/").await;
        let r = provider_callback(&b, Provider::Wechat, &format!("state={state}")).await;
        assert_eq!(r.status(), 400);
        let page = r.text().await.unwrap();
        assert!(page.contains("您已取消微信授权（缺少code）"), "{page}");
        // The way on is WeChat's login again, not QQ's, back to where it started.
        assert!(
            page.contains("id=\"relogin\" href=\"/oauth/wechat/authorize/?next=%2Fcart%2F\"")
                && page.contains("重新微信登录")
                && !page.contains("QQ登录"),
            "{page}"
        );
        assert_eq!(t.wechat.token_calls(), 0);
        // The cancelled login's state is spent.
        let r = provider_callback(
            &b,
            Provider::Wechat,
            &format!("code={}&state={state}", provider_code("oCANCELLED")),
        )
        .await;
        assert_eq!(r.status(), 400);
        assert!(r
            .text()
            .await
            .unwrap()
            .contains("微信登录请求已失效（state无效）"));
        assert_eq!(t.wechat.token_calls(), 0);
        // Weibo's: error=access_denied, error_code=21330.
        let (_, state) = authorize(&b, Provider::Weibo, "/").await;
        let r = provider_callback(
            &b,
            Provider::Weibo,
            &format!("error_uri=%2Foauth2%2Fauthorize&error=access_denied&error_description=user%20denied%20your%20request.&error_code=21330&state={state}"),
        )
        .await;
        assert_eq!(r.status(), 400);
        let page = r.text().await.unwrap();
        assert!(page.contains("您已取消微博授权（缺少code）"), "{page}");
        assert!(
            page.contains("id=\"relogin\" href=\"/oauth/weibo/authorize/?next=%2F\"")
                && page.contains("重新微博登录")
                && !page.contains("QQ登录"),
            "{page}"
        );
        assert_eq!(t.weibo.token_calls(), 0);

        // QQ's refusal at its seed path offers QQ again.
        let r = b.get("/oauth_callback/?state=x").await;
        assert_eq!(r.status(), 400);
        let page = r.text().await.unwrap();
        assert!(
            page.contains("id=\"relogin\" href=\"/qq/authorize/\"") && page.contains("重新QQ登录"),
            "{page}"
        );
        // A bad request outside any login offers no login.
        let r = b.get("/image_codes/not-a-uuid/").await;
        assert_eq!(r.status(), 400);
        let page = r.text().await.unwrap();
        assert!(page.contains("无效的图形验证码编号"), "{page}");
        assert!(!page.contains("id=\"relogin\""), "{page}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_state_of_one_provider_is_refused_by_another() {
        let t = spawn_with_providers(Setup::MEMORY).await;
        let b = t.app.browser();
        let (_, state) = authorize(&b, Provider::Wechat, "/").await;
        let r = provider_callback(
            &b,
            Provider::Weibo,
            &format!("code={}&state={state}", provider_code("1234567")),
        )
        .await;
        assert_eq!(r.status(), 400);
        assert_eq!(
            t.weibo.token_calls(),
            0,
            "no code is spent on a foreign state"
        );
        // Nor may the QQ callback take it.
        let r = b.callback("code-QQ", &state).await;
        assert_eq!(r.status(), 400);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_provider_that_is_off_has_no_button_and_no_routes() {
        let app = spawn_app(Setup::MEMORY).await;
        let b = app.browser();
        let login = b.get("/login/").await.text().await.unwrap();
        assert!(login.contains("id=\"qq-login\""));
        assert!(
            !login.contains("wechat") && !login.contains("weibo"),
            "{login}"
        );
        for path in [
            "/oauth/wechat/authorize/",
            "/oauth/weibo/login/",
            "/oauth/wechat/callback/?code=x&state=y",
            "/oauth/github/authorize/",
        ] {
            assert_eq!(b.get(path).await.status(), 404, "{path}");
        }
        // QQ's own routes under the provider pattern work too.
        assert_eq!(b.get("/oauth/qq/authorize/").await.status(), 302);
    }
}

mod home {
    use super::*;

    /// The home page greets a newcomer by the way they came in, once, and offers a
    /// visitor every way in that is on.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_home_page_names_the_way_in_of_each_provider() {
        let t = spawn_with_providers(Setup::MEMORY).await;
        let app = &t.app;

        let visitor = app.browser().get("/").await.text().await.unwrap();
        assert!(
            visitor.contains("使用QQ、微信或微博账号一键登录"),
            "{visitor}"
        );
        // Every page's footer names them too, the bind form of Weibo's included.
        let footer = "<div class=\"wrap\" id=\"footer-tagline\">© qqbind 商城 · 使用QQ、微信或微博账号安全登录</div>";
        assert!(visitor.contains(footer), "{visitor}");
        for (p, href) in [
            ("qq", "/qq/authorize/?next=/"),
            ("wechat", "/oauth/wechat/authorize/?next=/"),
            ("weibo", "/oauth/weibo/authorize/?next=/"),
        ] {
            assert!(
                visitor.contains(&format!("id=\"home-{p}-login\" href=\"{href}\"")),
                "{p}: {visitor}"
            );
        }

        // A newcomer by Weibo, back home: Weibo is named, QQ is not.
        let b = app.browser();
        let uid = "6972314674";
        let page = sign_in(&b, Provider::Weibo, uid, "/")
            .await
            .text()
            .await
            .unwrap();
        assert!(page.contains(footer), "{page}");
        let sms = app.request_sms_code(&b, MOBILE).await;
        let r = post_provider_bind(&b, Provider::Weibo, &page, MOBILE, &sms).await;
        assert_is_redirect_to(&r, "/");
        let home = b.get("/").await.text().await.unwrap();
        assert!(
            home.contains(&format!("{MOBILE}，欢迎加入 qqbind 商城")),
            "{home}"
        );
        assert!(
            home.contains("以后点“微博登录”即可一键进入，也可以在用户中心查看账号与微博的绑定。"),
            "{home}"
        );
        assert!(!home.contains("QQ登录"), "{home}");
        // Once: the next visit is a returning one.
        let again = b.get("/").await.text().await.unwrap();
        assert!(again.contains(&format!("{MOBILE}，欢迎回来")), "{again}");

        // A newcomer by WeChat who went on to the user centre is not greeted later.
        let b = app.browser();
        let openid = "ohS-VwAJ9GEXlplngwybJ3Z-ZHrI";
        let page = sign_in(&b, Provider::Wechat, openid, "/info/")
            .await
            .text()
            .await
            .unwrap();
        let sms = app.request_sms_code(&b, "13900139000").await;
        let r = post_provider_bind(&b, Provider::Wechat, &page, "13900139000", &sms).await;
        assert_is_redirect_to(&r, "/info/");
        let home = b.get("/").await.text().await.unwrap();
        assert!(home.contains("13900139000，欢迎回来"), "{home}");

        // A newcomer by QQ is told of QQ.
        let b = app.browser();
        let form = app.reach_bind_form(&b, "NEWCOMER", "/").await;
        app.give_sms_code("13700137000", "123456").await;
        let r = b.post_bind(&form, "13700137000", PASSWORD, "123456").await;
        assert_is_redirect_to(&r, "/");
        let home = b.get("/").await.text().await.unwrap();
        assert!(home.contains("以后点“QQ登录”即可一键进入"), "{home}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn with_qq_alone_the_home_page_offers_qq() {
        let app = spawn_app(Setup::MEMORY).await;
        let visitor = app.browser().get("/").await.text().await.unwrap();
        assert!(visitor.contains("使用QQ账号一键登录"), "{visitor}");
        assert!(visitor.contains("id=\"home-qq-login\""));
        assert!(visitor.contains("© qqbind 商城 · 使用QQ账号安全登录</div>"));
        assert!(!visitor.contains("wechat") && !visitor.contains("weibo"));
    }
}
