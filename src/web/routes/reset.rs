//! `/password/reset/` (找回密码): a code sent to the account's mobile, then a new
//! password. The JSON twin is `POST /api/password/reset/`.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::codes::{code_action, keep_work, CodeFields, CodePage, SmsFormField, SmsSlots, Work};
use super::{check_csrf, csrf_token, Nav};
use crate::codes::Purpose;
use crate::db::audit::{Channel, Origin};
use crate::domain::NextPath;
use crate::limits::Guard;
use crate::recovery::{self, ResetError, ResetInput, ResetSlot};
use crate::state::AppState;
use crate::web::error::{ApiError, AppError};
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
    /// Where the login after the reset goes on to (`/`: nowhere in particular).
    next: String,
    /// The captcha and the SMS field, as the customer left them.
    work: Work,
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
        next: &NextPath,
    ) -> Result<Self, AppError> {
        Ok(Self {
            nav: Nav::from_request(req),
            csrf_token: csrf_token(state, session)?,
            mobile: typed_back(mobile, 11),
            next: next.as_str().to_owned(),
            work: Work::fresh(),
            sms_notice: None,
            errors: ResetErrors::default(),
        })
    }

    /// The login page, going on to `next` after.
    fn login_href(&self) -> String {
        login_href(&self.next)
    }
}

/// `/login/`, with `?next=` unless it is `/`.
fn login_href(next: &str) -> String {
    if next == "/" {
        "/login/".to_owned()
    } else {
        let next: String = url::form_urlencoded::byte_serialize(next.as_bytes()).collect();
        format!("/login/?next={next}")
    }
}

impl CodePage for ResetPage {
    fn work(&mut self) -> &mut Work {
        &mut self.work
    }

    fn sms_refused(&self) -> bool {
        self.errors.sms_code.is_some()
    }
}

#[derive(Deserialize)]
pub struct MobileQuery {
    mobile: Option<String>,
    next: Option<String>,
}

/// `GET /password/reset/?mobile=&next=`: the form, with the mobile filled in when given;
/// the login after the reset goes on to `next`.
pub async fn reset_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
    q: web::Query<MobileQuery>,
) -> Result<HttpResponse, AppError> {
    let mobile = q.mobile.as_deref().unwrap_or_default();
    let next = NextPath::sanitise(q.next.as_deref());
    let mut page = ResetPage::new(&req, &state, &session, mobile, &next)?;
    page.work.sms_wait = page.work.wait_for(&state, mobile, Purpose::Reset).await;
    render(StatusCode::OK, &page)
}

#[derive(Deserialize, Default)]
pub struct ResetForm {
    password: Option<String>,
    password2: Option<String>,
    csrf_token: Option<String>,
    next: Option<String>,
    /// The mobile, the captcha, the SMS code, the button pressed.
    #[serde(flatten)]
    codes: CodeFields,
}

impl ResetForm {
    fn input(&self) -> ResetInput {
        let get = |f: &Option<String>| f.clone().unwrap_or_default();
        ResetInput {
            mobile: self.codes.mobile().to_owned(),
            sms_code: self.codes.sms_code().to_owned(),
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
    let next = NextPath::sanitise(form.next.as_deref());
    let mut page = ResetPage::new(&req, &state, &session, form.codes.mobile(), &next)?;
    if let Some(answered) = code_action(
        &state,
        &req,
        &session,
        &form.codes,
        Purpose::Reset,
        &mut page,
    )
    .await?
    {
        return answered.render(&page);
    }
    let client = super::client(&state, &req);
    let mut guard = Guard::new(&state.codes, state.settings.rate_limits, client);
    let origin = Origin::new(client.address(), Channel::Form);
    match recovery::reset_password(&state.deps(), &mut guard, &origin, &form.input()).await {
        Ok(_) => {
            session.set_flash("密码已重置，请用新密码登录")?;
            session.set_login_as(form.codes.mobile())?;
            Ok(HttpResponse::Found()
                .insert_header((header::LOCATION, page.login_href()))
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
            keep_work(&state, &mut page, &form.codes, Purpose::Reset).await;
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
