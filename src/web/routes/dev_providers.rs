//! The built-in WeChat and Weibo simulators' HTTP faces, under `/dev/wechat/` and
//! `/dev/weibo/` (dev mode only). They answer as `providers.md` says each provider does:
//! WeChat's JSON with HTTP 200 and `text/plain` whatever happened, `/` escaped, errmsg
//! with a `rid`; Weibo's error envelopes with 400/401/403. The consent page can ask for
//! an error, so every error page of the callback can be seen by hand.

use std::collections::HashMap;

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::config::random_hex;
use crate::domain::Provider;
use crate::qq::simulator::{Redeem, Simulator};
use crate::web::error::AppError;
use crate::web::views::render;

/// The simulated WeChat website application.
#[derive(Clone)]
pub struct WechatSim(pub Simulator);

/// The simulated Weibo application.
#[derive(Clone)]
pub struct WeiboSim(pub Simulator);

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/dev/wechat")
            .route("/connect/qrconnect", web::get().to(wx_authorize))
            .route("/connect/confirm", web::get().to(wx_confirm))
            .route("/sns/oauth2/access_token", web::get().to(wx_token))
            .route("/sns/userinfo", web::get().to(wx_userinfo))
            .route("/avatar/{id}.svg", web::get().to(wx_avatar)),
    )
    .service(
        web::scope("/dev/weibo")
            .route("/oauth2/authorize", web::get().to(wb_authorize))
            .route("/oauth2/confirm", web::get().to(wb_confirm))
            .route("/oauth2/access_token", web::post().to(wb_token))
            .route("/oauth2/access_token", web::get().to(wb_token_get))
            .route("/oauth2/get_token_info", web::post().to(wb_token_info))
            .route("/2/users/show.json", web::get().to(wb_users_show))
            .route("/avatar/{id}.svg", web::get().to(wb_avatar)),
    );
}

/// The faults the consent page offers, by provider: (value, what it does).
const WX_FAULTS: &[(&str, &str)] = &[
    ("", "正常授权"),
    ("-1", "token接口：-1 system error"),
    ("40029", "token接口：40029 invalid code"),
    ("45011", "token接口：45011 频率限制"),
    ("nounionid", "不返回unionid"),
];
const WB_FAULTS: &[(&str, &str)] = &[
    ("", "正常授权"),
    ("21325", "token接口：21325 invalid_grant"),
    ("21321", "token接口：21321 未审核应用"),
    ("10023", "token接口：10023 频率限制"),
];

#[derive(Template)]
#[template(path = "dev/provider_authorize.html")]
struct ConsentPage {
    nav: super::Nav,
    provider: &'static str,
    /// What this provider calls a person's id (Weibo: `uid`).
    id_name: &'static str,
    action: &'static str,
    client_id: String,
    redirect_uri: String,
    state: String,
    presets: Vec<&'static str>,
    faults: &'static [(&'static str, &'static str)],
    /// The provider's own error page instead of the consent (a bad request).
    error: Option<String>,
}

#[derive(Deserialize)]
struct AuthorizeQuery {
    appid: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    response_type: Option<String>,
    scope: Option<String>,
    state: Option<String>,
    nickname: Option<String>,
    fault: Option<String>,
    cancel: Option<String>,
}

fn consent(
    sim: &Simulator,
    provider: Provider,
    action: &'static str,
    faults: &'static [(&'static str, &'static str)],
    q: &AuthorizeQuery,
    error: Option<String>,
) -> Result<HttpResponse, AppError> {
    render(
        StatusCode::OK,
        &ConsentPage {
            nav: super::Nav::default(),
            provider: provider.label(),
            id_name: provider.id_name(),
            action,
            client_id: sim.client_id.clone(),
            redirect_uri: sim.redirect_uri.clone(),
            state: q.state.clone().unwrap_or_default(),
            presets: vec!["小明", "小红", "Alice"],
            faults,
            error,
        },
    )
}

/// What WeChat's authorize page says of a bad request (its own page, no redirect).
fn wx_refusal(sim: &Simulator, q: &AuthorizeQuery) -> Option<String> {
    if q.appid.as_deref() != Some(sim.client_id.as_str()) {
        return Some("该链接无法访问（appid错误）".into());
    }
    if q.redirect_uri.as_deref() != Some(sim.redirect_uri.as_str()) {
        return Some("redirect_uri 参数错误".into());
    }
    if q.response_type.as_deref() != Some("code") || q.scope.as_deref() != Some("snsapi_login") {
        return Some("Scope 参数错误或没有 Scope 权限".into());
    }
    let state = q.state.as_deref().unwrap_or_default();
    if state.len() > 128 || !state.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Some("state参数过长".into());
    }
    None
}

