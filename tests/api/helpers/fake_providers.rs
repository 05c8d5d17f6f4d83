//! A fake WeChat Open Platform and a fake Weibo, each on its own random loopback port,
//! answering as `providers.md` says the real ones do (and, on demand, with any body and
//! status a test gives them).
//!
//! WeChat: a code `code-<openid>.<n>` is good once and gives the token `tok-<openid>`;
//! the person's unionid is `u-<openid>` unless the test set another (or none).
//! Weibo: a code `code-<uid>.<n>` is good once and gives `tok-<uid>`.

use std::collections::{HashMap, HashSet};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use qqbind::config::{ProviderMode, Secret, Settings, WechatApp, WechatMp, WeiboApp};
use serde::Deserialize;
use url::Url;

pub const WECHAT_APP_ID: &str = "wx0123456789abcdef";
pub const WECHAT_APP_SECRET: &str = "fake-wechat-app-secret-93c1e5";
pub const WECHAT_REDIRECT_URI: &str = "http://www.meiduo.site:8000/oauth/wechat/callback/";
pub const WECHAT_MP_APP_ID: &str = "wxmp23456789abcdef";
pub const WECHAT_MP_APP_SECRET: &str = "fake-wechat-mp-secret-5e81aa";
pub const WEIBO_CLIENT_ID: &str = "3512345678";
pub const WEIBO_CLIENT_SECRET: &str = "fake-weibo-client-secret-7d2a0f";
pub const WEIBO_REDIRECT_URI: &str = "http://www.meiduo.site/oauth/weibo/callback/";

/// A raw answer a test wants an endpoint to give instead of its usual one.
#[derive(Debug, Clone)]
pub struct Canned {
    pub status: u16,
    pub body: String,
}

impl Canned {
    pub fn new(status: u16, body: &str) -> Self {
        Self {
            status,
            body: body.to_owned(),
        }
    }
}

fn canned(c: &Canned, content_type: &str) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(c.status).unwrap())
        .content_type(content_type)
        .body(c.body.clone())
}

/// Every code a fake hands out is new: `code-<id>.<n>`.
static CODES: AtomicUsize = AtomicUsize::new(0);

pub fn provider_code(id: &str) -> String {
    format!("code-{id}.{}", CODES.fetch_add(1, Ordering::Relaxed))
}

fn id_of_code(code: &str) -> Option<&str> {
    code.strip_prefix("code-")
        .and_then(|rest| rest.rsplit_once('.'))
        .map(|(id, _)| id)
        .filter(|id| !id.is_empty())
}

fn start_server(
    routes: impl Fn(&mut web::ServiceConfig) + Clone + Send + 'static,
) -> (String, actix_web::dev::ServerHandle) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = HttpServer::new(move || App::new().configure(routes.clone()))
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
    let handle = server.handle();
    tokio::spawn(server);
    (format!("http://127.0.0.1:{port}"), handle)
}

// ---------------------------------------------------------------- WeChat

#[derive(Debug, Default)]
pub struct FakeWechatState {
    pub token: Option<Canned>,
    pub userinfo: Option<Canned>,
    /// openid → its unionid (`None`: the person has none); unset: `u-<openid>`.
    pub unionids: HashMap<String, Option<String>>,
    pub nicknames: HashMap<String, String>,
    used: HashSet<String>,
    pub token_calls: usize,
    pub userinfo_calls: usize,
}

pub struct FakeWechat {
    pub url: String,
    pub state: Arc<Mutex<FakeWechatState>>,
    handle: actix_web::dev::ServerHandle,
}

impl FakeWechat {
    pub async fn start() -> Self {
        let state = Arc::new(Mutex::new(FakeWechatState::default()));
        let data = web::Data::new(state.clone());
        let (url, handle) = start_server(move |cfg| {
            cfg.app_data(data.clone())
                .route("/sns/oauth2/access_token", web::get().to(wx_token))
                .route("/sns/userinfo", web::get().to(wx_userinfo));
        });
        Self { url, state, handle }
    }

    /// The settings of a WeChat application registered at this fake.
    pub fn app(&self) -> ProviderMode<WechatApp> {
        ProviderMode::Real(Box::new(WechatApp {
            app_id: WECHAT_APP_ID.to_owned(),
            app_secret: Secret::new(WECHAT_APP_SECRET),
            redirect_uri: Url::parse(WECHAT_REDIRECT_URI).unwrap(),
            open_url: Url::parse(&format!("{}/open", self.url)).unwrap(),
            api_url: Url::parse(&self.url).unwrap(),
            mp: None,
        }))
    }

