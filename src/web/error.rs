//! What a request can fail with, in one place: [`AppError`] mapped to a status and a
//! rendered page, [`ApiError`] to a status and JSON `{"code", "errmsg"}`. Every core
//! error is mapped here, once for pages and once for JSON.
//!
//! `Display` texts are shown to users and are safe: causes (which may hold internal
//! detail) are logged once, here, and never rendered.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpMessage, HttpResponse, ResponseError};

use crate::bind::BindError;
use askama::Template;

use crate::codes::StoreError;
use crate::db::DbError;
use crate::domain::Provider;
use crate::web::views::{with_retry_after, Nav, ProviderView};

/// A cause kept for the log (never shown): any error, with its own sources.
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The request is wrong; the message says how.
    #[error("{0}")]
    BadRequest(String),
    #[error("页面已过期或请求来源不明，请刷新页面后重试")]
    Csrf,
    #[error("{0}")]
    Forbidden(String),
    /// The request is understood but would leave things wrong (409).
    #[error("{0}")]
    Conflict(String),
    #[error("您访问的页面不存在")]
    NotFound,
    /// Anonymous where a login is needed: redirect to the login page, then back.
    #[error("请先登录")]
    LoginRequired { next: String },
    /// Logged in, but the documents in force are not accepted yet: the consent page,
    /// then back.
    #[error("请先阅读并同意《用户协议》和《隐私政策》")]
    ConsentRequired { next: String },
    /// The provider (QQ Connect, WeChat, Weibo) did not tell us who the person is.
    #[error("OAuth2.0认证失败")]
    ProviderFailed(
        crate::domain::Provider,
        #[source] crate::providers::ProviderError,
    ),
    /// A dependency (database, code store) is down or too slow.
    #[error("服务暂时不可用，请稍后再试")]
    Unavailable(#[source] Cause),
    #[error("服务器内部错误，请稍后再试")]
    Internal(#[source] Cause),
    /// Over an abuse limit: 429 with `Retry-After`.
    #[error("{0}")]
    Limited(crate::limits::Limited),
}

/// `e` and its sources, one after the other: what the log says of a failure.
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        // Many messages already end with their source's ("database query: …").
        let said = s.to_string();
        if !text.ends_with(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        source = s.source();
    }
    text
}

impl AppError {
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Self::Internal(cause.to_string().into())
    }

    pub fn unavailable(cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Unavailable(Box::new(cause))
    }

    /// Logs the cause once, at the edge, with its whole chain (causes are never shown
    /// to users).
    pub fn log(&self) {
        match self {
            Self::ProviderFailed(p, e) => {
                tracing::warn!(cause = %chain(e), "{} login failed", p.name())
            }
            Self::Unavailable(e) => {
                tracing::error!(cause = %chain(e.as_ref()), "dependency unavailable")
            }
            Self::Internal(e) => tracing::error!(cause = %chain(e.as_ref()), "internal error"),
            _ => {}
        }
    }
}

impl From<DbError> for AppError {
    fn from(e: DbError) -> Self {
        Self::unavailable(e)
    }
}

/// QQ did not give us an openid: the user sees "OAuth2.0认证失败", the log the cause
/// (whose `Display` holds no URL, token or secret).
impl From<crate::qq::QqError> for AppError {
    fn from(e: crate::qq::QqError) -> Self {
        Self::ProviderFailed(crate::domain::Provider::Qq, e.into())
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        Self::unavailable(e)
    }
}

impl From<crate::fault::Unavailable> for AppError {
    fn from(e: crate::fault::Unavailable) -> Self {
        Self::unavailable(e)
    }
}

impl From<crate::login::password::HashError> for AppError {
    fn from(e: crate::login::password::HashError) -> Self {
        Self::Internal(Box::new(e))
    }
}

impl From<crate::limits::Refused> for AppError {
    fn from(r: crate::limits::Refused) -> Self {
        match r {
            crate::limits::Refused::Limited(l) => Self::Limited(l),
            crate::limits::Refused::Unavailable(e) => Self::unavailable(e),
        }
    }
}

