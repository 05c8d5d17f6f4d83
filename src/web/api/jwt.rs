//! The API's login token: a JWT (HS256) with `user_id`, `username`, `exp` and the
//! account's `epoch`, under a key derived from `SECRET_KEY` for this purpose only.

use actix_web::http::{header, StatusCode};
use actix_web::HttpRequest;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::ApiError;
use crate::db::users::User;
use crate::state::{unix_now, AppState};

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub user_id: i32,
    pub username: String,
    pub exp: i64,
    /// The account's `session_epoch` when the token was made: a token of an older epoch
    /// (before a disable, a password change, a logout everywhere) is refused.
    pub epoch: i32,
}

/// A token for `user`, valid for `JWT_TTL`.
pub fn issue(state: &AppState, user: &User) -> Result<String, ApiError> {
    let claims = Claims {
        user_id: user.id,
        username: user.username.clone(),
        exp: unix_now() + state.settings.jwt_ttl.as_secs() as i64,
        epoch: user.session_epoch,
    };
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(state.signer.jwt_key()),
    )
    .map_err(|e| crate::web::error::AppError::internal(e).into())
}

fn unauthorized(errmsg: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "4101", errmsg)
}

/// The claims of `Authorization: JWT <token>` (DRF's prefix, seed 002) or `Bearer <token>`:
/// signed by us with HS256, unexpired.
pub fn from_request(state: &AppState, req: &HttpRequest) -> Result<Claims, ApiError> {
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| unauthorized("未登录：缺少 Authorization: JWT <token>"))?;
    let token = value
        .strip_prefix("JWT ")
        .or_else(|| value.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| unauthorized("Authorization 须为 JWT <token> 或 Bearer <token>"))?;
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = 0;
    validation.set_required_spec_claims(&["exp"]);
    jsonwebtoken::decode::<Claims>(
        token,
        &DecodingKey::from_secret(state.signer.jwt_key()),
        &validation,
    )
    .map(|data| data.claims)
    .map_err(|e| match e.kind() {
        jsonwebtoken::errors::ErrorKind::ExpiredSignature => unauthorized("登录已过期，请重新登录"),
        _ => unauthorized("无效的登录凭证"),
    })
}
