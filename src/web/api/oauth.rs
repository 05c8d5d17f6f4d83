//! The QQ flow as JSON: the authorize URL, the callback's code exchange, and the binds.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::{jwt, ApiError};
use crate::bind::{self, BindInput, ExistingInput, Profile};
use crate::codes::keys;
use crate::db;
use crate::db::audit::{Channel, Origin};
use crate::domain::{NextPath, Provider};
use crate::limits::{self, Guard};
use crate::login::{self, qq::Outcome};
use crate::providers::Connector;
use crate::signer::{self};
use crate::state::AppState;
use crate::web::routes::qq::CallbackQuery;

/// API openid tokens are bound to this instead of a browser session.
pub const TOKEN_BINDING: &str = "api";

fn json(body: serde_json::Value) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body)
}

#[derive(Deserialize)]
pub struct AuthorizationQuery {
    next: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
}

/// `GET /api/oauth/qq/authorization/?next=&code_challenge=&code_challenge_method=S256`:
/// `{"auth_url"}` with a signed, expiring `state` that carries `next` and the client's
/// PKCE challenge (no cookie needed; only the client that made the challenge can redeem
/// the state).
pub async fn authorization(
    req: HttpRequest,
    state: web::Data<AppState>,
    q: web::Query<AuthorizationQuery>,
) -> Result<HttpResponse, ApiError> {
    authorization_for(&req, &state, &q, Provider::Qq).await
}

/// `GET /api/oauth/<provider>/authorization/`: the same, for any provider that is on.
pub async fn provider_authorization(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    q: web::Query<AuthorizationQuery>,
) -> Result<HttpResponse, ApiError> {
    let provider = named(&state, &path)?;
    authorization_for(&req, &state, &q, provider).await
}

/// The provider a `/api/oauth/<provider>/…` path names, when it is on (else 404).
fn named(state: &AppState, path: &str) -> Result<Provider, ApiError> {
    Provider::parse(path)
        .filter(|p| state.providers.get(*p).is_some())
        .ok_or_else(|| {
            ApiError::new(
                actix_web::http::StatusCode::NOT_FOUND,
                "4040",
                "没有这个登录方式".to_owned(),
            )
        })
}

fn connector(state: &AppState, provider: Provider) -> Result<&Connector, ApiError> {
    state.providers.get(provider).ok_or_else(|| {
        ApiError::new(
            actix_web::http::StatusCode::NOT_FOUND,
            "4040",
            "没有这个登录方式".to_owned(),
        )
    })
}

async fn authorization_for(
    req: &HttpRequest,
    state: &AppState,
    q: &AuthorizationQuery,
    provider: Provider,
) -> Result<HttpResponse, ApiError> {
    let connector = connector(state, provider)?;
    let challenge = q
        .code_challenge
        .as_deref()
        .map(str::trim)
        .unwrap_or_default();
    if challenge.is_empty() {
        return Err(ApiError::bad_request("4003", "缺少必传参数 code_challenge"));
    }
    if q.code_challenge_method.as_deref().map(str::trim) != Some("S256")
        || !signer::is_code_challenge(challenge)
    {
        return Err(ApiError::bad_request(
            "4006",
            "code_challenge须为S256（base64url编码的SHA-256，43个字符），code_challenge_method=S256",
        ));
    }
    let bucket = crate::web::routes::client(state, req).bucket();
    limits::count(
        &state.codes,
        state.settings.rate_limits,
        &limits::QQ_LOGINS_PER_IP,
        &bucket,
    )
    .await?;
    let next = NextPath::sanitise(q.next.as_deref());
    let (mut token, api_state) =
        login::qq::issue_api_state(&state.signer, challenge, &next, state.clock.now(), provider);
    if provider == Provider::Wechat {
        let reference = crate::config::random_hex(16);
        state
            .codes
            .set_ex(
                &keys::api_state_ref(&reference),
                &token,
                login::qq::STATE_TTL,
            )
            .await
            .map_err(|e| ApiError::from(crate::web::error::AppError::from(e)))?;
        token = reference;
    }
    Ok(json(serde_json::json!({
        "auth_url": connector.authorize_url(&token, false),
        "next": api_state.next,
    })))
}

/// `GET /api/oauth/qq/user/?code=&state=&code_verifier=`: a bound QQ gets a JWT; a new
/// one gets the signed openid token to bind with.
pub async fn qq_user(
    req: HttpRequest,
    state: web::Data<AppState>,
    q: web::Query<CallbackQuery>,
) -> Result<HttpResponse, ApiError> {
    user_for(&req, &state, &q, Provider::Qq).await
}