/// A password check that did not go through: the limit's 429 is a page of its own
/// (handlers that show it on the form match it first); the rest as they are.
impl From<crate::login::PasswordError> for AppError {
    fn from(e: crate::login::PasswordError) -> Self {
        use crate::login::PasswordError as E;
        match e {
            E::Unavailable(cause) => Self::unavailable(cause),
            E::Limited(l) => Self::Limited(l),
            E::Disabled => Self::Forbidden(e.to_string()),
            e => Self::BadRequest(e.to_string()),
        }
    }
}

impl From<askama::Error> for AppError {
    fn from(e: askama::Error) -> Self {
        Self::Internal(Box::new(e))
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

// ------------------------------------------------------------------- as JSON

/// A refused API call: `{"code": "...", "errmsg": "..."}` with its status.
#[derive(Debug, thiserror::Error)]
#[error("{errmsg}")]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub errmsg: String,
    /// Seconds, for an answer refused by an abuse limit.
    pub retry_after: Option<String>,
    /// What the metrics count of this refusal.
    pub event: Option<crate::web::metrics::Event>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, errmsg: impl Into<String>) -> Self {
        Self {
            status,
            code,
            errmsg: errmsg.into(),
            retry_after: None,
            event: None,
        }
    }

    /// This refusal, noted for the metrics as `event`.
    pub fn counted(mut self, event: crate::web::metrics::Event) -> Self {
        self.event = Some(event);
        self
    }

    pub fn bad_request(code: &'static str, errmsg: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, errmsg)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut r = HttpResponse::build(self.status);
        if self.status == StatusCode::UNAUTHORIZED {
            r.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        if let Some(secs) = &self.retry_after {
            r.insert_header((header::RETRY_AFTER, secs.as_str()));
        }
        let mut resp = r
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(serde_json::json!({ "code": self.code, "errmsg": self.errmsg }));
        if let Some(e) = &self.event {
            crate::web::metrics::note(&mut resp, e.clone());
        }
        resp
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        if let AppError::Limited(l) = e {
            return l.into();
        }
        e.log();
        let status = e.status_code();
        let code = match status.as_u16() {
            400 => "4000",
            401 | 302 => "4101",
            403 => "4030",
            404 => "4040",
            502 => "5020",
            503 => "5000",
            _ => "5001",
        };
        let status = if status == StatusCode::FOUND {
            StatusCode::UNAUTHORIZED
        } else {
            status
        };
        Self::new(status, code, e.to_string())
    }
}

impl From<crate::limits::Limited> for ApiError {
    fn from(l: crate::limits::Limited) -> Self {
        Self {
            retry_after: Some(l.retry_after_secs()),
            event: Some(crate::web::metrics::Event::Limited(l.rule)),
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, "4290", l.to_string())
        }
    }
}

impl From<crate::codes::StoreError> for ApiError {
    fn from(e: crate::codes::StoreError) -> Self {
        AppError::from(e).into()
    }
}

impl From<crate::db::DbError> for ApiError {
    fn from(e: crate::db::DbError) -> Self {
        AppError::from(e).into()
    }
}

/// Each row of the bind table has its own code; the message is the form's.
impl From<BindError> for ApiError {
    fn from(e: BindError) -> Self {
        let code = match &e {
            BindError::Missing => "4003",
            BindError::BadMobile => "4007",
            BindError::BadPassword => "4008",
            BindError::SmsMissing => "4011",
            BindError::SmsWrong => "4012",
            BindError::BadOpenId => "4013",
            BindError::WrongPassword => "4014",
            BindError::Disabled => "4017",
            BindError::AccountBoundElsewhere(_) => "4015",
            BindError::Failed(_) => "4016",
            BindError::Captcha(_) => "4001",
            BindError::Limited(_) | BindError::Unavailable(_) => "",
        };
        let row = crate::web::metrics::Event::BindRefused(e.row());
        match e {
            BindError::Unavailable(cause) => AppError::from(cause).into(),
            BindError::Limited(l) => l.into(),
            BindError::Disabled => {
                Self::new(StatusCode::FORBIDDEN, code, e.to_string()).counted(row)
            }
            e => Self::bad_request(code, e.to_string()).counted(row),
        }
    }
}

