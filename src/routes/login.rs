//! `/login/` (username or mobile + password) and `/logout/`.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::{check_csrf, csrf_token, Nav, NextQuery};
use crate::auth::{self, password, SESSION_MAX_AGE_SECS};
use crate::codes::keys;
use crate::db;
use crate::domain::NextPath;
use crate::error::{render, with_retry_after, AppError};
use crate::limits::{self, Attempt};
use crate::session::TypedSession;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage {
    nav: Nav,
    csrf_token: String,
    next: String,
    username: String,
    remembered: bool,
    account_errmsg: Option<String>,
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
            username: super::typed_back(username, 64),
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
    render(
        StatusCode::OK,
        &LoginPage::new(&req, &state, &session, &next)?,
    )
}

#[derive(Deserialize)]
pub struct LoginForm {
    username: Option<String>,
    password: Option<String>,
    remembered: Option<String>,
    csrf_token: Option<String>,
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

    let refuse = |status: StatusCode, msg: &str| -> Result<HttpResponse, AppError> {
        let page = LoginPage {
            remembered,
            ..LoginPage::refused(&req, &state, &session, &next, &login, msg)?
        };
        render(status, &page)
    };
    if login.is_empty() || pw.is_empty() {
        return refuse(StatusCode::BAD_REQUEST, "请输入用户名和密码");
    }
    if login.len() > 64 || pw.len() > 64 {
        return refuse(StatusCode::BAD_REQUEST, "用户名或密码错误");
    }

    let l = login.clone();
    let user = db::run(&state.db, move |c| Ok(db::users::find_by_login(c, &l)?)).await?;
    let account = match &user {
        Some(u) => format!("user:{}", u.id),
        None => format!("login:{login}"),
    };
    let attempt = Attempt::new(&state, &req, limits::LOGIN_FAILS_PER_IP)
        .account(account, limits::LOGIN_FAILS_PER_ACCOUNT);
    if let Err(limited) = attempt.check().await {
        let resp = refuse(StatusCode::TOO_MANY_REQUESTS, &limited.to_string())?;
        return Ok(with_retry_after(resp, &limited));
    }
    let ok = password::verify(
        &pw,
        user.as_ref().map(|u| u.password.as_str()),
        state.settings.bcrypt_cost,
    )
    .await?;
    // A disabled account hears only that, right password or not.
    if user.as_ref().is_some_and(|u| !u.is_active) {
        return refuse(StatusCode::FORBIDDEN, auth::DISABLED_MESSAGE);
    }
    let Some(user) = user.filter(|_| ok) else {
        attempt.failed().await;
        return refuse(StatusCode::BAD_REQUEST, "用户名或密码错误");
    };
    attempt.succeeded().await;
    let cookie = auth::log_in(&state, &session, &user, remembered).await?;
    Ok(HttpResponse::Found()
        .insert_header((header::LOCATION, next.as_str().to_owned()))
        .cookie(cookie)
        .finish())
}

#[derive(Deserialize)]
pub struct LogoutForm {
    csrf_token: Option<String>,
}

/// Ends the session for good: its id is revoked in the code store, so a copy of the old
/// cookie is not logged in either.
pub async fn logout(
    state: web::Data<AppState>,
    session: TypedSession,
    form: web::Form<LogoutForm>,
) -> Result<HttpResponse, AppError> {
    check_csrf(&state, &session, form.csrf_token.as_deref())?;
    if let Some(sid) = session.existing_sid()? {
        let revoked = state
            .codes
            .set_ex(
                &keys::revoked_session(&sid),
                "1",
                std::time::Duration::from_secs(SESSION_MAX_AGE_SECS),
            )
            .await;
        if let Err(e) = revoked {
            // The cookie is cleared anyway; only a copy of it outlives this logout.
            tracing::warn!(error = %e, "code store down: logout not recorded");
        }
    }
    session.log_out();
    Ok(HttpResponse::Found()
        .insert_header((header::LOCATION, "/login/"))
        .cookie(auth::username_cookie_removal())
        .finish())
}
