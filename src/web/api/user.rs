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
    let user = found.filter(|u| !u.is_closed()).ok_or_else(invalid)?;
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

#[derive(serde::Deserialize)]
pub struct DeleteBody {
    password: Option<String>,
    sms_code: Option<String>,
}

/// `POST /api/user/delete/`: closes the JWT's account, proved by `password` or by an
/// SMS code sent with `purpose=delete`; the JWT (and every other) stops working.
pub async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<DeleteBody>,
) -> Result<HttpResponse, ApiError> {
    use crate::self_service::{CloseError, Closed};
    let user = jwt_user(&state, &req).await?;
    let client = crate::web::routes::client(&state, &req);
    let mut guard = crate::limits::Guard::new(&state.codes, state.settings.rate_limits, client);
    let origin = crate::web::routes::origin(&state, &req, crate::db::audit::Channel::Api);
    let proof =
        crate::web::routes::account::proof(body.password.as_deref(), body.sms_code.as_deref());
    let grace = state.settings.account_delete_grace_days;
    match crate::self_service::close_account(
        &state.deps(),
        &mut guard,
        &user,
        &proof,
        grace,
        &origin,
    )
    .await
    {
        Ok(closed) => {
            let _ = crate::sessions::end_all_but(&state.codes, user.id, None).await;
            let erase_at = match closed {
                Closed::Erased => None,
                Closed::Scheduled { erase_at } => Some(erase_at),
            };
            Ok(HttpResponse::Ok()
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .json(serde_json::json!({
                    "code": "0",
                    "errmsg": "OK",
                    "erased": erase_at.is_none(),
                    "erase_at": erase_at,
                })))
        }
        Err(CloseError::Unavailable(e)) => Err(crate::web::error::AppError::from(e).into()),
        Err(CloseError::Limited(l)) => Err(crate::web::error::AppError::Limited(l).into()),
        Err(e @ CloseError::Missing) => Err(ApiError::bad_request("4003", e.to_string())),
        Err(e @ CloseError::Disabled) => {
            Err(ApiError::new(StatusCode::FORBIDDEN, "4017", e.to_string()))
        }
        Err(e @ CloseError::Captcha(_)) => Err(ApiError::bad_request("4001", e.to_string())),
        Err(e @ (CloseError::WrongPassword | CloseError::WrongCode(_))) => {
            Err(ApiError::bad_request("4014", e.to_string()))
        }
    }
}
