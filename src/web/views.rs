//! What every page shares: the header (`Nav`), rendering with a status, the
//! confirmation page of every change, how times and typed-back values are shown, and
//! the `Retry-After` of a refusal by a limit.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;

use crate::domain::Provider;
use crate::web::error::AppError;

/// What the page header shows: the `username` display cookie (seed 000).
#[derive(Debug, Clone, Default)]
pub struct Nav {
    pub username: Option<String>,
    /// The footer's `使用QQ、微信或微博账号安全登录`, naming the providers that are on.
    pub tagline: String,
}

impl Nav {
    pub fn from_request(req: &HttpRequest) -> Self {
        let username = req.cookie("username").and_then(|c| {
            percent_encoding::percent_decode_str(c.value())
                .decode_utf8()
                .ok()
                .map(|s| s.into_owned())
                .filter(|s| !s.is_empty())
        });
        let tagline = req
            .app_data::<actix_web::web::Data<crate::state::AppState>>()
            .map(|state| Provider::any_of(&state.providers.enabled()))
            .filter(|ways| !ways.is_empty())
            .map(|ways| format!("使用{ways}账号安全登录"))
            .unwrap_or_default();
        Self { username, tagline }
    }
}

/// Renders `tpl` as an HTML answer with `status`.
pub fn render<T: Template>(status: StatusCode, tpl: &T) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(tpl.render()?))
}

/// Adds `Retry-After` to an answer refused by an abuse limit (and notes the limit for
/// the metrics).
pub fn with_retry_after(mut resp: HttpResponse, limited: &crate::limits::Limited) -> HttpResponse {
    if let Ok(v) = header::HeaderValue::from_str(&limited.retry_after_secs()) {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    crate::web::metrics::note(&mut resp, crate::web::metrics::Event::Limited(limited.rule));
    resp
}

/// The second step of every change a user or an operator makes: the form posted again
/// with `confirm=yes`. Works without JavaScript.
#[derive(Template)]
#[template(path = "confirm.html")]
pub struct ConfirmPage<'a> {
    pub nav: Nav,
    pub csrf_token: String,
    pub title: &'a str,
    pub question: String,
    pub action: String,
    pub button: &'a str,
    pub cancel: String,
    /// Ask why, too (a required text field `reason`).
    pub reason: bool,
}

impl ConfirmPage<'_> {
    pub fn respond(&self) -> Result<HttpResponse, AppError> {
        render(StatusCode::OK, self)
    }
}

/// Whether a change's form carries the confirmation.
pub fn confirmed(confirm: Option<&str>) -> bool {
    confirm == Some("yes")
}

/// A UTC timestamp as people in China read it.
pub fn beijing_time(at: chrono::NaiveDateTime) -> String {
    (at + chrono::Duration::hours(8))
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// What a refused form shows back of a typed value: trimmed, at most `max` characters,
/// without control characters (a NUL typed in would otherwise come back in the page).
/// Only for showing: what is checked is what was sent.
pub fn typed_back(value: &str, max: usize) -> String {
    value
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(max)
        .collect()
}

/// How pages show a provider: its name, icon, buttons and where its login starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProviderView {
    pub provider: crate::domain::Provider,
}

impl ProviderView {
    pub fn of(provider: crate::domain::Provider) -> Self {
        Self { provider }
    }

    /// `qq`, `wechat`, `weibo`: the icon's and the button class's name.
    pub fn slug(&self) -> &'static str {
        self.provider.as_str()
    }

    /// `QQ`, `微信`, `微博`.
    pub fn label(&self) -> &'static str {
        self.provider.label()
    }

    /// `openid`, or Weibo's `uid`: what its id of a person is called.
    pub fn id_name(&self) -> &'static str {
        self.provider.id_name()
    }

    /// Where its login starts (QQ keeps its seed route).
    pub fn authorize(&self) -> &'static str {
        use crate::domain::Provider as P;
        match self.provider {
            P::Qq => "/qq/authorize/",
            P::Wechat => "/oauth/wechat/authorize/",
            P::Weibo => "/oauth/weibo/authorize/",
        }
    }

    /// Its login, going on to `next` after; binding to the account logged in when `link`
    /// (`intent=link`, the user centre's 绑定QQ).
    pub fn login_href(&self, next: &str, link: bool) -> String {
        let mut href = format!("{}?next=", self.authorize());
        href.extend(url::form_urlencoded::byte_serialize(next.as_bytes()));
        if link {
            href.push_str("&intent=link");
        }
        href
    }

    /// Where its provider sends the browser back, and the bind form posts to.
    pub fn callback(&self) -> &'static str {
        use crate::domain::Provider as P;
        match self.provider {
            P::Qq => "/oauth_callback/",
            P::Wechat => "/oauth/wechat/callback/",
            P::Weibo => "/oauth/weibo/callback/",
        }
    }
}