/// A refused password recovery: the bind table's codes where the rows are the same.
impl From<crate::recovery::ResetError> for ApiError {
    fn from(e: crate::recovery::ResetError) -> Self {
        use crate::recovery::ResetError as E;
        let code = match &e {
            E::Missing => "4003",
            E::BadMobile => "4007",
            E::BadPassword => "4008",
            E::Mismatch => "4009",
            E::SmsMissing => "4011",
            E::SmsWrong => "4012",
            E::Disabled => "4017",
            E::Limited(_) | E::Unavailable(_) => "",
        };
        match e {
            E::Unavailable(cause) => AppError::from(cause).into(),
            E::Limited(l) => l.into(),
            E::Disabled => Self::new(StatusCode::FORBIDDEN, code, e.to_string()),
            e => Self::bad_request(code, e.to_string()),
        }
    }
}

/// Binding a QQ to the account one is logged in to, as JSON.
impl From<crate::bind::LinkError> for ApiError {
    fn from(e: crate::bind::LinkError) -> Self {
        use crate::bind::LinkError as E;
        match e {
            E::BadOpenId => Self::bad_request("4013", e.to_string()),
            E::OwnedElsewhere { .. } => Self::new(StatusCode::CONFLICT, "4090", e.to_string()),
            E::AccountBoundElsewhere(_) => Self::new(StatusCode::CONFLICT, "4015", e.to_string()),
            E::Disabled => Self::new(StatusCode::FORBIDDEN, "4017", e.to_string()),
            E::Failed(_) => Self::bad_request("4016", e.to_string()),
            E::Unavailable(cause) => AppError::from(cause).into(),
        }
    }
}

/// The SMS table of spec section 5: each refusal with its status and code.
impl From<crate::codes::service::SendSmsError> for ApiError {
    fn from(e: crate::codes::service::SendSmsError) -> Self {
        use crate::codes::service::SendSmsError as E;
        let (status, code) = match &e {
            E::Missing => (StatusCode::BAD_REQUEST, "4003"),
            E::BadMobile => (StatusCode::BAD_REQUEST, "4007"),
            E::ImageExpired | E::ImageWrong => (StatusCode::BAD_REQUEST, "4001"),
            E::TooFrequent => (StatusCode::TOO_MANY_REQUESTS, "4002"),
            E::Gateway => (StatusCode::BAD_GATEWAY, "5001"),
            E::Limited(l) => return (*l).into(),
            E::Unavailable(cause) => {
                tracing::error!(cause = %chain(cause), "dependency unavailable");
                (StatusCode::SERVICE_UNAVAILABLE, "5000")
            }
        };
        Self::new(status, code, e.to_string())
    }
}

/// A password check or the disabled rule, as JSON: 4014, 4017 (403), 4001, 4290.
impl From<crate::login::PasswordError> for ApiError {
    fn from(e: crate::login::PasswordError) -> Self {
        use crate::login::PasswordError as E;
        match e {
            E::Wrong => Self::bad_request("4014", e.to_string()),
            E::Disabled => Self::new(StatusCode::FORBIDDEN, "4017", e.to_string()),
            E::Captcha(_) => Self::bad_request("4001", e.to_string()),
            E::Limited(l) => l.into(),
            E::Unavailable(cause) => AppError::from(cause).into(),
        }
    }
}

/// A refused API `state`: forged, expired or used (4005); not its client's (4006).
impl From<crate::login::qq::ApiStateError> for ApiError {
    fn from(e: crate::login::qq::ApiStateError) -> Self {
        use crate::login::qq::ApiStateError as E;
        match e {
            E::Invalid(_) => Self::bad_request("4005", e.to_string()),
            E::Verifier(_) => Self::bad_request("4006", e.to_string()),
            E::Unavailable(cause) => AppError::from(cause).into(),
        }
    }
}

