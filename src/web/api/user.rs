//! `GET /api/user/`: who the JWT says is logged in.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};

use super::{jwt, ApiError};
use crate::db;
use crate::state::AppState;

pub async fn me(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let claims = jwt::from_request(&state, &req)?;
    let uid = claims.user_id;
    let found = state
        .db
        .read(move |c| {
            let Some(user) = db::users::find_by_id(c, uid)? else {
                return Ok(None);
            };
            let binding = db::qq_bindings::find_by_user(c, uid)?;
            Ok(Some((user, binding)))
        })
        .await?;
    // A disabled account is told so; an enabled one with a token from before (a disable,
    // a password change, a logout everywhere) is not logged in.
    let Some((user, binding)) = found else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "4101",
            "无效的登录凭证",
        ));
    };
    // A disabled account is told so; an enabled one with a token from before (a disable,
    // a password change, a logout everywhere) is not logged in.
    crate::login::refuse_disabled(&user)?;
    if user.session_epoch != claims.epoch {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "4101",
            "无效的登录凭证",
        ));
    }
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(serde_json::json!({
            "id": user.id,
            "username": user.username,
            "mobile": user.mobile,
            "nickname": user.nickname,
            "avatar_url": user.avatar_url,
            "qq_bound": binding.is_some(),
        })))
}
