//! The QQ flow as JSON: the authorize URL, the callback's code exchange, and the binds.

use std::time::Duration;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::{jwt, ApiError};
use crate::auth::DISABLED_MESSAGE;
use crate::bind::{self, BindInput, ExistingInput, QqProfileHint};
use crate::codes::keys;
use crate::config::random_hex;
use crate::db;
use crate::domain::NextPath;
use crate::limits::{self, Attempt};
use crate::signer::ApiState;
use crate::state::{unix_now, AppState};

/// API openid tokens are bound to this instead of a browser session.
pub const TOKEN_BINDING: &str = "api";
/// How long a `state` may take to come back (QQ's code lives 10 minutes).
const STATE_TTL: Duration = Duration::from_secs(600);

fn json(body: serde_json::Value) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body)
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// `GET /api/oauth/qq/authorization/?next=`: `{"auth_url"}` with a signed, expiring
/// `state` that carries `next` (no cookie needed).
pub async fn authorization(
    state: web::Data<AppState>,
    q: web::Query<NextQuery>,
) -> Result<HttpResponse, ApiError> {
    let api_state = ApiState {
        nonce: random_hex(16),
        next: NextPath::sanitise(q.next.as_deref()).as_str().to_owned(),
    };
    let token = state
        .signer
        .sign_state(&api_state, unix_now() + STATE_TTL.as_secs() as i64);
    Ok(json(serde_json::json!({
        "auth_url": state.qq.authorize_url(&token),
        "next": api_state.next,
    })))
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
}

/// `GET /api/oauth/qq/user/?code=&state=`: a bound QQ gets a JWT; a new one gets the
/// signed openid token to bind with.
pub async fn qq_user(
    state: web::Data<AppState>,
    q: web::Query<CallbackQuery>,
) -> Result<HttpResponse, ApiError> {
    let code = q.code.as_deref().map(str::trim).unwrap_or_default();
    let raw_state = q.state.as_deref().map(str::trim).unwrap_or_default();
    if code.is_empty() || raw_state.is_empty() {
        return Err(ApiError::bad_request("4003", "缺少必传参数"));
    }
    let refused = || ApiError::bad_request("4005", "state无效或已过期，请重新发起QQ登录");
    let api_state = state
        .signer
        .verify_state(raw_state, unix_now())
        .map_err(|_| refused())?;
    // Single use: the first to come back with this state counts it.
    let uses = state
        .codes
        .incr(&keys::api_state(&api_state.nonce), STATE_TTL)
        .await
        .map_err(crate::error::AppError::from)?;
    if uses != 1 {
        return Err(refused());
    }

    let token = state
        .qq
        .exchange_code(code)
        .await
        .map_err(crate::error::AppError::from)?;
    let openid = state
        .qq
        .openid(&token)
        .await
        .map_err(crate::error::AppError::from)?;
    let oid = openid.as_str().to_owned();
    let bound_user = state
        .reader
        .read(move |c| db::qq_bindings::user_of(c, &oid))
        .await?;
    match bound_user {
        Some(user) if !user.is_active => Err(ApiError::new(
            actix_web::http::StatusCode::FORBIDDEN,
            "4017",
            DISABLED_MESSAGE,
        )),
        Some(user) => {
            tracing::info!(user_id = user.id, openid = %openid.masked(), "QQ login (API)");
            crate::auth::record_login(&state, &user).await?;
            Ok(json(serde_json::json!({
                "token": jwt::issue(&state, &user)?,
                "user_id": user.id,
                "username": user.username,
                "next": api_state.next,
            })))
        }
        None => {
            let expires_at = unix_now() + state.settings.openid_token_ttl.as_secs() as i64;
            Ok(json(serde_json::json!({
                "access_token": state.signer.sign_openid(&openid, expires_at, TOKEN_BINDING),
                "next": api_state.next,
            })))
        }
    }
}

/// `POST /api/oauth/qq/user/`: the bind form's fields (and Renran's optional nickname).
#[derive(Deserialize)]
pub struct BindNewBody {
    mobile: Option<String>,
    password: Option<String>,
    sms_code: Option<String>,
    access_token: Option<String>,
    nickname: Option<String>,
}

/// Binds to the account of `mobile`, creating it when new: the rows of spec section 4,
/// in their order. 201 with a JWT.
pub async fn bind_new(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<BindNewBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let mobile = body.mobile.as_deref().unwrap_or_default().trim().to_owned();
    let attempt = guard(&state, &req, format!("mobile:{mobile}")).await?;
    let input = BindInput {
        mobile: body.mobile.unwrap_or_default(),
        password: body.password.unwrap_or_default(),
        sms_code: body.sms_code.unwrap_or_default(),
        access_token: body.access_token.unwrap_or_default(),
    };
    let profile = QqProfileHint {
        nickname: body
            .nickname
            .unwrap_or_default()
            .trim()
            .chars()
            .filter(|c| !c.is_control())
            .take(32)
            .collect(),
        avatar_url: String::new(),
    };
    let bound = counted(
        &attempt,
        bind::bind(&state, &input, TOKEN_BINDING, &profile).await,
    )
    .await?;
    tracing::info!(
        user_id = bound.user.id,
        created = bound.created,
        "QQ bound (API)"
    );
    created(&state, &bound.user).await
}

/// `PUT /api/oauth/qq/user/`: Renran's "bind an existing account".
#[derive(Deserialize)]
pub struct BindExistingBody {
    username: Option<String>,
    password: Option<String>,
    access_token: Option<String>,
}

pub async fn bind_existing(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<BindExistingBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let login = body
        .username
        .as_deref()
        .unwrap_or_default()
        .trim()
        .to_owned();
    let attempt = guard(&state, &req, format!("login:{login}")).await?;
    let input = ExistingInput {
        login: body.username.unwrap_or_default(),
        password: body.password.unwrap_or_default(),
        access_token: body.access_token.unwrap_or_default(),
    };
    let bound = counted(
        &attempt,
        bind::bind_existing(&state, &input, TOKEN_BINDING).await,
    )
    .await?;
    tracing::info!(
        user_id = bound.user.id,
        "QQ bound to an existing account (API)"
    );
    created(&state, &bound.user).await
}

/// The abuse limits of a bind: refused while the client IP or the account is over them.
async fn guard<'a>(
    state: &'a AppState,
    req: &HttpRequest,
    account: String,
) -> Result<Attempt<'a>, ApiError> {
    let attempt = Attempt::new(state, req, limits::FORM_FAILS_PER_IP)
        .account(account, limits::BIND_FAILS_PER_ACCOUNT);
    attempt.check().await?;
    Ok(attempt)
}

/// Counts a refused bind against the limits; clears the account's count on success.
async fn counted(
    attempt: &Attempt<'_>,
    result: Result<bind::Bound, bind::BindError>,
) -> Result<bind::Bound, ApiError> {
    match result {
        Ok(bound) => {
            attempt.succeeded().await;
            Ok(bound)
        }
        Err(bind::BindError::App(e)) => Err(e.into()),
        Err(e) => {
            attempt.failed().await;
            Err(e.into())
        }
    }
}

async fn created(state: &AppState, user: &db::users::User) -> Result<HttpResponse, ApiError> {
    crate::auth::record_login(state, user).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(serde_json::json!({
            "token": jwt::issue(state, user)?,
            "id": user.id,
            "username": user.username,
        })))
}
