//! `/register/` (the Meiduo register page) and the availability checks its script uses.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::codes::{code_action, keep_work, CodeFields, CodePage, SmsFormField, SmsSlots, Work};
use super::{check_csrf, csrf_token, Nav, NextQuery};
use crate::accounts::{self, RegisterError, RegisterErrors, RegisterInput};
use crate::codes::Purpose;
use crate::db;
use crate::db::audit::Channel;
use crate::domain::{Mobile, NextPath, Username};
use crate::limits::{self, Guard, Refused};
use crate::state::AppState;
use crate::web::auth;
use crate::web::error::{ApiError, AppError};
use crate::web::session::TypedSession;
use crate::web::views::{render, with_retry_after};

#[derive(Template)]
#[template(path = "register.html")]
struct RegisterPage {
    nav: Nav,
    csrf_token: String,
    next: String,
    username: String,
    mobile: String,
    allow: bool,
    errors: RegisterErrors,
    image_code_errmsg: Option<String>,
    sms_notice: Option<String>,
    /// The captcha and the SMS field, as the customer left them.
    work: Work,
}

impl CodePage for RegisterPage {
    fn work(&mut self) -> &mut Work {
        &mut self.work
    }

    fn sms_refused(&self) -> bool {
        self.errors.sms_code.is_some()
    }
}

impl SmsSlots for RegisterPage {
    fn slot(&mut self, field: SmsFormField) -> &mut Option<String> {
        match field {
            SmsFormField::ImageCode => &mut self.image_code_errmsg,
            SmsFormField::Mobile => &mut self.errors.mobile,
            SmsFormField::Form => &mut self.errors.form,
            SmsFormField::SmsCode => &mut self.errors.sms_code,
        }
    }

    fn sms_notice(&mut self) -> &mut Option<String> {
        &mut self.sms_notice
    }
}

impl RegisterPage {
    fn new(
        req: &HttpRequest,
        state: &AppState,
        session: &TypedSession,
        next: &NextPath,
    ) -> Result<Self, AppError> {
        Ok(Self {
            nav: Nav::from_request(req),
            csrf_token: csrf_token(state, session)?,
            next: next.as_str().to_owned(),
            username: String::new(),
            mobile: String::new(),
            allow: false,
            errors: RegisterErrors::default(),
            image_code_errmsg: None,
            sms_notice: None,
            work: Work::fresh(),
        })
    }
}

pub async fn register_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
    q: web::Query<NextQuery>,
) -> Result<HttpResponse, AppError> {
    let next = NextPath::sanitise(q.next.as_deref());
    render(
        StatusCode::OK,
        &RegisterPage::new(&req, &state, &session, &next)?,
    )
}

/// The register form; every field optional so that a missing one is a message.
#[derive(Deserialize)]
pub struct RegisterForm {
    username: Option<String>,
    password: Option<String>,
    password2: Option<String>,
    allow: Option<String>,
    csrf_token: Option<String>,
    /// The mobile, the captcha, the SMS code, the button pressed.
    #[serde(flatten)]
    codes: CodeFields,
}

/// Keeps what was typed (bounded) for the form shown again; passwords never.
fn kept(value: &Option<String>) -> String {
    crate::web::views::typed_back(value.as_deref().unwrap_or_default(), 32)
}

pub async fn register_submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
    q: web::Query<NextQuery>,
    form: web::Form<RegisterForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    check_csrf(&state, &session, form.csrf_token.as_deref())?;
    let next = NextPath::sanitise(q.next.as_deref());
    let mut page = RegisterPage {
        username: kept(&form.username),
        mobile: kept(&form.codes.mobile),
        allow: form.allow.is_some(),
        ..RegisterPage::new(&req, &state, &session, &next)?
    };

    if let Some(answered) = code_action(
        &state,
        &req,
        &session,
        &form.codes,
        Purpose::Bind,
        &mut page,
    )
    .await?
    {
        return answered.render(&page);
    }

    let input = RegisterInput {
        username: form.username.clone().unwrap_or_default(),
        password: form.password.clone().unwrap_or_default(),
        password2: form.password2.clone().unwrap_or_default(),
        mobile: form.codes.mobile().to_owned(),
        sms_code: form.codes.sms_code().to_owned(),
        allow: form.allow.is_some(),
    };
    // Counted first, before any work; a registration that goes through gives it back.
    let client = super::client(&state, &req);
    let mut guard = Guard::new(&state.codes, state.settings.rate_limits, client);
    match guard
        .admit(&limits::FORM_FAILS_PER_IP, &client.bucket())
        .await
    {
        Ok(()) => {}
        Err(Refused::Limited(limited)) => {
            page.errors.form = Some(limited.to_string());
            keep_work(&state, &mut page, &form.codes, Purpose::Bind).await;
            let resp = render(StatusCode::TOO_MANY_REQUESTS, &page)?;
            return Ok(with_retry_after(resp, &limited));
        }
        Err(Refused::Unavailable(e)) => return Err(e.into()),
    }
    let origin = super::origin(&state, &req, Channel::Form);
    match accounts::register(&state.deps(), &input, &origin).await {
        Ok(user) => {
            guard.succeeded().await;
            tracing::info!(user_id = user.id, "registered");
            crate::self_service::accept_documents(
                &state.db,
                user.id,
                state.consent_versions(),
                "register",
                &origin,
            )
            .await?;
            let cookie = auth::log_in(&state, &req, &session, &user, false, "register").await?;
            Ok(HttpResponse::Found()
                .insert_header((header::LOCATION, auth::landing(&session, next.as_str())))
                .cookie(cookie)
                .finish())
        }
        Err(RegisterError::Invalid(errors)) => {
            page.errors = errors;
            keep_work(&state, &mut page, &form.codes, Purpose::Bind).await;
            render(StatusCode::BAD_REQUEST, &page)
        }
        Err(RegisterError::Unavailable(e)) => Err(e.into()),
    }
}

fn count_answer(count: i64) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(serde_json::json!({ "code": "0", "errmsg": "OK", "count": count }))
}

/// Availability lookups tell whether an account exists: limited per client.
async fn lookup_allowed(state: &AppState, req: &HttpRequest) -> Result<(), ApiError> {
    let bucket = super::client(state, req).bucket();
    let enabled = state.settings.rate_limits;
    Ok(limits::count(&state.codes, enabled, &limits::LOOKUPS_PER_IP, &bucket).await?)
}

/// `GET /usernames/<username>/count/`: whether a name is taken (the register page's
/// live check, as Meiduo has it).
pub async fn username_count(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    lookup_allowed(&state, &req).await?;
    let username =
        Username::parse(&path).map_err(|e| ApiError::bad_request("4004", e.to_string()))?;
    let taken = state
        .db
        .read(move |c| Ok(db::users::find_by_username(c, username.as_str())?.is_some()))
        .await?;
    Ok(count_answer(i64::from(taken)))
}

/// `GET /mobiles/<mobile>/count/`: whether a mobile is taken.
pub async fn mobile_count(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    lookup_allowed(&state, &req).await?;
    let mobile = Mobile::parse(&path)
        .ok_or_else(|| ApiError::bad_request("4007", "请输入正确的手机号码"))?;
    let taken = state
        .db
        .read(move |c| Ok(db::users::find_by_mobile(c, mobile.as_str())?.is_some()))
        .await?;
    Ok(count_answer(i64::from(taken)))
}