/// `GET /api/oauth/<provider>/user/`: the same, for any provider that is on.
pub async fn provider_user(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    q: web::Query<CallbackQuery>,
) -> Result<HttpResponse, ApiError> {
    let provider = named(&state, &path)?;
    user_for(&req, &state, &q, provider).await
}

async fn user_for(
    req: &HttpRequest,
    state: &AppState,
    q: &CallbackQuery,
    provider: Provider,
) -> Result<HttpResponse, ApiError> {
    let connector = connector(state, provider)?;
    let referenced;
    let q_state = match provider {
        // WeChat carried a reference to the signed state (taken: it works once).
        Provider::Wechat => {
            let r = q.state.as_deref().map(str::trim).unwrap_or_default();
            referenced = match r.is_empty() || r.len() > 64 {
                true => None,
                false => state
                    .codes
                    .take(&keys::api_state_ref(r))
                    .await
                    .map_err(|e| ApiError::from(crate::web::error::AppError::from(e)))?,
            };
            Some(referenced.as_deref().unwrap_or("invalid"))
        }
        _ => q.state.as_deref(),
    };
    let code = q.code.as_deref().map(str::trim).unwrap_or_default();
    let raw_state = q_state.map(str::trim).unwrap_or_default();
    if code.is_empty() || raw_state.is_empty() {
        return Err(ApiError::bad_request("4003", "缺少必传参数"));
    }
    let verifier = q
        .code_verifier
        .as_deref()
        .map(str::trim)
        .unwrap_or_default();
    let api_state = login::qq::redeem_api_state(
        &state.signer,
        &state.codes,
        raw_state,
        verifier,
        state.clock.now(),
        provider,
    )
    .await?;
    match login::qq::complete(connector, &state.db, code).await? {
        Outcome::Bound(user) => {
            crate::web::auth::record_login(state, req, &user).await?;
            Ok(json(serde_json::json!({
                "token": jwt::issue(state, &user)?,
                "user_id": user.id,
                "username": user.username,
                "next": api_state.next,
            })))
        }
        Outcome::NotBound(unbound) => {
            let expires_at = state.clock.now() + state.settings.openid_token_ttl.as_secs() as i64;
            Ok(json(serde_json::json!({
                "access_token": state.signer.sign_identity(&unbound.id, expires_at, TOKEN_BINDING),
                "next": api_state.next,
            })))
        }
        Outcome::SamePerson { unbound, owner } => {
            let expires_at = state.clock.now() + state.settings.openid_token_ttl.as_secs() as i64;
            Ok(json(serde_json::json!({
                "access_token": state.signer.sign_identity(&unbound.id, expires_at, TOKEN_BINDING),
                "same_person": bind::masked_owner(&owner),
                "next": api_state.next,
            })))
        }
    }
}

/// `POST /api/oauth/<provider>/same_person/`: the person confirmed the account their
/// unionid leads to; a JWT for it.
pub async fn same_person(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Json<LinkBody>,
) -> Result<HttpResponse, ApiError> {
    let provider = named(&state, &path)?;
    let token = body.access_token.as_deref().unwrap_or_default().trim();
    if token.is_empty() {
        return Err(ApiError::bad_request("4003", "缺少必传参数"));
    }
    let invalid = || ApiError::bad_request("4013", "无效的openid");
    let id = state
        .signer
        .verify_identity(token, TOKEN_BINDING, state.clock.now())
        .map_err(|_| invalid())?;
    if id.provider != provider {
        return Err(invalid());
    }
    let (_, origin) = guard(&state, &req);
    let user = match login::qq::confirm_same_person(&state.db, &id, &origin).await {
        Ok(user) => user,
        Err(login::qq::SamePersonError::Stale) => return Err(invalid()),
        Err(e @ login::qq::SamePersonError::Disabled) => {
            return Err(ApiError::new(
                actix_web::http::StatusCode::FORBIDDEN,
                "4017",
                e.to_string(),
            ))
        }
        Err(login::qq::SamePersonError::Unavailable(e)) => return Err(e.into()),
    };
    crate::web::auth::record_login(&state, &req, &user).await?;
    Ok(json(serde_json::json!({
        "token": jwt::issue(&state, &user)?,
        "user_id": user.id,
        "username": user.username,
    })))
}

/// `POST /api/oauth/qq/user/`: the bind form's fields (and Renran's optional nickname).
#[derive(Deserialize)]
pub struct BindNewBody {
    mobile: Option<String>,
    password: Option<String>,
    sms_code: Option<String>,
    access_token: Option<String>,
    nickname: Option<String>,
    image_code: Option<String>,
    image_code_id: Option<String>,
}

