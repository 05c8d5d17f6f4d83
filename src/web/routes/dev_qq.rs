//! The built-in QQ simulator's HTTP face, under `/dev/qq/` (dev mode only).
//!
//! It answers exactly as QQ does (`qq-connect.md`): the token in the query-string format
//! (JSON with `fmt=json`), `/me` as JSONP, errors as JSONP with HTTP 200, user info as JSON
//! served as text/html.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::config::random_hex;
use crate::qq::simulator::Simulator;
use crate::web::error::AppError;
use crate::web::views::render;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/dev/qq")
            .route("/oauth2.0/authorize", web::get().to(authorize))
            .route("/oauth2.0/consent", web::get().to(consent))
            .route("/oauth2.0/token", web::get().to(token))
            .route("/oauth2.0/me", web::get().to(me))
            .route("/user/get_user_info", web::get().to(user_info))
            .route("/avatar/{openid}.svg", web::get().to(avatar)),
    );
}

#[derive(Deserialize)]
struct AuthorizeQuery {
    client_id: Option<String>,
    redirect_uri: Option<String>,
    state: Option<String>,
}

#[derive(Template)]
#[template(path = "dev/qq_authorize.html")]
struct AuthorizePage {
    nav: super::Nav,
    client_id: String,
    redirect_uri: String,
    state: String,
    presets: Vec<&'static str>,
}

fn check_app(
    sim: &Simulator,
    client_id: Option<&str>,
    redirect_uri: Option<&str>,
) -> Result<(), AppError> {
    if client_id != Some(sim.client_id.as_str()) {
        return Err(AppError::BadRequest(
            "100008: client id is illegal (QQ模拟器)".into(),
        ));
    }
    if redirect_uri != Some(sim.redirect_uri.as_str()) {
        return Err(AppError::BadRequest(
            "100010: redirect uri is illegal (QQ模拟器)".into(),
        ));
    }
    Ok(())
}

async fn authorize(
    sim: web::Data<Simulator>,
    q: web::Query<AuthorizeQuery>,
) -> Result<HttpResponse, AppError> {
    check_app(&sim, q.client_id.as_deref(), q.redirect_uri.as_deref())?;
    render(
        actix_web::http::StatusCode::OK,
        &AuthorizePage {
            nav: super::Nav::default(),
            client_id: sim.client_id.clone(),
            redirect_uri: sim.redirect_uri.clone(),
            state: q.state.clone().unwrap_or_default(),
            presets: vec!["小明", "小红", "Alice"],
        },
    )
}

#[derive(Deserialize)]
struct ConsentQuery {
    client_id: Option<String>,
    redirect_uri: Option<String>,
    state: Option<String>,
    nickname: Option<String>,
    cancel: Option<String>,
}

async fn consent(
    sim: web::Data<Simulator>,
    q: web::Query<ConsentQuery>,
) -> Result<HttpResponse, AppError> {
    check_app(&sim, q.client_id.as_deref(), q.redirect_uri.as_deref())?;
    let state = q.state.clone().unwrap_or_default();
    let mut back = url::Url::parse(&sim.redirect_uri)
        .map_err(|_| AppError::BadRequest("100010: redirect uri is illegal".into()))?;
    if q.cancel.is_some() {
        back.query_pairs_mut()
            .append_pair("usercancel", "1")
            .append_pair("state", &state);
    } else {
        let nickname = q.nickname.as_deref().map(str::trim).unwrap_or_default();
        if nickname.is_empty() || nickname.chars().count() > 20 {
            return Err(AppError::BadRequest("请填写1-20个字的QQ昵称".into()));
        }
        let code = sim.issue_code(nickname, &sim.redirect_uri);
        back.query_pairs_mut()
            .append_pair("code", &code)
            .append_pair("state", &state);
    }
    Ok(HttpResponse::Found()
        .insert_header((header::LOCATION, back.as_str()))
        .finish())
}

#[derive(Deserialize)]
struct TokenQuery {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    fmt: Option<String>,
}

/// QQ serves these bodies as text/html whatever they hold.
fn qq_body(body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(body)
}

fn qq_error(code: i64, description: &str, json: bool) -> HttpResponse {
    let obj = serde_json::json!({ "error": code, "error_description": description });
    if json {
        qq_body(obj.to_string())
    } else {
        qq_body(format!("callback( {obj} );\n"))
    }
}

