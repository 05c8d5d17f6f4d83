//! `AppError`: what a request can fail with, mapped to a status and a rendered page.
//!
//! `Display` texts are shown to users and are safe: causes (which may hold internal
//! detail) are logged once, here, and never rendered.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

use crate::codes::StoreError;
use crate::db::DbError;
use crate::web::routes::Nav;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The request is wrong; the message says how.
    #[error("{0}")]
    BadRequest(String),
    #[error("页面已过期或请求来源不明，请刷新页面后重试")]
    Csrf,
    #[error("{0}")]
    Forbidden(String),
    #[error("您访问的页面不存在")]
    NotFound,
    /// Anonymous where a login is needed: redirect to the login page, then back.
    #[error("请先登录")]
    LoginRequired { next: String },
    /// QQ Connect did not give us an openid.
    #[error("OAuth2.0认证失败")]
    QqFailed { cause: String },
    /// A dependency (database, code store) is down or too slow.
    #[error("服务暂时不可用，请稍后再试")]
    Unavailable { cause: String },
    #[error("服务器内部错误，请稍后再试")]
    Internal { cause: String },
    /// Over an abuse limit: 429 with `Retry-After`.
    #[error("{0}")]
    Limited(crate::limits::Limited),
}

impl AppError {
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Self::Internal {
            cause: cause.to_string(),
        }
    }

    /// Logs the cause once, at the edge (causes are never shown to users).
    pub fn log(&self) {
        match self {
            Self::QqFailed { cause } => tracing::warn!(%cause, "QQ login failed"),
            Self::Unavailable { cause } => tracing::error!(%cause, "dependency unavailable"),
            Self::Internal { cause } => tracing::error!(%cause, "internal error"),
            _ => {}
        }
    }
}

impl From<DbError> for AppError {
    fn from(e: DbError) -> Self {
        Self::Unavailable {
            cause: e.to_string(),
        }
    }
}

/// QQ did not give us an openid: the user sees "OAuth2.0认证失败", the log the cause
/// (whose `Display` holds no URL, token or secret).
impl From<crate::qq::QqError> for AppError {
    fn from(e: crate::qq::QqError) -> Self {
        Self::QqFailed {
            cause: e.to_string(),
        }
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        Self::Unavailable {
            cause: e.to_string(),
        }
    }
}

impl From<crate::login::password::HashError> for AppError {
    fn from(e: crate::login::password::HashError) -> Self {
        Self::internal(e)
    }
}

/// A password check that did not go through: the limit's 429 is a page of its own
/// (handlers that show it on the form match it first); the rest as they are.
impl From<crate::login::PasswordError> for AppError {
    fn from(e: crate::login::PasswordError) -> Self {
        use crate::login::PasswordError as E;
        match e {
            E::Unavailable(cause) => Self::Unavailable {
                cause: cause.to_string(),
            },
            E::Limited(l) => Self::Limited(l),
            E::Disabled => Self::Forbidden(e.to_string()),
            e => Self::BadRequest(e.to_string()),
        }
    }
}

impl From<askama::Error> for AppError {
    fn from(e: askama::Error) -> Self {
        Self::internal(e)
    }
}

impl From<actix_session::SessionInsertError> for AppError {
    fn from(e: actix_session::SessionInsertError) -> Self {
        Self::internal(e)
    }
}

impl From<actix_session::SessionGetError> for AppError {
    fn from(e: actix_session::SessionGetError) -> Self {
        Self::internal(e)
    }
}

/// What must be escaped in a query value: `/login/?next=/info/` stays readable, `&`,
/// `#`, `+` and the like are encoded.
const QUERY_VALUE: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'&')
    .add(b'+')
    .add(b'<')
    .add(b'>')
    .add(b'\'')
    .add(b'`');

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    nav: Nav,
    status: u16,
    message: &'a str,
    retry_qq: bool,
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Csrf | Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::LoginRequired { .. } => StatusCode::FOUND,
            Self::QqFailed { .. } => StatusCode::BAD_GATEWAY,
            Self::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Limited(_) => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    fn error_response(&self) -> HttpResponse {
        self.log();
        if let Self::LoginRequired { next } = self {
            let location = format!(
                "/login/?next={}",
                percent_encoding::utf8_percent_encode(next, QUERY_VALUE)
            );
            return HttpResponse::Found()
                .insert_header((header::LOCATION, location))
                .finish();
        }
        let status = self.status_code();
        let message = self.to_string();
        let page = ErrorPage {
            nav: Nav::default(),
            status: status.as_u16(),
            message: &message,
            retry_qq: matches!(self, Self::QqFailed { .. } | Self::BadRequest(_)),
        };
        let resp = match page.render() {
            Ok(html) => HttpResponse::build(status)
                .content_type("text/html; charset=utf-8")
                .body(html),
            Err(_) => HttpResponse::build(status)
                .content_type("text/plain; charset=utf-8")
                .body(message),
        };
        match self {
            Self::Limited(l) => with_retry_after(resp, l),
            _ => resp,
        }
    }
}

/// Renders `tpl` as an HTML answer with `status`.
pub fn render<T: Template>(status: StatusCode, tpl: &T) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(tpl.render()?))
}

/// Adds `Retry-After` to an answer refused by an abuse limit.
pub fn with_retry_after(mut resp: HttpResponse, limited: &crate::limits::Limited) -> HttpResponse {
    if let Ok(v) = header::HeaderValue::from_str(&limited.retry_after_secs()) {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
}