/// A QQ login that came to nothing: the disabled rule (4017), QQ failing (5020).
impl From<crate::login::qq::QqLoginError> for ApiError {
    fn from(e: crate::login::qq::QqLoginError) -> Self {
        use crate::login::qq::QqLoginError as E;
        match e {
            E::Disabled => Self::new(StatusCode::FORBIDDEN, "4017", e.to_string()),
            E::Provider(p, cause) => AppError::ProviderFailed(p, cause).into(),
            E::Unavailable(cause) => AppError::from(cause).into(),
        }
    }
}

impl From<crate::fault::Unavailable> for ApiError {
    fn from(e: crate::fault::Unavailable) -> Self {
        AppError::from(e).into()
    }
}

impl From<crate::limits::Refused> for ApiError {
    fn from(r: crate::limits::Refused) -> Self {
        AppError::from(r).into()
    }
}

// ------------------------------------------------------------------- as pages

/// What must be escaped in a query value: `/login/?next=/info/` stays readable, `&`,
/// `#`, `+` and the like are encoded.
pub const QUERY_VALUE: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
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
    /// A login that failed at a provider's step: a button to start it again.
    retry: Option<Retry>,
    /// The request's id, for the customer to quote to support.
    request_id: Option<String>,
}

/// What an error page says, kept on the response so that [`brand_error_page`] can draw
/// it again with the request's header (who is logged in).
#[derive(Debug, Clone)]
struct ErrorPageInfo {
    message: String,
    /// Starting the login again may help (the provider failed, or the request was bad).
    retry: bool,
}

/// The error page's 重新…登录: the provider's login again, back to where it started.
struct Retry {
    provider: ProviderView,
    href: String,
}

/// Where the login a request was part of started from, when the handler knew it (the
/// callback, once it has taken the login's `state`): a new login goes back there.
#[derive(Debug, Clone)]
pub struct RetryLogin {
    pub next: String,
    /// A bind from the user centre (`intent=link`).
    pub link: bool,
}

impl Retry {
    fn new(provider: Provider, from: Option<&RetryLogin>) -> Self {
        let provider = ProviderView::of(provider);
        let href = match from {
            Some(from) => provider.login_href(&from.next, from.link),
            None => provider.authorize().to_owned(),
        };
        Self { provider, href }
    }
}

fn error_page_html(
    nav: Nav,
    status: StatusCode,
    info: &ErrorPageInfo,
    retry: Option<Retry>,
    request_id: Option<String>,
) -> Option<String> {
    ErrorPage {
        nav,
        status: status.as_u16(),
        message: &info.message,
        retry,
        request_id,
    }
    .render()
    .ok()
}

/// The provider whose login `path` is a step of (QQ's seed paths included), if any.
fn login_step_of(path: &str) -> Option<Provider> {
    if path.starts_with("/oauth_callback") || path.starts_with("/qq/") {
        return Some(Provider::Qq);
    }
    let (provider, step) = path.strip_prefix("/oauth/")?.split_once('/')?;
    matches!(step, "authorize/" | "callback/" | "login/")
        .then(|| Provider::parse(provider))
        .flatten()
}

/// What a page says for a status that came with no page (a wrong method, say).
fn default_message(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "请求有误，请返回重试",
        401 | 403 => "您没有权限访问这个页面",
        404 => "您访问的页面不存在",
        405 => "不支持这种访问方式，请从页面上的按钮或链接进入",
        408 => "请求超时，请重试",
        409 => "操作冲突，请刷新页面后重试",
        413 => "提交的数据过大",
        429 => "操作过于频繁，请稍后再试",
        500..=599 => "服务暂时不可用，请稍后再试",
        _ => "请求未能完成",
    }
}

