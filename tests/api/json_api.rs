//! `/api/`: the same flow as JSON for single-page front-ends (seeds 002 and 003).

use qqbind::codes::keys;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::*;

const MOBILE: &str = "13800138000";
/// The front-end's PKCE verifier (RFC 7636 appendix B) and its S256 challenge.
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// A front-end's HTTP client: no cookies, JSON in and out.
struct Api {
    base: String,
    client: reqwest::Client,
}

impl Api {
    fn new(app: &TestApp) -> Self {
        Self {
            base: app.base.clone(),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        }
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        jwt: Option<&str>,
    ) -> (StatusCode, Value) {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            req = req.json(&body);
        }
        if let Some(t) = jwt {
            req = req.header("Authorization", t);
        }
        let r = req.send().await.unwrap();
        assert!(
            r.headers().get("set-cookie").is_none(),
            "the API sets no cookie"
        );
        let status = r.status();
        let text = r.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
        (status, body)
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None, None).await
    }

    /// `GET /api/oauth/qq/authorization/` and the `state` in its `auth_url`.
    async fn state(&self, next: &str) -> String {
        let (status, body) = self
            .get(&format!(
                "/api/oauth/qq/authorization/?next={}&code_challenge={CHALLENGE}&code_challenge_method=S256",
                urlencode(next)
            ))
            .await;
        assert_eq!(status, 200);
        let url = url::Url::parse(body["auth_url"].as_str().unwrap()).unwrap();
        url.query_pairs()
            .find(|(k, _)| k == "state")
            .map(|(_, v)| v.into_owned())
            .unwrap()
    }

    /// QQ sent the browser back with `code-<openid>`: the front-end asks the API.
    async fn qq_user(&self, openid: &str) -> (StatusCode, Value) {
        let state = self.state("/").await;
        self.get(&format!(
            "/api/oauth/qq/user/?code=code-{openid}&state={}&code_verifier={VERIFIER}",
            urlencode(&state)
        ))
        .await
    }

    /// The signed openid token for a QQ that is not bound yet.
    async fn access_token(&self, openid: &str) -> String {
        let (status, body) = self.qq_user(openid).await;
        assert_eq!(status, 200, "{body}");
        body["access_token"]
            .as_str()
            .expect("not bound yet")
            .to_owned()
    }

    async fn bind(&self, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, "/api/oauth/qq/user/", Some(body), None)
            .await
    }

    async fn bind_existing(&self, body: Value) -> (StatusCode, Value) {
        self.call(Method::PUT, "/api/oauth/qq/user/", Some(body), None)
            .await
    }

    async fn me(&self, authorization: &str) -> (StatusCode, Value) {
        self.call(Method::GET, "/api/user/", None, Some(authorization))
            .await
    }
}

fn assert_refused(r: (StatusCode, Value), status: u16, code: &str, errmsg: &str) {
    assert_eq!(r.0, status, "{}", r.1);
    assert_eq!(r.1["code"], code, "{}", r.1);
    assert_eq!(r.1["errmsg"], errmsg, "{}", r.1);
}