async fn token(sim: web::Data<Simulator>, q: web::Query<TokenQuery>) -> HttpResponse {
    let json = q.fmt.as_deref() == Some("json");
    if q.grant_type.as_deref() != Some("authorization_code") {
        return qq_error(100005, "param grant_type is wrong", json);
    }
    if q.client_id.as_deref() != Some(sim.client_id.as_str())
        || q.client_secret.as_deref() != Some(sim.client_secret.as_str())
    {
        return qq_error(100021, "get access token failed", json);
    }
    let Some(code) = q.code.as_deref() else {
        return qq_error(100019, "code to access token error", json);
    };
    match sim.redeem_code(code, q.redirect_uri.as_deref().unwrap_or_default()) {
        Err((c, d)) => qq_error(c, d, json),
        Ok(token) => {
            let refresh = random_hex(16).to_uppercase();
            if json {
                qq_body(
                    serde_json::json!({
                        "access_token": token,
                        "expires_in": "7776000",
                        "refresh_token": refresh,
                    })
                    .to_string(),
                )
            } else {
                qq_body(format!(
                    "access_token={token}&expires_in=7776000&refresh_token={refresh}"
                ))
            }
        }
    }
}

#[derive(Deserialize)]
struct MeQuery {
    access_token: Option<String>,
    fmt: Option<String>,
}

async fn me(sim: web::Data<Simulator>, q: web::Query<MeQuery>) -> HttpResponse {
    let json = q.fmt.as_deref() == Some("json");
    let Some(nickname) = q.access_token.as_deref().and_then(|t| sim.nickname_of(t)) else {
        return qq_error(100016, "access token check failed", json);
    };
    let obj =
        serde_json::json!({ "client_id": sim.client_id, "openid": sim.openid_for(&nickname) });
    if json {
        qq_body(obj.to_string())
    } else {
        qq_body(format!("callback( {obj} );\n"))
    }
}

#[derive(Deserialize)]
struct UserInfoQuery {
    access_token: Option<String>,
    oauth_consumer_key: Option<String>,
    openid: Option<String>,
}

async fn user_info(
    sim: web::Data<Simulator>,
    q: web::Query<UserInfoQuery>,
    req: actix_web::HttpRequest,
) -> HttpResponse {
    let Some(nickname) = q.access_token.as_deref().and_then(|t| sim.nickname_of(t)) else {
        return qq_body(r#"{"ret":-23,"msg":"token is invalid"}"#.to_owned());
    };
    let openid = sim.openid_for(&nickname);
    if q.openid.as_deref() != Some(openid.as_str())
        || q.oauth_consumer_key.as_deref() != Some(sim.client_id.as_str())
    {
        return qq_body(r#"{"ret":-22,"msg":"openid is invalid"}"#.to_owned());
    }
    let info = req.connection_info();
    let avatar = format!(
        "{}://{}/dev/qq/avatar/{openid}.svg",
        info.scheme(),
        info.host()
    );
    qq_body(
        serde_json::json!({
            "ret": 0, "msg": "", "is_lost": 0,
            "nickname": nickname, "gender": "男", "gender_type": 1,
            "province": "广东", "city": "深圳", "year": "1990",
            "figureurl": avatar, "figureurl_1": avatar, "figureurl_2": avatar,
            "figureurl_qq_1": avatar, "figureurl_qq_2": avatar, "figureurl_qq": avatar,
            "is_yellow_vip": "0", "vip": "0", "yellow_vip_level": "0", "level": "0",
            "is_yellow_year_vip": "0",
        })
        .to_string(),
    )
}

/// A plain coloured square with a QQ-penguin-ish initial, so the bind form has a picture.
async fn avatar(path: web::Path<String>) -> HttpResponse {
    avatar_svg(&path.into_inner(), "Q")
}

/// A coloured disc with `letter`, its hue from `id`: the simulators' avatars.
pub fn avatar_svg(id: &str, letter: &str) -> HttpResponse {
    let hue = id.bytes().fold(0u32, |h, b| (h * 31 + u32::from(b)) % 360);
    let letter = askama::filters::escape(letter, askama::filters::Html)
        .map(|e| e.to_string())
        .unwrap_or_default();
    let svg = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100" viewBox="0 0 100 100"><rect width="100" height="100" rx="50" fill="hsl({hue},60%,55%)"/><text x="50" y="64" font-size="42" text-anchor="middle" fill="#fff" font-family="sans-serif">{letter}</text></svg>"##
    );
    HttpResponse::Ok()
        .content_type("image/svg+xml")
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .body(svg)
}