/// Binds to the account of `mobile`, creating it when new: the rows of spec section 4,
/// in their order. 201 with a JWT.
pub async fn bind_new(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<BindNewBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let input = BindInput {
        mobile: body.mobile.unwrap_or_default(),
        password: body.password.unwrap_or_default(),
        sms_code: body.sms_code.unwrap_or_default(),
        access_token: body.access_token.unwrap_or_default(),
        image_code: body.image_code.unwrap_or_default(),
        image_code_id: body.image_code_id.unwrap_or_default(),
    };
    let profile = Profile {
        nickname: crate::domain::clean_nickname(body.nickname.as_deref().unwrap_or_default()),
        avatar_url: String::new(),
    };
    let (mut guard, origin) = guard(&state, &req);
    let bound = bind::bind(
        &state.deps(),
        &mut guard,
        &origin,
        &input,
        TOKEN_BINDING,
        &profile,
    )
    .await?;
    tracing::info!(
        user_id = bound.user.id,
        created = bound.created,
        "QQ bound (API)"
    );
    accept_documents(&state, &req, bound.user.id).await?;
    created(&state, &req, &bound.user).await
}

/// `PUT /api/oauth/qq/user/`: Renran's "bind an existing account", with what the form
/// asks of it too: the account's password and an SMS code sent to its mobile.
#[derive(Deserialize)]
pub struct BindExistingBody {
    username: Option<String>,
    password: Option<String>,
    sms_code: Option<String>,
    access_token: Option<String>,
    image_code: Option<String>,
    image_code_id: Option<String>,
}

pub async fn bind_existing(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<BindExistingBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let input = ExistingInput {
        login: body.username.unwrap_or_default(),
        password: body.password.unwrap_or_default(),
        sms_code: body.sms_code.unwrap_or_default(),
        access_token: body.access_token.unwrap_or_default(),
        image_code: body.image_code.unwrap_or_default(),
        image_code_id: body.image_code_id.unwrap_or_default(),
    };
    let (mut guard, origin) = guard(&state, &req);
    let bound =
        bind::bind_existing(&state.deps(), &mut guard, &origin, &input, TOKEN_BINDING).await?;
    tracing::info!(
        user_id = bound.user.id,
        "QQ bound to an existing account (API)"
    );
    accept_documents(&state, &req, bound.user.id).await?;
    created(&state, &req, &bound.user).await
}

/// `POST /api/oauth/qq/link/` with a JWT: binds the openid of `access_token` (from
/// `GET /api/oauth/qq/user/`) to the JWT's account, as the user centre's confirmation
/// does.
#[derive(Deserialize)]
pub struct LinkBody {
    access_token: Option<String>,
}

pub async fn link(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<LinkBody>,
) -> Result<HttpResponse, ApiError> {
    let user = super::user::jwt_user(&state, &req).await?;
    let token = body.access_token.as_deref().unwrap_or_default();
    if token.trim().is_empty() {
        return Err(ApiError::bad_request("4003", "缺少必传参数"));
    }
    let (_, origin) = guard(&state, &req);
    let bound = bind::link(
        &state.deps(),
        &user,
        token,
        TOKEN_BINDING,
        &Profile::default(),
        &origin,
    )
    .await?;
    tracing::info!(
        user_id = bound.user.id,
        "QQ bound to the logged-in account (API)"
    );
    Ok(json(serde_json::json!({
        "code": "0",
        "errmsg": "OK",
        "id": bound.user.id,
        "username": bound.user.username,
        "qq_bound": true,
    })))
}

/// The abuse limits of this client's bind, and where the audit log says it came from.
fn guard(state: &AppState, req: &HttpRequest) -> (Guard, Origin) {
    let client = crate::web::routes::client(state, req);
    (
        Guard::new(&state.codes, state.settings.rate_limits, client),
        crate::web::routes::origin(state, req, Channel::Api),
    )
}

/// A bind through the API accepts the documents in force (the front-end shows them
/// beside its button, as the form does).
async fn accept_documents(
    state: &AppState,
    req: &HttpRequest,
    user_id: i32,
) -> Result<(), ApiError> {
    let origin = crate::web::routes::origin(state, req, Channel::Api);
    crate::self_service::accept_documents(
        &state.db,
        user_id,
        state.consent_versions(),
        "api",
        &origin,
    )
    .await
    .map_err(|e| ApiError::from(crate::web::error::AppError::from(e)))
}

async fn created(
    state: &AppState,
    req: &HttpRequest,
    user: &db::users::User,
) -> Result<HttpResponse, ApiError> {
    crate::web::auth::record_login(state, req, user).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(serde_json::json!({
            "token": jwt::issue(state, user)?,
            "id": user.id,
            "username": user.username,
        })))
}
