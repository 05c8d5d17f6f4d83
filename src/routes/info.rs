//! `/info/`: the user centre.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::{csrf_token, Nav};
use crate::auth::LoggedIn;
use crate::db;
use crate::domain::{mask_middle, Mobile};
use crate::error::{render, AppError};
use crate::session::TypedSession;
use crate::state::AppState;

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
}

/// A UTC timestamp as people in China read it.
pub fn beijing_time(at: chrono::NaiveDateTime) -> String {
    (at + chrono::Duration::hours(8))
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

pub async fn info_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
    LoggedIn(user): LoggedIn,
) -> Result<HttpResponse, AppError> {
    let uid = user.id;
    let binding = db::run(&state.db, move |c| {
        Ok(db::qq_bindings::find_by_user(c, uid)?)
    })
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
        },
    )
}
