//! `/image_codes/<uuid>/`, `/sms_codes/<mobile>/`, and the dev SMS outbox.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::Nav;
use crate::codes::service::{self, SendSmsError};
use crate::codes::sms::OutboxEntry;
use crate::limits;
use crate::state::AppState;
use crate::web::error::{ApiError, AppError};
use crate::web::views::{render, with_retry_after};

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
    let png = service::new_image_code(&state.codes, &path)
        .await
        .map_err(|e| match e {
            service::ImageCodeError::BadId => AppError::BadRequest(e.to_string()),
            service::ImageCodeError::Drawing => AppError::internal(e),
            service::ImageCodeError::Unavailable(cause) => AppError::unavailable(cause),
        })?;
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
) -> Result<HttpResponse, ApiError> {
    service::send_sms_code(
        &state.codes,
        &state.sms,
        state.settings.rate_limits,
        &super::client(&state, &req).bucket(),
        &path,
        q.image_code.as_deref().unwrap_or_default(),
        q.image_code_id.as_deref().unwrap_or_default(),
    )
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(serde_json::json!({ "code": "0", "errmsg": "发送短信成功" })))
}

/// Where a form shows the outcome of its "获取短信验证码" button (without JavaScript).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmsFormField {
    Form,
    Mobile,
    ImageCode,
    SmsCode,
}

/// A page with the "获取短信验证码" button: where each outcome of it shows.
pub trait SmsSlots {
    /// The message slot of `field`.
    fn slot(&mut self, field: SmsFormField) -> &mut Option<String>;
    /// Where "sent" shows.
    fn sms_notice(&mut self) -> &mut Option<String>;
}

/// The no-JavaScript "获取短信验证码": sends the code and puts the outcome in its slot
/// of `page`; returns the status to answer with.
pub async fn send_sms_for_form(
    state: &AppState,
    ip: &str,
    fields: [&str; 3],
    page: &mut impl SmsSlots,
) -> Result<StatusCode, AppError> {
    let [mobile, image_code, image_code_id] = fields;
    match service::send_sms_code(
        &state.codes,
        &state.sms,
        state.settings.rate_limits,
        ip,
        mobile,
        image_code,
        image_code_id,
    )
    .await
    {
        Ok(()) => {
            *page.sms_notice() = Some(service::SMS_SENT_NOTICE.to_owned());
            Ok(StatusCode::OK)
        }
        Err(SendSmsError::Unavailable(e)) => Err(AppError::unavailable(e)),
        Err(e) => {
            let field = match e {
                SendSmsError::ImageExpired | SendSmsError::ImageWrong => SmsFormField::ImageCode,
                SendSmsError::Missing => SmsFormField::Form,
                SendSmsError::BadMobile => SmsFormField::Mobile,
                _ => SmsFormField::SmsCode,
            };
            *page.slot(field) = Some(e.to_string());
            Ok(ApiError::from(e).status)
        }
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