    /// The same, with a 公众号 for logins inside the WeChat app.
    pub fn app_with_mp(&self) -> ProviderMode<WechatApp> {
        match self.app() {
            ProviderMode::Real(mut app) => {
                app.mp = Some(WechatMp {
                    app_id: WECHAT_MP_APP_ID.to_owned(),
                    app_secret: Secret::new(WECHAT_MP_APP_SECRET),
                });
                ProviderMode::Real(app)
            }
            other => other,
        }
    }

    pub fn set_token(&self, c: Option<Canned>) {
        self.state.lock().unwrap().token = c;
    }
    pub fn set_userinfo(&self, c: Option<Canned>) {
        self.state.lock().unwrap().userinfo = c;
    }
    pub fn set_unionid(&self, openid: &str, unionid: Option<&str>) {
        self.state
            .lock()
            .unwrap()
            .unionids
            .insert(openid.to_owned(), unionid.map(str::to_owned));
    }
    pub fn set_nickname(&self, openid: &str, nickname: &str) {
        self.state
            .lock()
            .unwrap()
            .nicknames
            .insert(openid.to_owned(), nickname.to_owned());
    }
    pub fn token_calls(&self) -> usize {
        self.state.lock().unwrap().token_calls
    }
}

impl Drop for FakeWechat {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        tokio::spawn(async move { handle.stop(false).await });
    }
}

/// WeChat answers everything with 200 and `text/plain`, no charset, `/` escaped.
fn wx(body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain")
        .body(body.replace('/', "\\/"))
}

fn wx_error(code: i64, msg: &str) -> HttpResponse {
    wx(format!(
        r#"{{"errcode":{code},"errmsg":"{msg}, rid: 6206378a-793424c0-2e4091cc"}}"#
    ))
}

#[derive(Deserialize)]
struct WxTokenQ {
    appid: Option<String>,
    secret: Option<String>,
    code: Option<String>,
    grant_type: Option<String>,
}