async fn wx_authorize(
    sim: web::Data<WechatSim>,
    q: web::Query<AuthorizeQuery>,
) -> Result<HttpResponse, AppError> {
    let error = wx_refusal(&sim.0, &q);
    consent(
        &sim.0,
        Provider::Wechat,
        "/dev/wechat/connect/confirm",
        WX_FAULTS,
        &q,
        error,
    )
}

fn nickname(q: &AuthorizeQuery) -> Result<&str, AppError> {
    let nickname = q.nickname.as_deref().map(str::trim).unwrap_or_default();
    if nickname.is_empty() || nickname.chars().count() > 20 {
        return Err(AppError::BadRequest("请填写1-20个字的昵称".into()));
    }
    Ok(nickname)
}

fn found(url: &url::Url) -> HttpResponse {
    HttpResponse::Found()
        .insert_header((header::LOCATION, url.as_str()))
        .finish()
}

async fn wx_confirm(
    sim: web::Data<WechatSim>,
    q: web::Query<AuthorizeQuery>,
) -> Result<HttpResponse, AppError> {
    if let Some(e) = wx_refusal(&sim.0, &q) {
        return Err(AppError::BadRequest(e));
    }
    let mut back = url::Url::parse(&sim.0.redirect_uri)
        .map_err(|_| AppError::BadRequest("redirect_uri 参数错误".into()))?;
    let state = q.state.clone().unwrap_or_default();
    if q.cancel.is_some() {
        // WeChat's refusal: back with the state only, no code, no error.
        back.query_pairs_mut().append_pair("state", &state);
        return Ok(found(&back));
    }
    let fault = q.fault.as_deref().filter(|f| !f.is_empty());
    let code = sim
        .0
        .issue_code_with(nickname(&q)?, &sim.0.redirect_uri, fault);
    back.query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", &state);
    Ok(found(&back))
}

/// WeChat's answer: HTTP 200, `text/plain` without a charset, `/` escaped.
fn wx_body(value: serde_json::Value) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain")
        .body(value.to_string().replace('/', "\\/"))
}

fn wx_error(code: i64, msg: &str) -> HttpResponse {
    let rid = format!("{}-{}-{}", &random_hex(4), &random_hex(4), &random_hex(4));
    wx_body(serde_json::json!({ "errcode": code, "errmsg": format!("{msg}, rid: {rid}") }))
}

#[derive(Deserialize)]
struct WxTokenQuery {
    appid: Option<String>,
    secret: Option<String>,
    code: Option<String>,
    grant_type: Option<String>,
}

async fn wx_token(sim: web::Data<WechatSim>, q: web::Query<WxTokenQuery>) -> HttpResponse {
    let sim = &sim.0;
    let Some(appid) = q.appid.as_deref() else {
        return wx_error(41002, "appid missing");
    };
    if appid != sim.client_id {
        return wx_error(40013, "invalid appid");
    }
    let Some(secret) = q.secret.as_deref() else {
        return wx_error(41004, "appsecret missing");
    };
    if secret != sim.client_secret {
        return wx_error(40125, "invalid appsecret");
    }
    if q.grant_type.as_deref() != Some("authorization_code") {
        return wx_error(40002, "invalid grant_type");
    }
    let Some(code) = q.code.as_deref() else {
        return wx_error(41008, "missing code");
    };
    let token = match sim.redeem(code, None) {
        Ok(t) => t,
        Err(Redeem::Used) => return wx_error(40163, "code been used"),
        Err(Redeem::Unknown | Redeem::Redirect) => return wx_error(40029, "invalid code"),
        Err(Redeem::Fault(f)) if f == "nounionid" => return wx_token_body(sim, &f, None),
        Err(Redeem::Fault(f)) => {
            let code = f.parse().unwrap_or(-1);
            let msg = match code {
                45011 => "api minute-quota reach limit mustslower retry next minute",
                40029 => "invalid code",
                _ => "system error",
            };
            return wx_error(code, msg);
        }
    };
    let Some(nickname) = sim.nickname_of(&token) else {
        return wx_error(-1, "system error");
    };
    wx_token_body(sim, &nickname, Some(token))
}

/// A token answer for `nickname` (`token` None: the fault "no unionid", which still
/// needs a token of its own).
fn wx_token_body(sim: &Simulator, nickname: &str, token: Option<String>) -> HttpResponse {
    let (openid, unionid) = sim.wechat_ids(nickname);
    let mut body = serde_json::json!({
        "access_token": token.clone().unwrap_or_else(|| "NOUNIONID".into()),
        "expires_in": 7200,
        "refresh_token": random_hex(16),
        "openid": openid,
        "scope": "snsapi_login",
    });
    if token.is_some() {
        body["unionid"] = serde_json::Value::String(unionid);
    }
    wx_body(body)
}

