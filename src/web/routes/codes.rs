//! `/image_codes/<uuid>/`, `/sms_codes/<mobile>/`, and the dev SMS outbox.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::Nav;
use crate::codes::service::{self, SendSmsError};
use crate::codes::sms::OutboxEntry;
use crate::codes::{keys, Purpose};
use crate::domain::Mobile;
use crate::limits;
use crate::state::AppState;
use crate::web::error::{ApiError, AppError};
use crate::web::views::typed_back;
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
    /// Absent: a bind or register code; `reset`: a password-recovery code.
    purpose: Option<String>,
}

/// Sends the SMS code of `purpose`: a recovery code only to a mobile with an account,
/// answered the same either way.
async fn send_for(
    state: &AppState,
    ip: &str,
    fields: [&str; 3],
    purpose: Purpose,
) -> Result<(), SendSmsError> {
    let [mobile, image_code, image_code_id] = fields;
    let limits_on = state.settings.rate_limits;
    match purpose {
        Purpose::Bind => {
            service::send_sms_code(
                &state.codes,
                &state.sms,
                limits_on,
                ip,
                mobile,
                image_code,
                image_code_id,
            )
            .await
        }
        Purpose::Reset => {
            crate::recovery::send_reset_code(
                &state.deps(),
                &state.sms,
                limits_on,
                ip,
                mobile,
                image_code,
                image_code_id,
            )
            .await
        }
    }
}

/// `GET /sms_codes/<mobile>/` from a page: also remembers the mobile in the session, so
/// that a reloaded bind form shows it with the SMS button's wait.
pub async fn sms_code(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: crate::web::session::TypedSession,
    path: web::Path<String>,
    q: web::Query<SmsQuery>,
) -> Result<HttpResponse, ApiError> {
    let purpose = send_sms_json(&req, &state, &path, &q).await?;
    if purpose == Purpose::Bind {
        if let Some(m) = Mobile::parse(path.trim()) {
            session.set_sms_mobile(m.as_str())?;
        }
    }
    Ok(sms_sent())
}

/// `GET /api/sms_codes/<mobile>/`: the same, without a session.
pub async fn api_sms_code(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    q: web::Query<SmsQuery>,
) -> Result<HttpResponse, ApiError> {
    send_sms_json(&req, &state, &path, &q).await?;
    Ok(sms_sent())
}

async fn send_sms_json(
    req: &HttpRequest,
    state: &AppState,
    mobile: &str,
    q: &SmsQuery,
) -> Result<Purpose, ApiError> {
    let purpose = Purpose::parse(q.purpose.as_deref())
        .ok_or_else(|| ApiError::bad_request("4003", "无效的purpose"))?;
    let fields = [
        mobile,
        q.image_code.as_deref().unwrap_or_default(),
        q.image_code_id.as_deref().unwrap_or_default(),
    ];
    send_for(state, &super::client(state, req).bucket(), fields, purpose).await?;
    Ok(purpose)
}

fn sms_sent() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(serde_json::json!({ "code": "0", "errmsg": "发送短信成功" }))
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
    send_sms_for_form_as(state, ip, fields, Purpose::Bind, page).await
}

/// [`send_sms_for_form`] for the code of `purpose`.
pub async fn send_sms_for_form_as(
    state: &AppState,
    ip: &str,
    fields: [&str; 3],
    purpose: Purpose,
    page: &mut impl SmsSlots,
) -> Result<StatusCode, AppError> {
    match send_for(state, ip, fields, purpose).await {
        Ok(()) => {
            *page.sms_notice() = Some(service::SMS_SENT_NOTICE.to_owned());
            Ok(StatusCode::OK)
        }
        Err(SendSmsError::Unavailable(e)) => Err(e.into()),
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

/// What a refused form shows back of the captcha and the SMS field.
pub struct KeptWork {
    /// The captcha's id and what was typed, while that captcha is unused.
    pub captcha: Option<(String, String)>,
    pub sms_code: String,
    /// Seconds until the SMS button may send again (the store's send flag).
    pub sms_wait: u64,
}

/// The fields a form's kept work is read from: mobile, image code, its id, SMS code.
pub trait WorkFields {
    fn work(&self) -> [&str; 4];
}

/// The shopper's work on the captcha and SMS fields, as the store says it stands: the
/// captcha while it is unused, the SMS code unless it was the one refused, the wait.
pub async fn kept_work(
    state: &AppState,
    form: &impl WorkFields,
    sms_refused: bool,
    purpose: Purpose,
) -> KeptWork {
    let [mobile, image_code, image_code_id, sms_code] = form.work();
    let captcha = match uuid::Uuid::parse_str(image_code_id.trim()) {
        Ok(id) => {
            let id = id.to_string();
            match state.codes.get(&keys::image(&id)).await {
                Ok(Some(_)) => Some((id, typed_back(image_code, 4))),
                _ => None,
            }
        }
        Err(_) => None,
    };
    let sms_wait = match Mobile::parse(mobile.trim()) {
        Some(m) => service::resend_wait(&state.codes, purpose, &m).await,
        None => 0,
    };
    KeptWork {
        captcha,
        sms_code: if sms_refused {
            String::new()
        } else {
            typed_back(sms_code, 6)
        },
        sms_wait,
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
