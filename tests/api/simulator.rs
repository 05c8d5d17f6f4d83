//! Dev mode: the built-in QQ simulator (spec section 8), driven as a browser would.

use qqbind::config::QqMode;
use url::Url;

use crate::helpers::*;

async fn dev_app() -> TestApp {
    spawn_app_with(Setup::MEMORY, |s| s.qq = QqMode::Simulated).await
}

/// Follows the QQ button through the simulator's consent page back to the callback.
async fn qq_login_through_the_simulator(
    app: &TestApp,
    b: &Browser,
    nickname: &str,
) -> reqwest::Response {
    let r = b.get("/qq/authorize/?next=/info/").await;
    assert_eq!(r.status(), 302);
    let authorize = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        authorize.starts_with(&format!("{}/dev/qq/oauth2.0/authorize?", app.base)),
        "{authorize}"
    );
    let page = b.client.get(&authorize).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains("QQ 互联模拟器"));
    let consent = format!(
        "/dev/qq/oauth2.0/consent?client_id={}&redirect_uri={}&state={}&nickname={}",
        input_value(&page, "client_id").unwrap(),
        urlencode(&input_value(&page, "redirect_uri").unwrap()),
        input_value(&page, "state").unwrap(),
        urlencode(nickname),
    );
    let r = b.get(&consent).await;
    assert_eq!(r.status(), 302);
    let back = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        back.starts_with(&format!("{}/oauth_callback/?code=", app.base)),
        "{back}"
    );
    b.client.get(&back).send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_flow_works_against_the_built_in_simulator() {
    let app = dev_app().await;
    let b = app.browser();
    let r = qq_login_through_the_simulator(&app, &b, "小明").await;
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert!(page.contains("亲爱的 <strong>小明</strong>"));
    let token = input_value(&page, "access_token").unwrap();
    let csrf = input_value(&page, "csrf_token").unwrap();
    let code = app.request_sms_code(&b, "13800138000").await;
    let r = b
        .post_form(
            "/oauth_callback/",
            &[
                ("mobile", "13800138000"),
                ("password", PASSWORD),
                ("sms_code", &code),
                ("access_token", &token),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_is_redirect_to(&r, "/info/");
    let info = b.get("/info/").await.text().await.unwrap();
    assert!(info.contains("已绑定QQ：<strong>小明</strong>"));

    // Log out; the same nickname again goes straight in.
    let csrf = input_value(&info, "csrf_token").unwrap();
    b.post_form("/logout/", &[("csrf_token", &csrf)]).await;
    let r = qq_login_through_the_simulator(&app, &b, "小明").await;
    assert_is_redirect_to(&r, "/info/");
    // Another nickname is another QQ: the bind form.
    let other = app.browser();
    assert_eq!(
        qq_login_through_the_simulator(&app, &other, "小红")
            .await
            .status(),
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulator_answers_in_qqs_formats_errors_included() {
    let app = dev_app().await;
    let b = app.browser();
    let r = b.get("/qq/authorize/").await;
    let authorize = Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    let q: std::collections::HashMap<_, _> = authorize.query_pairs().into_owned().collect();
    let consent = format!(
        "/dev/qq/oauth2.0/consent?client_id={}&redirect_uri={}&state=s&nickname=Alice",
        q["client_id"],
        urlencode(&q["redirect_uri"])
    );
    let back = Url::parse(
        b.get(&consent).await.headers()["location"]
            .to_str()
            .unwrap(),
    )
    .unwrap();
    let code = back
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();

    // A wrong client secret is refused, as JSONP with HTTP 200.
    let token_url = |secret: &str, code: &str, fmt: &str| {
        format!(
            "/dev/qq/oauth2.0/token?grant_type=authorization_code&client_id={}&client_secret={secret}&code={code}&redirect_uri={}{fmt}",
            q["client_id"], urlencode(&q["redirect_uri"])
        )
    };
    let body = b
        .get(&token_url("wrong", &code, ""))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        body.starts_with("callback( {") && body.contains("100021"),
        "{body}"
    );
    let r = b.get("/dev/qq/oauth2.0/me?access_token=nope").await;
    assert_eq!(r.headers()["content-type"], "text/html; charset=utf-8");
    let body = r.text().await.unwrap();
    assert_eq!(
        body,
        "callback( {\"error\":100016,\"error_description\":\"access token check failed\"} );\n"
    );
    let body = b
        .get("/dev/qq/oauth2.0/me?access_token=nope&fmt=json")
        .await
        .text()
        .await
        .unwrap();
    assert!(body.starts_with('{') && body.contains("100016"));
    let body = b
        .get("/dev/qq/user/get_user_info?access_token=nope&oauth_consumer_key=1&openid=X")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(body, r#"{"ret":-23,"msg":"token is invalid"}"#);
    let body = b
        .get(&token_url("x", "UNKNOWNCODE", "&fmt=json"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        body.starts_with('{') && body.contains("\"error\""),
        "{body}"
    );
    // A wrong redirect_uri on the consent page is refused like QQ's 100010.
    let r = b.get("/dev/qq/oauth2.0/authorize?client_id=100000001&redirect_uri=http%3A%2F%2Fevil.example%2F&state=s").await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("100010"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_nickname_always_gives_the_same_openid() {
    let app = dev_app().await;
    let b = app.browser();
    assert_eq!(
        qq_login_through_the_simulator(&app, &b, "Alice")
            .await
            .status(),
        200
    );
    let b2 = app.browser();
    let page = qq_login_through_the_simulator(&app, &b2, "Alice")
        .await
        .text()
        .await
        .unwrap();
    let token = input_value(&page, "access_token").unwrap();
    let sid_free_payload = token.split_once('.').unwrap().0.to_owned();
    let page = qq_login_through_the_simulator(&app, &b, "Alice")
        .await
        .text()
        .await
        .unwrap();
    let token2 = input_value(&page, "access_token").unwrap();
    // The payload carries the openid and expiry; the openid part matches.
    use base64::Engine;
    let decode = |p: &str| {
        String::from_utf8(
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p)
                .unwrap(),
        )
        .unwrap()
    };
    let openid1 = decode(&sid_free_payload)
        .split('|')
        .next()
        .unwrap()
        .to_owned();
    let openid2 = decode(token2.split_once('.').unwrap().0)
        .split('|')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(openid1, openid2);
    assert_eq!(openid1.len(), 32);
    assert!(openid1
        .chars()
        .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dev_outbox_shows_sent_codes_in_dev_mode_only() {
    let app = dev_app().await;
    let b = app.browser();
    let beijing = || {
        (chrono::Utc::now() + chrono::Duration::hours(8))
            .format("<tr><td>%Y-%m-%d %H:%M")
            .to_string()
    };
    let before = beijing();
    let code = app.request_sms_code(&b, "13800138000").await;
    let after = beijing();
    let page = b.get("/dev/sms/").await;
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(
        page.contains("13800138000") && page.contains(&code),
        "{page}"
    );
    // Its time is Beijing time, as every page of the shop says it.
    assert!(page.contains("<th>时间（北京时间）</th>"), "{page}");
    assert!(
        page.contains(&before) || page.contains(&after),
        "{before} or {after}: {page}"
    );
}

/// Dev mode simulates WeChat and Weibo too: all three buttons work with nothing set.
mod wechat_and_weibo {
    use qqbind::config::{ProviderMode, QqMode};
    use qqbind::domain::Provider;
    use url::Url;

    use crate::helpers::*;

    async fn dev_app() -> TestApp {
        spawn_app_with(Setup::MEMORY, |s| {
            s.qq = QqMode::Simulated;
            s.wechat = ProviderMode::Simulated;
            s.weibo = ProviderMode::Simulated;
        })
        .await
    }

    /// The provider's button → the simulator's consent page → confirm (as `nickname`,
    /// with `fault`, or cancelled) → the app's callback.
    async fn through_the_simulator(
        app: &TestApp,
        b: &Browser,
        p: Provider,
        nickname: &str,
        extra: &str,
    ) -> reqwest::Response {
        let r = b.get(&format!("/oauth/{p}/authorize/?next=/info/")).await;
        assert_eq!(r.status(), 302);
        let authorize = r.headers()["location"].to_str().unwrap().to_owned();
        assert!(
            authorize.starts_with(&format!("{}/dev/{p}/", app.base)),
            "{authorize}"
        );
        let page = b.client.get(&authorize).send().await.unwrap();
        assert_eq!(page.status(), 200);
        let page = page.text().await.unwrap();
        assert!(
            page.contains(&format!("这是内置的{}模拟器", p.label())),
            "{page}"
        );
        let action = page
            .split("action=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap()
            .to_owned();
        let mut confirm = Url::parse(&format!("{}{action}", app.base)).unwrap();
        {
            let mut q = confirm.query_pairs_mut();
            for name in [
                "appid",
                "client_id",
                "redirect_uri",
                "response_type",
                "scope",
                "state",
            ] {
                q.append_pair(name, &input_value(&page, name).unwrap());
            }
            q.append_pair("nickname", nickname);
        }
        let confirm = format!("{confirm}{extra}");
        let r = b.client.get(&confirm).send().await.unwrap();
        assert_eq!(r.status(), 302);
        let back = r.headers()["location"].to_str().unwrap().to_owned();
        assert!(
            back.starts_with(&format!("{}/oauth/{p}/callback/?", app.base)),
            "{back}"
        );
        b.client.get(&back).send().await.unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_three_buttons_work_against_the_built_in_simulators() {
        let app = dev_app().await;
        let login = app.browser().get("/login/").await.text().await.unwrap();
        for id in ["qq-login", "wechat-login", "weibo-login"] {
            assert!(login.contains(&format!("id=\"{id}\"")), "{id}");
        }
        for (p, mobile) in [
            (Provider::Wechat, "13800138001"),
            (Provider::Weibo, "13800138002"),
        ] {
            let b = app.browser();
            let r = through_the_simulator(&app, &b, p, "小红", "").await;
            assert_eq!(r.status(), 200, "{p}");
            let page = r.text().await.unwrap();
            assert!(page.contains("亲爱的 <strong>小红</strong>"), "{p}: {page}");
            let code = app.request_sms_code(&b, mobile).await;
            let r = b
                .post_form(
                    &format!("/oauth/{p}/callback/"),
                    &[
                        ("mobile", mobile),
                        ("password", PASSWORD),
                        ("sms_code", &code),
                        ("access_token", &input_value(&page, "access_token").unwrap()),
                        ("csrf_token", &input_value(&page, "csrf_token").unwrap()),
                    ],
                )
                .await;
            assert_is_redirect_to(&r, "/info/");
            let info = b.get("/info/").await.text().await.unwrap();
            assert!(
                info.contains(&format!("已绑定{}：<strong>小红</strong>", p.label())),
                "{info}"
            );
            // The same nickname again: straight in.
            let again = app.browser();
            let r = through_the_simulator(&app, &again, p, "小红", "").await;
            assert_is_redirect_to(&r, "/info/");
            assert!(again.is_logged_in().await);
        }
        assert_eq!(app.binding_count().await, 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_simulators_faults_and_refusals_get_clear_pages() {
        let app = dev_app().await;
        for (p, fault) in [
            (Provider::Wechat, "-1"),
            (Provider::Wechat, "40029"),
            (Provider::Wechat, "45011"),
            (Provider::Weibo, "21325"),
            (Provider::Weibo, "21321"),
            (Provider::Weibo, "10023"),
        ] {
            let b = app.browser();
            let r = through_the_simulator(&app, &b, p, "Alice", &format!("&fault={fault}")).await;
            assert_eq!(r.status(), 502, "{p} {fault}");
            assert!(r.text().await.unwrap().contains("OAuth2.0认证失败"));
        }
        for p in [Provider::Wechat, Provider::Weibo] {
            let b = app.browser();
            let r = through_the_simulator(&app, &b, p, "Alice", "&cancel=1").await;
            assert_eq!(r.status(), 400, "{p}");
            let page = r.text().await.unwrap();
            assert!(
                page.contains(&format!("您已取消{}授权（缺少code）", p.label())),
                "{page}"
            );
        }
        // No unionid: the bind form all the same.
        let b = app.browser();
        let r = through_the_simulator(&app, &b, Provider::Wechat, "Bob", "&fault=nounionid").await;
        assert_eq!(r.status(), 200);
        assert_eq!(app.binding_count().await, 0);
    }
}
