//! The home page, static files (embedded, so the binary runs from any directory), 404.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::Nav;
use crate::state::AppState;
use crate::web::auth::current_user;
use crate::web::error::AppError;
use crate::web::session::TypedSession;
use crate::web::views::render;

#[derive(Template)]
#[template(path = "index.html")]
struct IndexPage {
    nav: Nav,
    username: Option<String>,
}

pub async fn index(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
) -> Result<HttpResponse, AppError> {
    let user = current_user(&state, &session, crate::web::auth::Check::ReadOnly).await?;
    render(
        StatusCode::OK,
        &IndexPage {
            nav: Nav::from_request(&req),
            username: user.map(|u| u.username),
        },
    )
}

const STATIC_FILES: &[(&str, &str, &str)] = &[
    (
        "css/site.css",
        "text/css; charset=utf-8",
        include_str!("../../../static/css/site.css"),
    ),
    (
        "js/forms.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../static/js/forms.js"),
    ),
    (
        "img/qq.svg",
        "image/svg+xml",
        include_str!("../../../static/img/qq.svg"),
    ),
    ("img/favicon.svg", "image/svg+xml", FAVICON),
];

const FAVICON: &str = include_str!("../../../static/img/favicon.svg");

pub async fn static_file(path: web::Path<String>) -> Result<HttpResponse, AppError> {
    let (_, mime, body) = STATIC_FILES
        .iter()
        .find(|(p, _, _)| *p == path.as_str())
        .ok_or(AppError::NotFound)?;
    Ok(HttpResponse::Ok()
        .content_type(*mime)
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(*body))
}

/// Browsers ask for `/favicon.ico` whatever the page says.
pub async fn favicon() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("image/svg+xml")
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .body(FAVICON)
}

pub async fn not_found() -> Result<HttpResponse, AppError> {
    Err(AppError::NotFound)
}
