//! `GET /api/user/`: who the JWT says is logged in.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};

use super::{jwt, ApiError};
use crate::db;
use crate::state::AppState;

/// The account the request's JWT names: refused when the token is bad, the account is
/// gone or disabled, or the token is from before its `session_epoch` (a disable, a
/// password reset, a logout everywhere).
pub async fn jwt_user(state: &AppState, req: &HttpRequest) -> Result<db::users::User, ApiError> {
    let claims = jwt::from_request(state, req)?;
    let uid = claims.user_id;
    let found = state
        .db
        .read(move |c| Ok(db::users::find_by_id(c, uid)?))
        .await?;
    let invalid = || ApiError::new(StatusCode::UNAUTHORIZED, "4101", "无效的登录凭证");
    let user = found.ok_or_else(invalid)?;
    crate::login::refuse_disabled(&user)?;
    if user.session_epoch != claims.epoch {
        return Err(invalid());
    }
    Ok(user)
}

pub async fn me(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let user = jwt_user(&state, &req).await?;
    let uid = user.id;
    let identities = state
        .db
        .read(move |c| Ok(db::identities::all_of_user(c, uid)?))
        .await?;
    let bound = |p: crate::domain::Provider| identities.iter().any(|i| i.provider == p.as_str());
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(serde_json::json!({
            "id": user.id,
            "username": user.username,
            "mobile": user.mobile,
            "nickname": user.nickname,
            "avatar_url": user.avatar_url,
            "qq_bound": bound(crate::domain::Provider::Qq),
            "wechat_bound": bound(crate::domain::Provider::Wechat),
            "weibo_bound": bound(crate::domain::Provider::Weibo),
        })))
}