async fn the_whole_flow_works_with_the_api_alone(kind: Setup) {
    let app = spawn_app(kind).await;
    let api = Api::new(&app);

    // 1. Where to send the browser.
    let (status, body) = api
        .get(&format!(
            "/api/oauth/qq/authorization/?next=/goods/1.html&code_challenge={CHALLENGE}&code_challenge_method=S256"
        ))
        .await;
    assert_eq!(status, 200);
    let auth_url = url::Url::parse(body["auth_url"].as_str().unwrap()).unwrap();
    assert!(auth_url
        .as_str()
        .starts_with(&format!("{}/oauth2.0/authorize?", app.qq.url)));
    let q: std::collections::HashMap<_, _> = auth_url.query_pairs().into_owned().collect();
    assert_eq!(q["client_id"], CLIENT_ID);
    assert_eq!(q["redirect_uri"], REDIRECT_URI);
    assert_eq!(body["next"], "/goods/1.html");

    // 2. QQ came back: not bound yet.
    let (status, body) = api
        .get(&format!(
            "/api/oauth/qq/user/?code=code-{OPENID}&state={}&code_verifier={VERIFIER}",
            urlencode(&q["state"])
        ))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["next"], "/goods/1.html", "next rides in the state");
    let access_token = body["access_token"].as_str().unwrap().to_owned();

    // 3. Captcha, then the SMS code (read from the dev outbox).
    let b = app.browser();
    let id = uuid::Uuid::new_v4().to_string();
    let text = app.captcha(&b, &id).await;
    let (status, body) = api
        .get(&format!(
            "/api/sms_codes/{MOBILE}/?image_code={text}&image_code_id={id}"
        ))
        .await;
    assert_eq!((status.as_u16(), body["code"].as_str()), (200, Some("0")));
    let sms = app.sent_sms(MOBILE).expect("the SMS was sent");

    // 4. Bind: a new account, logged in.
    let (status, body) = api
        .bind(json!({
            "mobile": MOBILE, "password": PASSWORD, "sms_code": sms,
            "access_token": access_token, "nickname": "小\u{0}明\n",
        }))
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["username"], MOBILE);
    let token = body["token"].as_str().unwrap().to_owned();
    let user = app.user_by_mobile(MOBILE).await.unwrap();
    assert_eq!(body["id"], user.id);
    assert_eq!(user.nickname, "小明", "control characters dropped");
    assert_eq!(app.binding_of(OPENID).await.unwrap().user_id, user.id);

    // 5. Who am I, with DRF's prefix and with Bearer.
    for prefix in ["JWT", "Bearer"] {
        let (status, me) = api.me(&format!("{prefix} {token}")).await;
        assert_eq!(status, 200);
        assert_eq!(me["id"], user.id);
        assert_eq!(me["username"], MOBILE);
        assert_eq!(me["qq_bound"], true);
    }

    // 6. Next time: straight to a token.
    let (status, body) = api.qq_user(OPENID).await;
    assert_eq!(status, 200);
    assert_eq!(body["user_id"], user.id);
    assert_eq!(body["username"], MOBILE);
    assert!(body.get("access_token").is_none());
    let (status, _) = api
        .me(&format!("JWT {}", body["token"].as_str().unwrap()))
        .await;
    assert_eq!(status, 200);
}

async fn the_jwt_lasts_one_day_and_names_the_user(kind: Setup) {
    let app = spawn_app(kind).await;
    let api = Api::new(&app);
    let token = api.access_token(OPENID).await;
    app.give_sms_code(MOBILE, "123456").await;
    let (_, body) = api
        .bind(json!({"mobile": MOBILE, "password": PASSWORD, "sms_code": "123456", "access_token": token}))
        .await;
    let jwt = body["token"].as_str().unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    v.leeway = 0;
    let claims = jsonwebtoken::decode::<Value>(
        jwt,
        &jsonwebtoken::DecodingKey::from_secret(app.state.signer.jwt_key()),
        &v,
    )
    .unwrap()
    .claims;
    assert_eq!(claims["username"], MOBILE);
    assert_eq!(claims["user_id"], body["id"]);
    let left = claims["exp"].as_i64().unwrap() - chrono::Utc::now().timestamp();
    assert!((86_390..=86_400).contains(&left), "{left}");
}

