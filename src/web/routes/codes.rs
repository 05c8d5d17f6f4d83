//! `/image_codes/<uuid>/`, `/sms_codes/<mobile>/`, and the dev SMS outbox.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::Nav;
use crate::codes::service::{self, SendSmsError};
use crate::codes::sms::OutboxEntry;
use crate::web::error::{render, with_retry_after, AppError};
use crate::limits;
use crate::state::AppState;

pub async fn image_code(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let bucket = super::client(&state, &req).bucket();
    let enabled = state.settings.rate_limits;
    if let Err(limited) =
        limits::count(&state.codes, enabled, &limits::CAPTCHA_PER_IP, &bucket).await
    {
        let resp = HttpResponse::TooManyRequests()
            .content_type("text/plain; charset=utf-8")
            .body(limited.to_string());
        return Ok(with_retry_after(resp, &limited));
    }
    let png = service::new_image_code(&state, &path).await?;
    Ok(HttpResponse::Ok()
        .content_type("image/png")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(png))
}

#[derive(Deserialize)]
pub struct SmsQuery {
    image_code: Option<String>,
    image_code_id: Option<String>,
}

pub async fn sms_code(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    q: web::Query<SmsQuery>,
) -> HttpResponse {
    let result = service::send_sms_code(
        &state,
        &super::client(&state, &req).bucket(),
        &path,
        q.image_code.as_deref().unwrap_or_default(),
        q.image_code_id.as_deref().unwrap_or_default(),
    )
    .await;
    let (status, code, errmsg) = match &result {
        Ok(()) => (200, "0", "发送短信成功".to_owned()),
        Err(e) => {
            if let SendSmsError::Unavailable(cause) = e {
                tracing::error!(%cause, "code store unavailable");
            }
            let (status, code) = e.status_and_code();
            (status, code, e.to_string())
        }
    };
    let resp = HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(serde_json::json!({ "code": code, "errmsg": errmsg }));
    match &result {
        Err(SendSmsError::Limited(limited)) => with_retry_after(resp, limited),
        _ => resp,
    }
}

#[derive(Template)]
#[template(path = "dev/sms.html")]
struct OutboxPage {
    nav: Nav,
    entries: Vec<OutboxEntry>,
}

/// The messages the `log` SMS provider "sent" (dev only).
pub async fn dev_outbox(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let entries = state
        .sms
        .outbox()
        .map(|o| o.entries())
        .ok_or(AppError::NotFound)?;
    render(
        StatusCode::OK,
        &OutboxPage {
            nav: Nav::from_request(&req),
            entries,
        },
    )
}
