//! `/password/reset/` (找回密码): a code sent to the account's mobile, then a new
//! password. The JSON twin is `POST /api/password/reset/`.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::codes::{kept_work, send_sms_for_form_as, SmsFormField, SmsSlots, WorkFields};
use super::{check_csrf, csrf_token, Nav};
use crate::codes::Purpose;
use crate::db::audit::{Channel, Origin};
use crate::limits::Guard;
use crate::recovery::{self, ResetError, ResetInput, ResetSlot};
use crate::state::AppState;
use crate::web::session::TypedSession;
use crate::web::views::{render, typed_back, with_retry_after};

/// The recovery form's messages, by field.
#[derive(Debug, Default)]
pub struct ResetErrors {
    pub form: Option<String>,
    pub mobile: Option<String>,
    pub image_code: Option<String>,
    pub sms_code: Option<String>,
    pub password: Option<String>,
    pub password2: Option<String>,
}

#[derive(Template)]
#[template(path = "password_reset.html")]
struct ResetPage {
    nav: Nav,
    csrf_token: String,
    mobile: String,
    image_code_id: String,
    image_code: String,
    sms_code: String,
    sms_wait: u64,
    sms_notice: Option<String>,
    errors: ResetErrors,
}

impl SmsSlots for ResetPage {
    fn slot(&mut self, field: SmsFormField) -> &mut Option<String> {
        match field {
            SmsFormField::ImageCode => &mut self.errors.image_code,
            SmsFormField::Mobile => &mut self.errors.mobile,
            SmsFormField::Form => &mut self.errors.form,
            SmsFormField::SmsCode => &mut self.errors.sms_code,
        }
    }

    fn sms_notice(&mut self) -> &mut Option<String> {
        &mut self.sms_notice
    }
}

impl ResetPage {
    fn new(
        req: &HttpRequest,
        state: &AppState,
        session: &TypedSession,
        mobile: &str,
    ) -> Result<Self, AppError> {
        Ok(Self {
            nav: Nav::from_request(req),
            csrf_token: csrf_token(state, session)?,
            mobile: typed_back(mobile, 11),
            image_code_id: uuid::Uuid::new_v4().to_string(),
            image_code: String::new(),
            sms_code: String::new(),
            sms_wait: 0,
            sms_notice: None,
            errors: ResetErrors::default(),
        })
    }

    async fn keep_work(&mut self, state: &AppState, form: &ResetForm) {
        let refused = self.errors.sms_code.is_some();
        let kept = kept_work(state, form, refused, Purpose::Reset).await;
        self.sms_wait = kept.sms_wait;
        self.sms_code = kept.sms_code;
        if let Some((id, typed)) = kept.captcha {
            self.image_code_id = id;
            self.image_code = typed;
        }
    }
}

use crate::web::error::{ApiError, AppError};

#[derive(Deserialize)]
pub struct MobileQuery {
    mobile: Option<String>,
}

/// `GET /password/reset/?mobile=`: the form, with the mobile filled in when given.
pub async fn reset_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
    q: web::Query<MobileQuery>,
) -> Result<HttpResponse, AppError> {
    let mobile = q.mobile.as_deref().unwrap_or_default();
    let mut page = ResetPage::new(&req, &state, &session, mobile)?;
    if let Some(m) = crate::domain::Mobile::parse(mobile.trim()) {
        page.sms_wait = crate::codes::service::resend_wait(&state.codes, Purpose::Reset, &m).await;
    }
    render(StatusCode::OK, &page)
}

#[derive(Deserialize, Default)]
pub struct ResetForm {
    mobile: Option<String>,
    sms_code: Option<String>,
    password: Option<String>,
    password2: Option<String>,
    csrf_token: Option<String>,
    image_code: Option<String>,
    image_code_id: Option<String>,
    /// `send_sms`: the SMS button without the script; `captcha`: 换一张.
    action: Option<String>,
}

impl WorkFields for ResetForm {
    fn work(&self) -> [&str; 4] {
        [
            &self.mobile,
            &self.image_code,
            &self.image_code_id,
            &self.sms_code,
        ]
        .map(|f| f.as_deref().unwrap_or_default())
    }
}

impl ResetForm {
    fn input(&self) -> ResetInput {
        let get = |f: &Option<String>| f.clone().unwrap_or_default();
        ResetInput {
            mobile: get(&self.mobile),
            sms_code: get(&self.sms_code),
            password: get(&self.password),
            password2: get(&self.password2),
        }
    }
}

/// `POST /password/reset/`: sets the new password, ends every session of the account,
/// and sends the customer to the login page with a notice.
pub async fn reset_submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
    form: web::Form<ResetForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    check_csrf(&state, &session, form.csrf_token.as_deref())?;
    let mobile = form.mobile.as_deref().unwrap_or_default();
    let mut page = ResetPage::new(&req, &state, &session, mobile)?;
    match form.action.as_deref() {
        Some("send_sms") => {
            let fields = [&form.mobile, &form.image_code, &form.image_code_id]
                .map(|f| f.as_deref().unwrap_or_default());
            let bucket = super::client(&state, &req).bucket();
            let status =
                send_sms_for_form_as(&state, &bucket, fields, Purpose::Reset, &mut page).await?;
            page.keep_work(&state, &form).await;
            return render(status, &page);
        }
        Some("captcha") => {
            page.keep_work(&state, &form).await;
            page.image_code_id = uuid::Uuid::new_v4().to_string();
            page.image_code.clear();
            return render(StatusCode::OK, &page);
        }
        _ => {}
    }
    let client = super::client(&state, &req);
    let mut guard = Guard::new(&state.codes, state.settings.rate_limits, client);
    let origin = Origin::new(client.address(), Channel::Form);
    match recovery::reset_password(&state.deps(), &mut guard, &origin, &form.input()).await {
        Ok(_) => {
            session.set_flash("密码已重置，请用新密码登录")?;
            Ok(HttpResponse::Found()
                .insert_header((header::LOCATION, "/login/"))
                .finish())
        }
        Err(ResetError::Unavailable(e)) => Err(e.into()),
        Err(e) => {
            let status = match &e {
                ResetError::Limited(_) => StatusCode::TOO_MANY_REQUESTS,
                ResetError::Disabled => StatusCode::FORBIDDEN,
                _ => StatusCode::BAD_REQUEST,
            };
            let message = Some(e.to_string());
            match e.slot() {
                ResetSlot::Form => page.errors.form = message,
                ResetSlot::Mobile => page.errors.mobile = message,
                ResetSlot::SmsCode => page.errors.sms_code = message,
                ResetSlot::Password => page.errors.password = message,
                ResetSlot::Password2 => page.errors.password2 = message,
            }
            page.keep_work(&state, &form).await;
            let resp = render(status, &page)?;
            Ok(match &e {
                ResetError::Limited(l) => with_retry_after(resp, l),
                _ => resp,
            })
        }
    }
}

/// `POST /api/password/reset/` (JSON, the form's fields): 200 `{"code":"0","errmsg":"OK"}`
/// or the refusal's status with `{"code","errmsg"}`.
pub async fn reset_api(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<ResetForm>,
) -> Result<HttpResponse, ApiError> {
    let client = super::client(&state, &req);
    let mut guard = Guard::new(&state.codes, state.settings.rate_limits, client);
    let origin = Origin::new(client.address(), Channel::Api);
    recovery::reset_password(&state.deps(), &mut guard, &origin, &body.input()).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(serde_json::json!({ "code": "0", "errmsg": "OK" })))
}