async fn a_state_works_once_and_only_as_signed(kind: Setup) {
    let app = spawn_app(kind).await;
    let api = Api::new(&app);
    let state = api.state("/").await;
    let url = |s: &str| {
        format!(
            "/api/oauth/qq/user/?code=code-{OPENID}&state={}&code_verifier={VERIFIER}",
            urlencode(s)
        )
    };
    let (status, _) = api.get(&url(&state)).await;
    assert_eq!(status, 200);
    let calls = app.qq.token_calls();

    let refused = "state无效或已过期，请重新发起QQ登录";
    assert_refused(api.get(&url(&state)).await, 400, "4005", refused);
    let mut forged = state.clone();
    forged.insert(
        2,
        if forged.as_bytes()[2] == b'A' {
            'B'
        } else {
            'A'
        },
    );
    assert_refused(api.get(&url(&forged)).await, 400, "4005", refused);
    assert_refused(api.get(&url("made-up")).await, 400, "4005", refused);
    let expired = app.state.signer.sign_state(
        &qqbind::signer::ApiState {
            nonce: "n1".into(),
            challenge: CHALLENGE.into(),
            next: "/".into(),
        },
        chrono::Utc::now().timestamp() - 1,
    );
    assert_refused(api.get(&url(&expired)).await, 400, "4005", refused);
    assert_refused(
        api.get("/api/oauth/qq/user/?code=abc").await,
        400,
        "4003",
        "缺少必传参数",
    );
    assert_refused(
        api.get(&format!(
            "/api/oauth/qq/user/?state={}",
            urlencode(&api.state("/").await)
        ))
        .await,
        400,
        "4003",
        "缺少必传参数",
    );
    assert_eq!(app.qq.token_calls(), calls, "QQ was not asked");

    // A state for an open redirect is sanitised when it is made.
    let (_, body) = api
        .get(&format!(
            "/api/oauth/qq/authorization/?next=//evil.example/&code_challenge={CHALLENGE}&code_challenge_method=S256"
        ))
        .await;
    assert_eq!(body["next"], "/");
}

async fn qq_failing_is_a_502_in_json(kind: Setup) {
    let app = spawn_app(kind).await;
    let api = Api::new(&app);
    app.qq.set_token(TokenReply::JsonpError);
    assert_refused(api.qq_user(OPENID).await, 502, "5020", "OAuth2.0认证失败");
}

/// POST: every row of spec section 4's table, in order, with its code.
async fn every_bind_failure_has_its_code_and_the_forms_message(kind: Setup) {
    let app = spawn_app(kind).await;
    let api = Api::new(&app);
    let token = api.access_token(OPENID).await;
    let body = |m: &str, p: &str, s: &str, t: &str| json!({"mobile": m, "password": p, "sms_code": s, "access_token": t});
    assert_refused(api.bind(json!({})).await, 400, "4003", "缺少必传参数");
    assert_refused(
        api.bind(body(MOBILE, PASSWORD, "", &token)).await,
        400,
        "4003",
        "缺少必传参数",
    );
    assert_refused(
        api.bind(body("1380013800", PASSWORD, "1", &token)).await,
        400,
        "4007",
        "请输入正确的手机号码",
    );
    assert_refused(
        api.bind(body(MOBILE, "short", "1", &token)).await,
        400,
        "4008",
        "请输入8-20位的密码",
    );
    assert_refused(
        api.bind(body(MOBILE, PASSWORD, "123456", &token)).await,
        400,
        "4011",
        "无效的短信验证码",
    );
    app.give_sms_code(MOBILE, "123456").await;
    assert_refused(
        api.bind(body(MOBILE, PASSWORD, "654321", &token)).await,
        400,
        "4012",
        "输入短信验证码有误",
    );
    // A form token (bound to a browser session) is not an API token.
    let form_token = app.state.signer.sign_openid(
        &qqbind::domain::OpenId::parse(OPENID).unwrap(),
        chrono::Utc::now().timestamp() + 600,
        "0123456789abcdef0123456789abcdef",
    );
    for bad in ["forged", form_token.as_str()] {
        assert_refused(
            api.bind(body(MOBILE, PASSWORD, "123456", bad)).await,
            400,
            "4013",
            "无效的openid",
        );
    }
    app.create_user(MOBILE, "rightpass1").await;
    assert_refused(
        api.bind(body(MOBILE, PASSWORD, "123456", &token)).await,
        400,
        "4014",
        "用户名或密码错误",
    );
    assert_eq!(app.binding_count().await, 0);
    assert!(
        app.codes().get(&keys::sms(MOBILE)).await.unwrap().is_some(),
        "a refused bind leaves the SMS code"
    );

    // Row 8: the account already has another QQ.
    app.bind_new_account(OPENID_2, "13900139000").await;
    app.give_sms_code("13900139000", "123456").await;
    assert_refused(
        api.bind(body("13900139000", PASSWORD, "123456", &token))
            .await,
        400,
        "4015",
        "该账号已绑定其他QQ",
    );

    // Row 9: the openid was bound to someone else meanwhile.
    let other = Api::new(&app);
    let token_b = other.access_token(OPENID).await;
    app.give_sms_code("13700137000", "123456").await;
    let (status, _) = other
        .bind(body("13700137000", PASSWORD, "123456", &token_b))
        .await;
    assert_eq!(status, 201);
    app.give_sms_code("13600136000", "123456").await;
    assert_refused(
        api.bind(body("13600136000", PASSWORD, "123456", &token))
            .await,
        400,
        "4016",
        "QQ登录失败",
    );
    assert!(
        app.user_by_mobile("13600136000").await.is_none(),
        "no orphan account"
    );
}

