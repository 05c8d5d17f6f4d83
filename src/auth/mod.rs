//! Who is logged in, and logging in.

pub mod password;

use std::future::Future;
use std::pin::Pin;

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};

use crate::codes::keys;
use crate::db::{self, users::User};
use crate::error::AppError;
use crate::session::TypedSession;
use crate::state::AppState;

/// The `username` display cookie lives 15 days (seed 000).
pub const USERNAME_COOKIE_MAX_AGE: i64 = 15 * 24 * 3600;
/// A logout revocation is kept as long as a remembered session may live.
pub const SESSION_MAX_AGE_SECS: u64 = 14 * 24 * 3600;

/// What a disabled account is told, on every way in (whatever the password).
pub const DISABLED_MESSAGE: &str = "该账号已被禁用，请联系客服";

/// The logged-in, active user of this request, or `None`.
pub async fn current_user(
    state: &AppState,
    session: &TypedSession,
) -> Result<Option<User>, AppError> {
    let (Some(uid), Some(sid)) = (session.user_id()?, session.existing_sid()?) else {
        return Ok(None);
    };
    match state.codes.get(&keys::revoked_session(&sid)).await {
        Ok(Some(_)) => return Ok(None),
        Ok(None) => {}
        // Logged-in pages keep working through a code-store outage; a logged-out
        // cookie replayed meanwhile is the price (the outage is in the log).
        Err(e) => tracing::warn!(error = %e, "code store down: session revocation not checked"),
    }
    let user = state
        .reader
        .read(move |c| db::users::find_by_id(c, uid))
        .await?;
    Ok(user.filter(|u| u.is_active))
}

/// Extractor for pages that need a login: anonymous visitors are sent to
/// `/login/?next=<this page>`.
pub struct LoggedIn(pub User);

impl FromRequest for LoggedIn {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let session = TypedSession::from_request(&req, payload).into_inner();
        Box::pin(async move {
            let session = session.map_err(AppError::internal)?;
            let state = req
                .app_data::<web::Data<AppState>>()
                .ok_or_else(|| AppError::internal("AppState missing"))?;
            match current_user(state, &session).await? {
                Some(user) => Ok(Self(user)),
                None => Err(AppError::LoginRequired {
                    next: login_next(&req, "/info/"),
                }),
            }
        })
    }
}

/// Where to come back to after logging in: this page, or for a form post (which
/// cannot be repeated by a redirect) the page the form belongs to.
fn login_next(req: &HttpRequest, form_page: &str) -> String {
    if req.method() == actix_web::http::Method::GET {
        req.uri()
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned()
    } else {
        form_page.to_owned()
    }
}

/// Extractor for the operators' pages: anonymous visitors go to the login page, logged-in
/// customers get 403. A handler that takes `Staff` cannot forget the check.
pub struct Staff(pub User);

impl FromRequest for Staff {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let logged_in = LoggedIn::from_request(req, payload);
        let req = req.clone();
        Box::pin(async move {
            match logged_in.await {
                Ok(LoggedIn(user)) if user.is_staff => Ok(Self(user)),
                Ok(_) => Err(AppError::Forbidden("您没有权限访问此页面".into())),
                Err(AppError::LoginRequired { .. }) => Err(AppError::LoginRequired {
                    next: login_next(&req, "/admin/"),
                }),
                Err(e) => Err(e),
            }
        })
    }
}

/// Logs `user` in: new session, `last_login`. Returns the `username` cookie to set.
pub async fn log_in(
    state: &AppState,
    session: &TypedSession,
    user: &User,
    remember: bool,
) -> Result<Cookie<'static>, AppError> {
    record_login(state, user).await?;
    session.log_in(user.id, remember)?;
    Ok(username_cookie(state, &user.username))
}

/// Sets `user`'s `last_login` to now, unless the recorded one is less than a minute old
/// (then nothing is written: see [`db::users::LAST_LOGIN_RESOLUTION_SECS`]).
pub async fn record_login(state: &AppState, user: &User) -> Result<(), AppError> {
    let (id, now) = (user.id, db::now());
    if db::users::login_is_news(user.last_login, now) {
        db::write(&state.db, move |c| {
            Ok(db::users::touch_last_login(c, id, now)?)
        })
        .await?;
    }
    Ok(())
}

fn username_cookie(state: &AppState, username: &str) -> Cookie<'static> {
    // Usernames are `[A-Za-z0-9_-]`: stored as typed; anything else is percent-encoded.
    const COOKIE_VALUE: &percent_encoding::AsciiSet =
        &percent_encoding::NON_ALPHANUMERIC.remove(b'_').remove(b'-');
    let value = percent_encoding::utf8_percent_encode(username, COOKIE_VALUE).to_string();
    Cookie::build("username", value)
        .path("/")
        .max_age(CookieDuration::seconds(USERNAME_COOKIE_MAX_AGE))
        .same_site(SameSite::Lax)
        .secure(state.settings.session_cookie_secure)
        .finish()
}

/// The cookie that deletes `username`.
pub fn username_cookie_removal() -> Cookie<'static> {
    let mut c = Cookie::build("username", "").path("/").finish();
    c.make_removal();
    c
}
