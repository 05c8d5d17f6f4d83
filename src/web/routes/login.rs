//! `/login/` (username or mobile + password) and `/logout/`.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::{check_csrf, csrf_token, Nav, NextQuery};
use crate::codes::service::CaptchaAnswer;
use crate::domain::{NextPath, Provider};
use crate::limits::Guard;
use crate::login::{self, PasswordError};
use crate::state::AppState;
use crate::web::auth;
use crate::web::error::AppError;
use crate::web::session::TypedSession;
use crate::web::views::{render, with_retry_after, ProviderView};

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage {
    nav: Nav,
    csrf_token: String,
    next: String,
    username: String,
    remembered: bool,
    account_errmsg: Option<String>,
    /// Set when the account is under attack: the image captcha shows, for this id.
    image_code_id: Option<String>,
    image_code_errmsg: Option<String>,
    /// A one-time notice: 已退出, 密码已重置.
    flash: Option<String>,
    /// The sign-in buttons: one per provider that is on.
    providers: Vec<crate::web::views::ProviderView>,
}

impl LoginPage {
    /// The empty form for `next`.
    pub fn new(
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
            remembered: false,
            account_errmsg: None,
            image_code_id: None,
            image_code_errmsg: None,
            flash: None,
            providers: state
                .providers
                .enabled()
                .into_iter()
                .map(crate::web::views::ProviderView::of)
                .collect(),
        })
    }

    /// The form again, with `message` and what was typed as the username.
    pub fn refused(
        req: &HttpRequest,
        state: &AppState,
        session: &TypedSession,
        next: &NextPath,
        username: &str,
        message: &str,
    ) -> Result<Self, AppError> {
        Ok(Self {
            username: crate::web::views::typed_back(username, 64),
            account_errmsg: Some(message.to_owned()),
            ..Self::new(req, state, session, next)?
        })
    }
}

pub async fn login_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
    q: web::Query<NextQuery>,
) -> Result<HttpResponse, AppError> {
    let next = NextPath::sanitise(q.next.as_deref());
    let page = LoginPage {
        flash: session.take_flash()?,
        username: session.take_login_as().unwrap_or_default(),
        ..LoginPage::new(&req, &state, &session, &next)?
    };
    render(StatusCode::OK, &page)
}

#[derive(Deserialize)]
pub struct LoginForm {
    username: Option<String>,
    password: Option<String>,
    remembered: Option<String>,
    csrf_token: Option<String>,
    image_code: Option<String>,
    image_code_id: Option<String>,
}

pub async fn login_submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
    q: web::Query<NextQuery>,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, AppError> {
    check_csrf(&state, &session, form.csrf_token.as_deref())?;
    let next = NextPath::sanitise(q.next.as_deref());
    let login = form
        .username
        .as_deref()
        .unwrap_or_default()
        .trim()
        .to_owned();
    let pw = form.password.clone().unwrap_or_default();
    let remembered = form.remembered.is_some();

    let refuse = |msg: &str, captcha: bool| -> Result<LoginPage, AppError> {
        Ok(LoginPage {
            remembered,
            image_code_id: captcha.then(|| uuid::Uuid::new_v4().to_string()),
            ..LoginPage::refused(&req, &state, &session, &next, &login, msg)?
        })
    };
    if login.is_empty() || pw.is_empty() {
        return render(
            StatusCode::BAD_REQUEST,
            &refuse("请输入用户名和密码", false)?,
        );
    }
    if login.len() > 64 || pw.len() > 64 {
        return render(StatusCode::BAD_REQUEST, &refuse("用户名或密码错误", false)?);
    }

    let mut guard = Guard::new(
        &state.codes,
        state.settings.rate_limits,
        super::client(&state, &req),
    );
    let mut captcha = CaptchaAnswer::new(
        form.image_code.as_deref().unwrap_or_default(),
        form.image_code_id.as_deref().unwrap_or_default(),
    );
    match login::password_login(
        &state.db,
        &state.codes,
        state.settings.bcrypt_cost,
        &mut guard,
        &login,
        &pw,
        &mut captcha,
    )
    .await
    {
        Ok(user) => {
            let cookie =
                auth::log_in(&state, &req, &session, &user, remembered, "password").await?;
            Ok(HttpResponse::Found()
                .insert_header((header::LOCATION, auth::landing(&session, next.as_str())))
                .cookie(cookie)
                .finish())
        }
        Err(PasswordError::Unavailable(e)) => Err(AppError::unavailable(e)),
        Err(PasswordError::Limited(limited)) => {
            let page = refuse(&limited.to_string(), false)?;
            let resp = render(StatusCode::TOO_MANY_REQUESTS, &page)?;
            Ok(with_retry_after(resp, &limited))
        }
        Err(PasswordError::Captcha(e)) => {
            let mut page = refuse("", true)?;
            page.account_errmsg = None;
            page.image_code_errmsg = Some(e.to_string());
            render(StatusCode::BAD_REQUEST, &page)
        }
        Err(e @ PasswordError::Disabled) => {
            render(StatusCode::FORBIDDEN, &refuse(&e.to_string(), false)?)
        }
        Err(e @ PasswordError::Wrong) => render(
            StatusCode::BAD_REQUEST,
            &refuse(&e.to_string(), guard.captcha_needed())?,
        ),
    }
}

#[derive(Deserialize)]
pub struct LogoutForm {
    csrf_token: Option<String>,
    /// Where to go instead of `/login/` (a local path).
    next: Option<String>,
}

/// Ends the session for good (see [`auth::log_out`]): a copy of the old cookie is not
/// logged in either. The login page then says 已退出.
pub async fn logout(
    state: web::Data<AppState>,
    session: TypedSession,
    form: web::Form<LogoutForm>,
) -> Result<HttpResponse, AppError> {
    check_csrf(&state, &session, form.csrf_token.as_deref())?;
    auth::log_out(&state, &session).await?;
    let to = match form.next.as_deref() {
        Some(n) if !n.trim().is_empty() => NextPath::sanitise(Some(n)).as_str().to_owned(),
        _ => "/login/".to_owned(),
    };
    // The purged session still carries this one notice to the next page; unless that
    // is a provider's login (退出当前账号，用该QQ登录), whose page after is another account's.
    let logs_in_again = Provider::ALL
        .into_iter()
        .any(|p| to.starts_with(ProviderView::of(p).authorize()));
    if !logs_in_again {
        session.set_flash("已退出登录")?;
    }
    Ok(HttpResponse::Found()
        .insert_header((header::LOCATION, to))
        .cookie(auth::username_cookie_removal())
        .finish())
}