async fn a_disabled_account_is_refused_on_every_api_way_in(kind: Setup) {
    let app = spawn_app(kind).await;
    let api = Api::new(&app);
    let token = api.access_token(OPENID).await;
    app.give_sms_code(MOBILE, "123456").await;
    let (_, body) = api
        .bind(json!({"mobile": MOBILE, "password": PASSWORD, "sms_code": "123456", "access_token": token}))
        .await;
    let jwt = format!("JWT {}", body["token"].as_str().unwrap());
    let user = app.user_by_mobile(MOBILE).await.unwrap();
    app.set_active(user.id, false).await;
    let disabled = "该账号已被禁用，请联系客服";
    assert_refused(api.qq_user(OPENID).await, 403, "4017", disabled);
    assert_refused(api.me(&jwt).await, 403, "4017", disabled);
    let token = api.access_token(OPENID_2).await;
    app.give_sms_code(MOBILE, "222222").await;
    assert_refused(
        api.bind_existing(
            json!({"username": MOBILE, "password": "wrong1234", "sms_code": "222222", "access_token": token}),
        )
        .await,
        403,
        "4017",
        disabled,
    );
}

/// PUT: Renran's "bind an existing account" by username (or mobile), its password and
/// an SMS code sent to its mobile (the form's rule).
async fn an_existing_account_binds_by_username_password_and_sms_code(kind: Setup) {
    let app = spawn_app(kind).await;
    let api = Api::new(&app);
    let user = app.create_user(MOBILE, PASSWORD).await;
    let token = api.access_token(OPENID).await;

    assert_refused(
        api.bind_existing(json!({"username": user.username})).await,
        400,
        "4003",
        "缺少必传参数",
    );
    // The password alone is not enough any more.
    assert_refused(
        api.bind_existing(
            json!({"username": user.username, "password": PASSWORD, "access_token": token}),
        )
        .await,
        400,
        "4003",
        "缺少必传参数",
    );
    assert_refused(
        api.bind_existing(
            json!({"username": user.username, "password": PASSWORD, "sms_code": "123456", "access_token": "forged"}),
        )
        .await,
        400,
        "4013",
        "无效的openid",
    );
    // No code was sent to the account's mobile: the right password does not bind.
    assert_refused(
        api.bind_existing(
            json!({"username": user.username, "password": PASSWORD, "sms_code": "123456", "access_token": token}),
        )
        .await,
        400,
        "4011",
        "无效的短信验证码",
    );
    app.give_sms_code(MOBILE, "123456").await;
    assert_refused(
        api.bind_existing(
            json!({"username": user.username, "password": PASSWORD, "sms_code": "654321", "access_token": token}),
        )
        .await,
        400,
        "4012",
        "输入短信验证码有误",
    );
    for who in [user.username.as_str(), "nobody_here", "nul\0name"] {
        assert_refused(
            api.bind_existing(
                json!({"username": who, "password": "wrongpass1", "sms_code": "123456", "access_token": token}),
            )
            .await,
            400,
            "4014",
            "用户名或密码错误",
        );
    }
    assert_eq!(app.binding_count().await, 0);
    let (status, body) = api
        .bind_existing(
            json!({"username": user.username, "password": PASSWORD, "sms_code": "123456", "access_token": token}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["id"], user.id);
    assert_eq!(body["username"], user.username.as_str());
    assert_eq!(app.binding_of(OPENID).await.unwrap().user_id, user.id);
    assert_eq!(app.audit_actions(user.id).await, ["qq_bind"]);
    let entry = app.audit_of(user.id).await.remove(0);
    assert_eq!(
        (entry.ip.as_str(), entry.channel.as_str()),
        ("127.0.0.1", "api")
    );
    // The code is used up.
    assert!(app.codes().get(&keys::sms(MOBILE)).await.unwrap().is_none());

    // The same account cannot take a second QQ; by mobile, the login works the same.
    let token_2 = api.access_token(OPENID_2).await;
    app.give_sms_code(MOBILE, "222222").await;
    assert_refused(
        api.bind_existing(
            json!({"username": MOBILE, "password": PASSWORD, "sms_code": "222222", "access_token": token_2}),
        )
        .await,
        400,
        "4015",
        "该账号已绑定其他QQ",
    );
}

async fn bad_bodies_and_methods_get_clear_json_answers(kind: Setup) {
    let app = spawn_app(kind).await;
    let client = reqwest::Client::new();
    let url = format!("{}/api/oauth/qq/user/", app.base);
    let send = |req: reqwest::RequestBuilder| async move {
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let allow = r
            .headers()
            .get("allow")
            .map(|v| v.to_str().unwrap().to_owned());
        (status, r.json::<Value>().await.unwrap(), allow)
    };
    for (req, status, errmsg) in [
        (
            client
                .post(&url)
                .header("content-type", "text/plain")
                .body("mobile=1"),
            400,
            "请求体须为JSON（Content-Type: application/json）",
        ),
        (
            client
                .post(&url)
                .header("content-type", "application/json")
                .body("{not json"),
            400,
            "请求体不是有效的JSON",
        ),
        (
            client.post(&url).json(&json!({"mobile": 13800138000u64})),
            400,
            "请求体不是有效的JSON",
        ),
        (
            client
                .put(&url)
                .header("content-type", "application/json")
                .body(vec![0xffu8, 0xfe]),
            400,
            "请求体不是有效的JSON",
        ),
        (
            client
                .post(&url)
                .json(&json!({"mobile": "x".repeat(20_000)})),
            413,
            "请求体过大（最多16KB）",
        ),
    ] {
        let (s, body, _) = send(req).await;
        assert_eq!(s, status, "{body}");
        assert_eq!(body["errmsg"], errmsg);
    }
    let (s, body, allow) = send(client.delete(&url)).await;
    assert_eq!(s, 405, "{body}");
    assert_eq!(body["code"], "4050");
    assert_eq!(allow.as_deref(), Some("GET, POST, PUT"));
    let (s, _, allow) = send(client.post(format!("{}/api/user/", app.base))).await;
    assert_eq!((s, allow.as_deref()), (405, Some("GET")));
    let (s, body, _) = send(client.get(format!("{}/api/nothing/", app.base))).await;
    assert_eq!((s, body["code"].as_str()), (404, Some("4040")));
    assert_eq!(app.user_count().await, 0);
}

async fn api_calls_without_a_valid_jwt_get_401(kind: Setup) {
    let app = spawn_app(kind).await;
    let api = Api::new(&app);
    let user = app.create_user(MOBILE, PASSWORD).await;
    let key = app.state.signer.jwt_key().to_vec();
    let make = |exp: i64, key: &[u8]| {
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &json!({"user_id": user.id, "username": user.username, "exp": exp, "epoch": 0}),
            &jsonwebtoken::EncodingKey::from_secret(key),
        )
        .unwrap()
    };
    let now = chrono::Utc::now().timestamp();
    let good = make(now + 60, &key);
    assert_eq!(api.me(&format!("JWT {good}")).await.0, 200, "the control");

    let r = api
        .client
        .get(format!("{}/api/user/", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    let mut tampered = good.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    let unsigned = format!(
        "{}.{}.",
        base64_url(r#"{"alg":"none","typ":"JWT"}"#),
        base64_url(
            &json!({"user_id": user.id, "username": user.username, "exp": now + 60}).to_string()
        )
    );
    for (header, errmsg) in [
        (
            format!("JWT {}", make(now - 5, &key)),
            "登录已过期，请重新登录",
        ),
        (format!("JWT {tampered}"), "无效的登录凭证"),
        (
            format!(
                "JWT {}",
                make(now + 60, b"another-key-another-key-another!")
            ),
            "无效的登录凭证",
        ),
        (format!("JWT {unsigned}"), "无效的登录凭证"),
        ("JWT garbage".to_owned(), "无效的登录凭证"),
        (
            format!("Token {good}"),
            "Authorization 须为 JWT <token> 或 Bearer <token>",
        ),
        (
            "JWT ".to_owned(),
            "Authorization 须为 JWT <token> 或 Bearer <token>",
        ),
    ] {
        assert_refused(api.me(&header).await, 401, "4101", errmsg);
    }
}

fn base64_url(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
}

async fn cors_answers_configured_origins_only(kind: Setup) {
    let app = spawn_app_with(kind, |s| {
        s.cors_origins = vec!["https://spa.example".to_owned()];
    })
    .await;
    let client = reqwest::Client::new();
    let url = format!("{}/api/oauth/qq/user/", app.base);
    let preflight = |origin: &'static str| {
        client
            .request(Method::OPTIONS, &url)
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .header("Access-Control-Request-Headers", "content-type")
            .send()
    };
    let r = preflight("https://spa.example").await.unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://spa.example"
    );
    let methods = r.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        methods.contains("POST") && methods.contains("PUT"),
        "{methods}"
    );

    let r = preflight("https://evil.example").await.unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());

    let get = |origin: &'static str| {
        client
            .get(format!(
                "{}/api/oauth/qq/authorization/?code_challenge={CHALLENGE}&code_challenge_method=S256",
                app.base
            ))
            .header("Origin", origin)
            .send()
    };
    let r = get("https://spa.example").await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://spa.example"
    );
    let r = get("https://evil.example").await.unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());

    // None by default.
    let plain = spawn_app(kind).await;
    let r = client
        .get(format!("{}/api/oauth/qq/authorization/", plain.base))
        .header("Origin", "https://spa.example")
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());
}

