//! `/image_codes/<uuid>/`, `/sms_codes/<mobile>/`, and the dev SMS outbox.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::Nav;
use crate::codes::service::{self, SendSmsError};
use crate::codes::{keys, Purpose};
use crate::domain::Mobile;
use crate::limits;
use crate::state::AppState;
use crate::web::error::{ApiError, AppError};
use crate::web::metrics::{noted, Event};
use crate::web::session::TypedSession;
use crate::web::views::{beijing_time, typed_back};
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
    let request = service::SmsRequest {
        mobile,
        image_code,
        image_code_id,
        purpose,
    };
    let recipient = match purpose {
        Purpose::Bind => service::anyone(),
        Purpose::Reset | Purpose::Delete => crate::recovery::recipient(&state.db),
    };
    let limits_on = state.settings.rate_limits;
    service::send_code(&state.codes, &state.sms, limits_on, ip, request, recipient).await
}

/// `GET /sms_codes/<mobile>/` from a page: also remembers the mobile in the session, so
/// that a reloaded bind form shows it with the SMS button's wait.
pub async fn sms_code(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
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

/// The no-JavaScript "获取短信验证码": sends the code of `purpose` and puts the outcome
/// in its slot of `page`; returns the status to answer with.
pub async fn send_sms_for_form(
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

/// The captcha and SMS fields of a form with the SMS button, and the button pressed.
#[derive(Deserialize, Default, Clone)]
pub struct CodeFields {
    pub mobile: Option<String>,
    pub image_code: Option<String>,
    pub image_code_id: Option<String>,
    pub sms_code: Option<String>,
    /// `send_sms`: the SMS button without the script; `captcha`: 换一张; else a submit.
    pub action: Option<String>,
}

impl CodeFields {
    pub fn mobile(&self) -> &str {
        self.mobile.as_deref().unwrap_or_default()
    }

    pub fn sms_code(&self) -> &str {
        self.sms_code.as_deref().unwrap_or_default()
    }

    pub fn image_code(&self) -> &str {
        self.image_code.as_deref().unwrap_or_default()
    }

    pub fn image_code_id(&self) -> &str {
        self.image_code_id.as_deref().unwrap_or_default()
    }
}

/// What a form shows of the captcha and the SMS field.
pub struct Work {
    pub image_code_id: String,
    /// What was typed, shown back while that captcha is unused.
    pub image_code: String,
    /// What was typed, shown back unless it was the code refused.
    pub sms_code: String,
    /// Seconds until the SMS button may send again (the store's send flag).
    pub sms_wait: u64,
}

impl Work {
    /// A new captcha, nothing typed.
    pub fn fresh() -> Self {
        Self {
            image_code_id: uuid::Uuid::new_v4().to_string(),
            image_code: String::new(),
            sms_code: String::new(),
            sms_wait: 0,
        }
    }

    /// Keeps the shopper's work as the store says it stands: the captcha while it is
    /// unused, the SMS code unless it was the one refused, the SMS button's wait.
    pub async fn keep(
        &mut self,
        state: &AppState,
        fields: &CodeFields,
        sms_refused: bool,
        purpose: Purpose,
    ) {
        if let Ok(id) = uuid::Uuid::parse_str(fields.image_code_id().trim()) {
            let id = id.to_string();
            if let Ok(Some(_)) = state.codes.get(&keys::image(&id)).await {
                self.image_code = typed_back(fields.image_code(), 4);
                self.image_code_id = id;
            }
        }
        self.sms_wait = self.wait_for(state, fields.mobile(), purpose).await;
        self.sms_code = if sms_refused {
            String::new()
        } else {
            typed_back(fields.sms_code(), 6)
        };
    }

    /// The SMS button's wait for `mobile` (0 when it is no mobile).
    pub async fn wait_for(&self, state: &AppState, mobile: &str, purpose: Purpose) -> u64 {
        match Mobile::parse(mobile.trim()) {
            Some(m) => service::resend_wait(&state.codes, purpose, &m).await,
            None => 0,
        }
    }
}

/// A page with the captcha and the SMS button.
pub trait CodePage: SmsSlots {
    fn work(&mut self) -> &mut Work;
    /// Whether the SMS code is the field refused (then it is not shown back).
    fn sms_refused(&self) -> bool;
}

/// Keeps the shopper's work on `page` (see [`Work::keep`]).
pub async fn keep_work(
    state: &AppState,
    page: &mut impl CodePage,
    fields: &CodeFields,
    purpose: Purpose,
) {
    let refused = page.sms_refused();
    page.work().keep(state, fields, refused, purpose).await;
}

/// How the SMS button or 换一张 was answered: the status to show the page with.
pub struct Answered {
    status: StatusCode,
    /// The SMS request's outcome, for the metrics.
    sms: Option<&'static str>,
}

impl Answered {
    /// The page, with what the metrics count of it.
    pub fn render(self, page: &impl Template) -> Result<HttpResponse, AppError> {
        let resp = render(self.status, page)?;
        Ok(match self.sms {
            Some(outcome) => noted(resp, Event::Sms(outcome)),
            None => resp,
        })
    }
}

/// The SMS button and 换一张 without the script: how to answer, when the form's action
/// was one of them (`None`: a submit, for the handler).
pub async fn code_action(
    state: &AppState,
    req: &HttpRequest,
    session: &TypedSession,
    fields: &CodeFields,
    purpose: Purpose,
    page: &mut impl CodePage,
) -> Result<Option<Answered>, AppError> {
    let answered = match fields.action.as_deref() {
        Some("send_sms") => {
            let bucket = super::client(state, req).bucket();
            let sent = [fields.mobile(), fields.image_code(), fields.image_code_id()];
            let status = send_sms_for_form(state, &bucket, sent, purpose, page).await?;
            if let (StatusCode::OK, Purpose::Bind, Some(m)) =
                (status, purpose, Mobile::parse(fields.mobile().trim()))
            {
                session.set_sms_mobile(m.as_str())?;
            }
            keep_work(state, page, fields, purpose).await;
            let outcome = match status.as_u16() {
                200 => "sent",
                500.. => "failed",
                _ => "refused",
            };
            Answered {
                status,
                sms: Some(outcome),
            }
        }
        Some("captcha") => {
            keep_work(state, page, fields, purpose).await;
            let work = page.work();
            work.image_code_id = uuid::Uuid::new_v4().to_string();
            work.image_code.clear();
            Answered {
                status: StatusCode::OK,
                sms: None,
            }
        }
        _ => return Ok(None),
    };
    Ok(Some(answered))
}

#[derive(Template)]
#[template(path = "dev/sms.html")]
struct OutboxPage {
    nav: Nav,
    /// Each message: when (Beijing time, as every page says it), to whom, the code.
    entries: Vec<(String, String, String)>,
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
            entries: entries
                .into_iter()
                .map(|e| (beijing_time(e.sent_at.naive_utc()), e.mobile, e.code))
                .collect(),
        },
    )
}
