//! `/info/`: the user centre.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::{check_csrf, csrf_token};
use crate::accounts;
use crate::db;
use crate::db::audit::{Channel, Origin};
use crate::domain::{mask_middle, Mobile};
use crate::state::AppState;
use crate::web::auth::LoggedIn;
use crate::web::error::AppError;
use crate::web::session::TypedSession;
use crate::web::views::render;
use crate::web::views::{beijing_time, confirmed, ConfirmPage, Nav};

pub struct BindingView {
    pub masked_openid: String,
    pub since: String,
}

#[derive(Template)]
#[template(path = "info.html")]
struct InfoPage {
    nav: Nav,
    csrf_token: String,
    username: String,
    mobile: String,
    nickname: String,
    avatar_url: String,
    binding: Option<BindingView>,
    flash: Option<String>,
    is_staff: bool,
}

pub async fn info_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
    LoggedIn(user): LoggedIn,
) -> Result<HttpResponse, AppError> {
    let uid = user.id;
    let binding = state
        .db
        .read(move |c| Ok(db::qq_bindings::find_by_user(c, uid)?))
        .await?;
    render(
        StatusCode::OK,
        &InfoPage {
            nav: Nav::from_request(&req),
            csrf_token: csrf_token(&state, &session)?,
            mobile: Mobile::parse(&user.mobile)
                .map(|m| m.masked())
                .unwrap_or_else(|| mask_middle(&user.mobile)),
            username: user.username,
            nickname: user.nickname,
            avatar_url: user.avatar_url,
            binding: binding.map(|b| BindingView {
                masked_openid: mask_middle(&b.openid),
                since: beijing_time(b.created_at),
            }),
            flash: session.take_flash()?,
            is_staff: user.is_staff,
        },
    )
}

#[derive(Deserialize)]
pub struct ChangeForm {
    csrf_token: Option<String>,
    confirm: Option<String>,
}

/// `POST /info/qq/unbind/`: asks once more, then removes this account's QQ binding.
/// The next QQ login with that openid shows the bind form again.
pub async fn unbind(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
    LoggedIn(user): LoggedIn,
    form: web::Form<ChangeForm>,
) -> Result<HttpResponse, AppError> {
    check_csrf(&state, &session, form.csrf_token.as_deref())?;
    if !confirmed(form.confirm.as_deref()) {
        return ConfirmPage {
            nav: Nav::from_request(&req),
            csrf_token: csrf_token(&state, &session)?,
            title: "解除QQ绑定",
            question: "解除后将不能再用这个QQ直接登录本账号，确定要解除绑定吗？".to_owned(),
            action: "/info/qq/unbind/".to_owned(),
            button: "确定解除",
            cancel: "/info/".to_owned(),
        }
        .respond();
    }
    let origin = Origin::new(super::client(&state, &req).address(), Channel::Form);
    let removed = accounts::unbind_qq(&state.db, &user, user.id, &origin).await?;
    if let Some(b) = &removed {
        tracing::info!(user_id = user.id, openid = %mask_middle(&b.openid), "QQ unbound by its owner");
    }
    session.set_flash(if removed.is_some() {
        "已解除QQ绑定"
    } else {
        "该账号尚未绑定QQ"
    })?;
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/info/"))
        .finish())
}