/// The OpenAPI document and the served routes are the same set, both ways.
async fn the_openapi_document_describes_every_route(kind: Setup) {
    let app = spawn_app(kind).await;
    let api = Api::new(&app);
    let (status, doc) = api.get("/api/openapi.json").await;
    assert_eq!(status, 200);
    assert_eq!(doc["openapi"], "3.0.3");
    let mut documented: Vec<(String, String)> = Vec::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            documented.push((method.to_uppercase(), path.clone()));
        }
    }
    let mut served: Vec<(String, String)> = qqbind::web::api::ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    documented.sort();
    served.sort();
    assert_eq!(documented, served);
    // Every documented operation is really there: neither 404 nor 405.
    for (method, path) in &documented {
        let path = path.replace("{mobile}", MOBILE).replace("{provider}", "qq");
        let mut req = api.client.request(
            Method::from_bytes(method.as_bytes()).unwrap(),
            format!("{}{path}", app.base),
        );
        if method != "GET" {
            req = req.json(&json!({}));
        }
        let status = req.send().await.unwrap().status().as_u16();
        assert!(status != 404 && status != 405, "{method} {path}: {status}");
    }
}

crate::all_setups!(
    the_whole_flow_works_with_the_api_alone,
    the_jwt_lasts_one_day_and_names_the_user,
    a_state_works_once_and_only_as_signed,
    qq_failing_is_a_502_in_json,
    every_bind_failure_has_its_code_and_the_forms_message,
    a_disabled_account_is_refused_on_every_api_way_in,
    an_existing_account_binds_by_username_password_and_sms_code,
    bad_bodies_and_methods_get_clear_json_answers,
    api_calls_without_a_valid_jwt_get_401,
    cors_answers_configured_origins_only,
    the_openapi_document_describes_every_route,
);