#[derive(Deserialize)]
struct WxUserQuery {
    access_token: Option<String>,
    openid: Option<String>,
}

async fn wx_userinfo(
    sim: web::Data<WechatSim>,
    q: web::Query<WxUserQuery>,
    req: HttpRequest,
) -> HttpResponse {
    let sim = &sim.0;
    let Some(nickname) = q.access_token.as_deref().and_then(|t| sim.nickname_of(t)) else {
        return wx_error(
            40001,
            "invalid credential, access_token is invalid or not latest",
        );
    };
    let (openid, unionid) = sim.wechat_ids(&nickname);
    if q.openid.as_deref() != Some(openid.as_str()) {
        return wx_error(40003, "invalid openid");
    }
    let info = req.connection_info();
    let avatar = format!(
        "{}://{}/dev/wechat/avatar/{openid}.svg",
        info.scheme(),
        info.host()
    );
    wx_body(serde_json::json!({
        "openid": openid, "nickname": nickname, "sex": 0, "language": "",
        "city": "", "province": "", "country": "", "headimgurl": avatar,
        "privilege": [], "unionid": unionid,
    }))
}

async fn wx_avatar(path: web::Path<String>) -> HttpResponse {
    super::dev_qq::avatar_svg(&path.into_inner(), "微")
}

async fn wb_avatar(path: web::Path<String>) -> HttpResponse {
    super::dev_qq::avatar_svg(&path.into_inner(), "博")
}

/// What Weibo's authorize page says of a bad request (its own page, no redirect).
fn wb_refusal(sim: &Simulator, q: &AuthorizeQuery) -> Option<String> {
    if q.client_id.as_deref() != Some(sim.client_id.as_str()) {
        return Some("错误码：21323 请求不合法（client_id错误）".into());
    }
    if q.redirect_uri.as_deref() != Some(sim.redirect_uri.as_str()) {
        return Some("错误码：21322 重定向地址不匹配".into());
    }
    None
}

async fn wb_authorize(
    sim: web::Data<WeiboSim>,
    q: web::Query<AuthorizeQuery>,
) -> Result<HttpResponse, AppError> {
    let error = wb_refusal(&sim.0, &q);
    consent(
        &sim.0,
        Provider::Weibo,
        "/dev/weibo/oauth2/confirm",
        WB_FAULTS,
        &q,
        error,
    )
}

async fn wb_confirm(
    sim: web::Data<WeiboSim>,
    q: web::Query<AuthorizeQuery>,
) -> Result<HttpResponse, AppError> {
    if let Some(e) = wb_refusal(&sim.0, &q) {
        return Err(AppError::BadRequest(e));
    }
    let mut back = url::Url::parse(&sim.0.redirect_uri)
        .map_err(|_| AppError::BadRequest("错误码：21322 重定向地址不匹配".into()))?;
    let state = q.state.clone().unwrap_or_default();
    if q.cancel.is_some() {
        back.query_pairs_mut()
            .append_pair("error_uri", "/oauth2/authorize")
            .append_pair("error", "access_denied")
            .append_pair("error_description", "user denied your request.")
            .append_pair("error_code", "21330")
            .append_pair("state", &state);
        return Ok(found(&back));
    }
    let fault = q.fault.as_deref().filter(|f| !f.is_empty());
    let code = sim
        .0
        .issue_code_with(nickname(&q)?, &sim.0.redirect_uri, fault);
    back.query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", &state);
    Ok(found(&back))
}

fn wb_error(
    status: StatusCode,
    error: &str,
    code: i64,
    request: &str,
    description: Option<&str>,
) -> HttpResponse {
    let mut body = serde_json::json!({ "error": error, "error_code": code, "request": request });
    if let Some(d) = description {
        body["error_uri"] = serde_json::Value::String(request.to_owned());
        body["error_description"] = serde_json::Value::String(d.to_owned());
    }
    HttpResponse::build(status)
        .content_type("application/json;charset=UTF-8")
        .body(body.to_string())
}

/// Weibo reads its parameters from the form body and the query string alike.
fn params(req: &HttpRequest, body: &[u8]) -> HashMap<String, String> {
    let mut all: HashMap<String, String> =
        serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let form: HashMap<String, String> = serde_urlencoded::from_bytes(body).unwrap_or_default();
    all.extend(form);
    all
}

async fn wb_token_get() -> HttpResponse {
    wb_error(
        StatusCode::BAD_REQUEST,
        "HTTP method is not suported for this request",
        10021,
        "/oauth2/access_token",
        None,
    )
}