/// Every error answer outside `/api/` is a branded page that knows who is logged in:
/// the pages of [`AppError`] are drawn again with the request's header, and an answer
/// with an error status and no body (a 405 from the router) gets one.
pub fn brand_error_page(res: actix_web::dev::ServiceResponse) -> actix_web::dev::ServiceResponse {
    use actix_web::body::{BodySize, MessageBody};
    let status = res.status();
    if status.as_u16() < 400 || res.request().path().starts_with("/api/") {
        return res;
    }
    let known = res.response().extensions().get::<ErrorPageInfo>().cloned();
    let info = match known {
        Some(info) => info,
        None if matches!(
            res.response().body().size(),
            BodySize::None | BodySize::Sized(0)
        ) =>
        {
            ErrorPageInfo {
                message: default_message(status).to_owned(),
                retry: false,
            }
        }
        None => return res,
    };
    let id = crate::web::request_id::of(res.request());
    let retry = login_step_of(res.request().path())
        .filter(|_| info.retry)
        .map(|p| Retry::new(p, res.request().extensions().get::<RetryLogin>()));
    let Some(html) = error_page_html(Nav::from_request(res.request()), status, &info, retry, id)
    else {
        return res;
    };
    let (req, resp) = res.into_parts();
    let mut resp = resp.set_body(html).map_into_boxed_body();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/html; charset=utf-8"),
    );
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    actix_web::dev::ServiceResponse::new(req, resp)
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Csrf | Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::LoginRequired { .. } | Self::ConsentRequired { .. } => StatusCode::FOUND,
            Self::ProviderFailed(..) => StatusCode::BAD_GATEWAY,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Limited(_) => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    fn error_response(&self) -> HttpResponse {
        self.log();
        if let Self::ConsentRequired { next } = self {
            let location = format!(
                "/consent/?next={}",
                percent_encoding::utf8_percent_encode(next, QUERY_VALUE)
            );
            return HttpResponse::Found()
                .insert_header((header::LOCATION, location))
                .finish();
        }
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
        let info = ErrorPageInfo {
            message: self.to_string(),
            retry: matches!(self, Self::ProviderFailed(..) | Self::BadRequest(_)),
        };
        // Drawn here without the request; [`brand_error_page`] draws it again with it.
        let mut resp = match error_page_html(Nav::default(), status, &info, None, None) {
            Some(html) => HttpResponse::build(status)
                .content_type("text/html; charset=utf-8")
                .body(html),
            None => HttpResponse::build(status)
                .content_type("text/plain; charset=utf-8")
                .body(info.message.clone()),
        };
        resp.extensions_mut().insert(info);
        match self {
            Self::Limited(l) => with_retry_after(resp, l),
            _ => resp,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{chain, login_step_of};

    #[derive(Debug, thiserror::Error)]
    #[error("disk full")]
    struct Disk;

    #[derive(Debug, thiserror::Error)]
    enum Store {
        #[error("store write: {0}")]
        Says(#[from] Disk),
        #[error("store write")]
        Quiet(#[source] Disk),
    }

    #[test]
    fn a_login_step_names_its_provider() {
        use crate::domain::Provider as P;
        for (path, provider) in [
            ("/qq/authorize/", Some(P::Qq)),
            ("/oauth_callback/", Some(P::Qq)),
            ("/oauth_callback", Some(P::Qq)),
            ("/oauth_callback/link/", Some(P::Qq)),
            ("/oauth/qq/callback/", Some(P::Qq)),
            ("/oauth/wechat/authorize/", Some(P::Wechat)),
            ("/oauth/weibo/callback/", Some(P::Weibo)),
            ("/oauth/weibo/login/", Some(P::Weibo)),
            ("/oauth/github/callback/", None),
            ("/oauth/wechat/", None),
            ("/oauth/wechat/other/", None),
            ("/info/wechat/unbind/", None),
            ("/image_codes/x/", None),
            ("/", None),
        ] {
            assert_eq!(login_step_of(path), provider, "{path}");
        }
    }

    #[test]
    fn the_chain_names_each_cause_once() {
        assert_eq!(chain(&Store::Says(Disk)), "store write: disk full");
        assert_eq!(chain(&Store::Quiet(Disk)), "store write: disk full");
    }
}