async fn wx_token(
    s: web::Data<Arc<Mutex<FakeWechatState>>>,
    q: web::Query<WxTokenQ>,
) -> HttpResponse {
    let mut st = s.lock().unwrap();
    st.token_calls += 1;
    if let Some(c) = &st.token {
        return canned(c, "text/plain");
    }
    let Some(code) = q.code.as_deref() else {
        return wx_error(41008, "missing code");
    };
    let (secret, scope) = match q.appid.as_deref() {
        Some(WECHAT_APP_ID) => (WECHAT_APP_SECRET, "snsapi_login"),
        Some(WECHAT_MP_APP_ID) => (WECHAT_MP_APP_SECRET, "snsapi_userinfo"),
        _ => return wx_error(40013, "invalid appid"),
    };
    if q.secret.as_deref() != Some(secret) {
        return wx_error(40125, "invalid appsecret");
    }
    if q.grant_type.as_deref() != Some("authorization_code") {
        return wx_error(40002, "invalid grant_type");
    }
    let Some(openid) = id_of_code(code).map(str::to_owned) else {
        return wx_error(40029, "invalid code");
    };
    if !st.used.insert(code.to_owned()) {
        return wx_error(40163, "code been used");
    }
    let unionid = st
        .unionids
        .get(&openid)
        .cloned()
        .unwrap_or_else(|| Some(format!("u-{openid}")));
    let unionid = unionid
        .map(|u| format!(r#","unionid":"{u}""#))
        .unwrap_or_default();
    wx(format!(
        r#"{{"access_token":"tok-{openid}","expires_in":7200,"refresh_token":"ref-{openid}","openid":"{openid}","scope":"{scope}"{unionid}}}"#
    ))
}

#[derive(Deserialize)]
struct WxUserQ {
    access_token: Option<String>,
    openid: Option<String>,
}

async fn wx_userinfo(
    s: web::Data<Arc<Mutex<FakeWechatState>>>,
    q: web::Query<WxUserQ>,
) -> HttpResponse {
    let mut st = s.lock().unwrap();
    st.userinfo_calls += 1;
    if let Some(c) = &st.userinfo {
        return canned(c, "text/plain");
    }
    let Some(openid) = q
        .access_token
        .as_deref()
        .and_then(|t| t.strip_prefix("tok-"))
    else {
        return wx_error(
            40001,
            "invalid credential, access_token is invalid or not latest",
        );
    };
    if q.openid.as_deref() != Some(openid) {
        return wx_error(40003, "invalid openid");
    }
    let unionid = st
        .unionids
        .get(openid)
        .cloned()
        .unwrap_or_else(|| Some(format!("u-{openid}")))
        .map(|u| format!(r#","unionid":"{u}""#))
        .unwrap_or_default();
    let nickname = st
        .nicknames
        .get(openid)
        .cloned()
        .unwrap_or_else(|| "飞翔的企鹅🐧".to_owned());
    wx(format!(
        r#"{{"openid":"{openid}","nickname":"{nickname}","sex":0,"language":"","city":"","province":"","country":"","headimgurl":"http://thirdwx.qlogo.cn/mmopen/vi_32/{openid}/132","privilege":[]{unionid}}}"#
    ))
}

// ---------------------------------------------------------------- Weibo

#[derive(Debug, Default)]
pub struct FakeWeiboState {
    pub token: Option<Canned>,
    pub token_info: Option<Canned>,
    pub users_show: Option<Canned>,
    used: HashSet<String>,
    pub token_calls: usize,
    /// What the last token request carried, form body and query string together.
    pub last_token_form: HashMap<String, String>,
}

pub struct FakeWeibo {
    pub url: String,
    pub state: Arc<Mutex<FakeWeiboState>>,
    handle: actix_web::dev::ServerHandle,
}

impl FakeWeibo {
    pub async fn start() -> Self {
        let state = Arc::new(Mutex::new(FakeWeiboState::default()));
        let data = web::Data::new(state.clone());
        let (url, handle) = start_server(move |cfg| {
            cfg.app_data(data.clone())
                .route("/oauth2/access_token", web::post().to(wb_token))
                .route(
                    "/oauth2/access_token",
                    web::get().to(|| async {
                        wb_error(
                            405,
                            "HTTP method is not suported for this request",
                            10021,
                            "/oauth2/access_token",
                        )
                    }),
                )
                .route("/oauth2/get_token_info", web::post().to(wb_token_info))
                .route("/2/users/show.json", web::get().to(wb_users_show));
        });
        Self { url, state, handle }
    }

    pub fn app(&self) -> ProviderMode<WeiboApp> {
        ProviderMode::Real(Box::new(WeiboApp {
            client_id: WEIBO_CLIENT_ID.to_owned(),
            client_secret: Secret::new(WEIBO_CLIENT_SECRET),
            redirect_uri: Url::parse(WEIBO_REDIRECT_URI).unwrap(),
            api_url: Url::parse(&self.url).unwrap(),
        }))
    }

    pub fn set_token(&self, c: Option<Canned>) {
        self.state.lock().unwrap().token = c;
    }
    pub fn set_token_info(&self, c: Option<Canned>) {
        self.state.lock().unwrap().token_info = c;
    }
    pub fn set_users_show(&self, c: Option<Canned>) {
        self.state.lock().unwrap().users_show = c;
    }
    pub fn token_calls(&self) -> usize {
        self.state.lock().unwrap().token_calls
    }
}

impl Drop for FakeWeibo {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        tokio::spawn(async move { handle.stop(false).await });
    }
}

fn wb_json(status: u16, body: String) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
        .content_type("application/json;charset=UTF-8")
        .body(body)
}

fn wb_oauth_error(status: u16, error: &str, code: i64, description: &str) -> HttpResponse {
    wb_json(
        status,
        format!(
            r#"{{"error":"{error}","error_code":{code},"request":"/oauth2/access_token","error_uri":"/oauth2/access_token","error_description":"{description}"}}"#
        ),
    )
}

fn wb_error(status: u16, error: &str, code: i64, request: &str) -> HttpResponse {
    wb_json(
        status,
        format!(r#"{{"error":"{error}","error_code":{code},"request":"{request}"}}"#),
    )
}

/// Weibo reads the token request's fields from the form body and the query string.
fn fields(req: &HttpRequest, body: &[u8]) -> HashMap<String, String> {
    let mut all: HashMap<String, String> = url::form_urlencoded::parse(body).into_owned().collect();
    all.extend(url::form_urlencoded::parse(req.query_string().as_bytes()).into_owned());
    all
}

async fn wb_token(
    s: web::Data<Arc<Mutex<FakeWeiboState>>>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let f = fields(&req, &body);
    let mut st = s.lock().unwrap();
    st.token_calls += 1;
    st.last_token_form = f.clone();
    if let Some(c) = &st.token {
        return canned(c, "application/json;charset=UTF-8");
    }
    let get = |k: &str| f.get(k).map(String::as_str);
    let (Some(code), Some(_), Some(_), Some(_)) = (
        get("code"),
        get("client_id"),
        get("grant_type"),
        get("redirect_uri"),
    ) else {
        return wb_oauth_error(400, "invalid_request", 21323, "miss required parameter");
    };
    if get("client_id") != Some(WEIBO_CLIENT_ID)
        || get("client_secret") != Some(WEIBO_CLIENT_SECRET)
    {
        return wb_oauth_error(401, "invalid_client", 21324, "client_secret error.");
    }
    if get("grant_type") != Some("authorization_code") {
        return wb_oauth_error(
            400,
            "unsupported_grant_type",
            21328,
            "unsupported grant type",
        );
    }
    if get("redirect_uri") != Some(WEIBO_REDIRECT_URI) {
        return wb_oauth_error(400, "redirect_uri_mismatch", 21322, "redirect_uri mismatch");
    }
    let Some(uid) = id_of_code(code).map(str::to_owned) else {
        return wb_oauth_error(
            400,
            "invalid_grant",
            21325,
            &format!("invalid authorization code:{code}"),
        );
    };
    if !st.used.insert(code.to_owned()) {
        return wb_oauth_error(
            400,
            "invalid_grant",
            21325,
            &format!("invalid authorization code:{code}"),
        );
    }
    wb_json(
        200,
        format!(
            r#"{{"access_token":"tok-{uid}","remind_in":"157679999","expires_in":157679999,"uid":"{uid}","isRealName":"true"}}"#
        ),
    )
}

async fn wb_token_info(
    s: web::Data<Arc<Mutex<FakeWeiboState>>>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let f = fields(&req, &body);
    let st = s.lock().unwrap();
    if let Some(c) = &st.token_info {
        return canned(c, "application/json;charset=UTF-8");
    }
    let Some(uid) = f.get("access_token").and_then(|t| t.strip_prefix("tok-")) else {
        return wb_error(400, "invalid_access_token", 21332, "/oauth2/get_token_info");
    };
    wb_json(
        200,
        format!(
            r#"{{"uid":{uid},"appkey":{WEIBO_CLIENT_ID},"scope":null,"create_at":1352267591,"expire_in":157679471}}"#
        ),
    )
}

#[derive(Deserialize)]
struct ShowQ {
    access_token: Option<String>,
    uid: Option<String>,
}

async fn wb_users_show(
    s: web::Data<Arc<Mutex<FakeWeiboState>>>,
    q: web::Query<ShowQ>,
) -> HttpResponse {
    let st = s.lock().unwrap();
    if let Some(c) = &st.users_show {
        return canned(c, "application/json;charset=UTF-8");
    }
    let Some(uid) = q
        .access_token
        .as_deref()
        .and_then(|t| t.strip_prefix("tok-"))
    else {
        return wb_error(401, "invalid_access_token", 21332, "/2/users/show.json");
    };
    if q.uid.as_deref() != Some(uid) {
        return wb_error(400, "User does not exists!", 20003, "/2/users/show.json");
    }
    wb_json(
        200,
        format!(
            r#"{{"id":{uid},"idstr":"{uid}","screen_name":"\u5fae\u535a\u7528\u6237{uid}","name":"n{uid}","province":"11","city":"1","location":"\u5317\u4eac \u4e1c\u57ce\u533a","profile_image_url":"http://tp3.sinaimg.cn/{uid}/50/0/0","avatar_large":"http://tp3.sinaimg.cn/{uid}/180/0/0","gender":"f","verified":false,"verified_type":-1,"lang":"zh-cn"}}"#
        ),
    )
}

// ---------------------------------------------------------------- the app

/// Points `settings` at both fakes.
pub fn with_fakes(settings: &mut Settings, wechat: &FakeWechat, weibo: &FakeWeibo) {
    settings.wechat = wechat.app();
    settings.weibo = weibo.app();
}