async fn wb_token(sim: web::Data<WeiboSim>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let sim = &sim.0;
    let p = params(&req, &body);
    let get = |k: &str| p.get(k).map(String::as_str);
    const AT: &str = "/oauth2/access_token";
    let (Some(client_id), Some(secret), Some(grant), Some(code), Some(redirect)) = (
        get("client_id"),
        get("client_secret"),
        get("grant_type"),
        get("code"),
        get("redirect_uri"),
    ) else {
        return wb_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            21323,
            AT,
            Some("miss required parameter"),
        );
    };
    if client_id != sim.client_id || secret != sim.client_secret {
        return wb_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            21324,
            AT,
            Some("client_secret error."),
        );
    }
    if grant != "authorization_code" {
        return wb_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            21328,
            AT,
            Some("unsupported grant_type"),
        );
    }
    let token = match sim.redeem(code, Some(redirect)) {
        Ok(t) => t,
        Err(Redeem::Redirect) => {
            return wb_error(
                StatusCode::BAD_REQUEST,
                "redirect_uri_mismatch",
                21322,
                AT,
                Some("redirect_uri_mismatch"),
            )
        }
        Err(Redeem::Fault(f)) if f == "21321" => {
            return wb_error(
                StatusCode::FORBIDDEN,
                "applications over the unaudited use restrictions!",
                21321,
                AT,
                None,
            )
        }
        Err(Redeem::Fault(f)) if f == "10023" => {
            return wb_error(
                StatusCode::FORBIDDEN,
                "User requests out of rate limit!",
                10023,
                AT,
                None,
            )
        }
        Err(_) => {
            let d = format!("invalid authorization code:{code}");
            return wb_error(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                21325,
                AT,
                Some(&d),
            );
        }
    };
    let Some(nickname) = sim.nickname_of(&token) else {
        return wb_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            21325,
            AT,
            Some("invalid authorization code"),
        );
    };
    HttpResponse::Ok()
        .content_type("application/json;charset=UTF-8")
        .body(
            serde_json::json!({
                "access_token": format!("2.00{token}"),
                "remind_in": "157679999",
                "expires_in": 157_679_999,
                "uid": sim.weibo_uid(&nickname),
                "isRealName": "true",
            })
            .to_string(),
        )
}

/// The simulator's token behind Weibo's `2.00…` access token.
fn wb_nickname(sim: &Simulator, token: Option<&str>) -> Option<String> {
    sim.nickname_of(token?.strip_prefix("2.00")?)
}

async fn wb_token_info(
    sim: web::Data<WeiboSim>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let sim = &sim.0;
    let p = params(&req, &body);
    let Some(nickname) = wb_nickname(sim, p.get("access_token").map(String::as_str)) else {
        return wb_error(
            StatusCode::BAD_REQUEST,
            "invalid_access_token",
            21332,
            "/oauth2/get_token_info",
            None,
        );
    };
    let uid: u64 = sim.weibo_uid(&nickname).parse().unwrap_or_default();
    let appkey: u64 = sim.client_id.parse().unwrap_or_default();
    HttpResponse::Ok()
        .content_type("application/json;charset=UTF-8")
        .body(
            serde_json::json!({
                "uid": uid, "appkey": appkey, "scope": null,
                "create_at": chrono::Utc::now().timestamp(), "expire_in": 157_679_471,
            })
            .to_string(),
        )
}

#[derive(Deserialize)]
struct ShowQuery {
    access_token: Option<String>,
    uid: Option<String>,
}

async fn wb_users_show(
    sim: web::Data<WeiboSim>,
    q: web::Query<ShowQuery>,
    req: HttpRequest,
) -> HttpResponse {
    let sim = &sim.0;
    const AT: &str = "/2/users/show.json";
    let Some(nickname) = wb_nickname(sim, q.access_token.as_deref()) else {
        return wb_error(
            StatusCode::UNAUTHORIZED,
            "invalid_access_token",
            21332,
            AT,
            None,
        );
    };
    let uid = sim.weibo_uid(&nickname);
    if q.uid.as_deref() != Some(uid.as_str()) {
        return wb_error(
            StatusCode::BAD_REQUEST,
            "User does not exists!",
            20003,
            AT,
            None,
        );
    }
    let info = req.connection_info();
    let avatar = format!(
        "{}://{}/dev/weibo/avatar/{uid}.svg",
        info.scheme(),
        info.host()
    );
    let id: u64 = uid.parse().unwrap_or_default();
    HttpResponse::Ok()
        .content_type("application/json;charset=UTF-8")
        .body(
            serde_json::json!({
                "id": id, "idstr": uid, "screen_name": nickname, "name": nickname,
                "province": "11", "city": "1", "location": "北京 东城区",
                "profile_image_url": avatar, "avatar_large": avatar,
                "gender": "n", "verified": false, "verified_type": -1, "lang": "zh-cn",
            })
            .to_string(),
        )
}
