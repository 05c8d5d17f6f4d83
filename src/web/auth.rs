//! Who is logged in, and logging in.

use std::future::Future;
use std::pin::Pin;

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};

use crate::codes::keys;
use crate::db::{self, users::User};
use crate::state::AppState;
use crate::web::error::AppError;
use crate::web::session::TypedSession;

/// The `username` display cookie lives 15 days (seed 000).
pub const USERNAME_COOKIE_MAX_AGE: i64 = 15 * 24 * 3600;

pub use crate::login::DISABLED_MESSAGE;

/// How strictly a page checks that its session is still live in the code store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// A page that only shows: while the store cannot be asked, the session's own facts
    /// (times, epoch) are trusted (logged).
    ReadOnly,
    /// A page that changes something (a POST, the operators' pages): no store, no entry.
    Changes,
}

/// The logged-in, active user of this request, or `None`. A session that has timed out,
/// was logged out (no longer live in the code store), belongs to a disabled account or
/// to an older `session_epoch` is ended here.
pub async fn current_user(
    state: &AppState,
    session: &TypedSession,
    check: Check,
) -> Result<Option<User>, AppError> {
    let Some(facts) = session.login()? else {
        return Ok(None);
    };
    let now = state.clock.now();
    let settings = &state.settings;
    if facts.expired(
        now,
        settings.session_idle_timeout.as_secs() as i64,
        settings.session_max_age.as_secs() as i64,
    ) {
        tracing::info!(user_id = facts.user_id, "session timed out");
        session.log_out();
        return Ok(None);
    }
    match state.codes.get(&keys::live_session(&facts.sid)).await {
        Ok(Some(owner)) if owner == facts.user_id.to_string() => {}
        Ok(_) => {
            // Logged out, or a store that no longer knows it (restarted): over.
            session.log_out();
            return Ok(None);
        }
        Err(e) if check == Check::Changes => return Err(e.into()),
        Err(e) => {
            tracing::warn!(error = %e, "code store down: session liveness not checked (read-only page)")
        }
    }
    let uid = facts.user_id;
    let user = state
        .db
        .read_one(move |c| db::users::find_by_id(c, uid))
        .await?;
    let Some(user) =
        user.filter(|u| crate::login::refuse_disabled(u).is_ok() && u.session_epoch == facts.epoch)
    else {
        session.log_out();
        return Ok(None);
    };
    // Noted once a minute (each note rewrites the cookie), or more often for a short
    // idle timeout.
    let idle = settings.session_idle_timeout.as_secs() as i64;
    if now - facts.seen_at >= crate::web::session::TOUCH_EVERY_SECS.min(idle / 2).max(1) {
        session.touch(&facts, now)?;
        // The store keeps a session only as long as it may sit idle: abandoned ones go.
        let ttl = live_for(state, facts.remembered, facts.issued_at, now);
        let key = keys::live_session(&facts.sid);
        if let Err(e) = state.codes.set_ex(&key, &uid.to_string(), ttl).await {
            tracing::warn!(error = %e, "code store down: session not kept alive");
        }
        let lasts = state.settings.session_max_age;
        if let Err(e) = crate::sessions::seen(&state.codes, uid, &facts.sid, now, lasts).await {
            tracing::warn!(error = %e, "code store down: session's last visit not noted");
        }
    }
    Ok(Some(user))
}

/// How long the code store keeps a session live from `now`: until it would time out
/// idle (a remembered one: 14 days), and never past its maximum age.
fn live_for(state: &AppState, remembered: bool, issued_at: i64, now: i64) -> std::time::Duration {
    let settings = &state.settings;
    let idle = if remembered {
        crate::web::session::REMEMBERED_IDLE_SECS
    } else {
        settings.session_idle_timeout.as_secs() as i64
    };
    let left = settings.session_max_age.as_secs() as i64 - (now - issued_at);
    std::time::Duration::from_secs(idle.min(left).max(1) as u64)
}

/// The user of `req`'s session, checked as `check` asks (the extractors' common part).
fn user_of_request(
    req: &HttpRequest,
    payload: &mut Payload,
    check: impl FnOnce(&HttpRequest) -> Check + 'static,
) -> Pin<Box<dyn Future<Output = Result<Option<User>, AppError>>>> {
    let req = req.clone();
    let session = TypedSession::from_request(&req, payload).into_inner();
    Box::pin(async move {
        let session = session.map_err(AppError::internal)?;
        let state = req
            .app_data::<web::Data<AppState>>()
            .ok_or_else(|| AppError::internal("AppState missing"))?;
        current_user(state, &session, check(&req)).await
    })
}

/// Extractor for pages that need a login: anonymous visitors are sent to
/// `/login/?next=<this page>`. A page that changes something (any method but GET)
/// needs a session the code store vouches for.
pub struct LoggedIn(pub User);

impl FromRequest for LoggedIn {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let next = login_next(req, "/info/");
        let user = user_of_request(req, payload, |req| {
            if req.method() == actix_web::http::Method::GET {
                Check::ReadOnly
            } else {
                Check::Changes
            }
        });
        let due = consent_due(req);
        Box::pin(async move {
            let user = user
                .await?
                .ok_or(AppError::LoginRequired { next: next.clone() })?;
            if due {
                return Err(AppError::ConsentRequired { next });
            }
            Ok(Self(user))
        })
    }
}

/// Whether `req`'s session still owes its consent to the documents in force.
fn consent_due(req: &HttpRequest) -> bool {
    use actix_session::SessionExt;
    matches!(req.get_session().get::<bool>("consent_due"), Ok(Some(true)))
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
/// customers get 403. A handler that takes `Staff` cannot forget the check. Operators'
/// pages, even those that only show, never trust a session the code store cannot vouch
/// for.
pub struct Staff(pub User);

impl FromRequest for Staff {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let next = login_next(req, "/admin/");
        let user = user_of_request(req, payload, |_| Check::Changes);
        let due = consent_due(req);
        Box::pin(async move {
            match user.await? {
                Some(_) if due => Err(AppError::ConsentRequired { next }),
                Some(user) if user.is_staff => Ok(Self(user)),
                Some(_) => Err(AppError::Forbidden("您没有权限访问此页面".into())),
                None => Err(AppError::LoginRequired { next }),
            }
        })
    }
}

/// The browser's User-Agent, as sent.
pub fn user_agent(req: &HttpRequest) -> &str {
    req.headers()
        .get(actix_web::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// Extractor for what only a superuser may do (exports, mobile changes, making staff):
/// other staff get 403, customers too, anonymous visitors the login page.
pub struct Superuser(pub User);

impl FromRequest for Superuser {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let staff = Staff::from_request(req, payload);
        Box::pin(async move {
            let Staff(user) = staff.await?;
            if user.is_superuser {
                Ok(Self(user))
            } else {
                Err(AppError::Forbidden("需要超级管理员权限".into()))
            }
        })
    }
}

/// Logs `user` in by `method` (`password`, `register`, `qq`, `wechat`, `weibo`): new
/// session, live in the code store for as long as it may last and in the account's
/// session list; `last_login` and the login history; a requested closing (注销)
/// cancelled; the consent page due when the account has not accepted the documents in
/// force. Returns the `username` cookie to set.
pub async fn log_in(
    state: &AppState,
    req: &HttpRequest,
    session: &TypedSession,
    user: &User,
    remember: bool,
    method: &'static str,
) -> Result<Cookie<'static>, AppError> {
    let ip = crate::web::client::client(state, req).address();
    let ua = user_agent(req).to_owned();
    let noted = crate::self_service::note_login(
        &state.db,
        &state.logins,
        user,
        method,
        &ip,
        &ua,
        state.consent_versions(),
    )
    .await?;
    // A browser logging in again leaves no live copy of its last login behind, nor a
    // line in its account's session list.
    if let Some(before) = session.login()? {
        state.codes.delete(&keys::live_session(&before.sid)).await?;
        if let Err(e) = crate::sessions::forget(&state.codes, before.user_id, &before.sid).await {
            tracing::warn!(error = %e, "code store down: old session left in the list");
        }
    }
    let now = state.clock.now();
    let sid = session.log_in(user.id, user.session_epoch, remember, now)?;
    state
        .codes
        .set_ex(
            &keys::live_session(&sid),
            &user.id.to_string(),
            live_for(state, remember, now, now),
        )
        .await?;
    let info = crate::sessions::SessionInfo {
        created: now,
        ip,
        device: crate::sessions::device(&ua),
        seen: now,
    };
    if let Err(e) = crate::sessions::register(
        &state.codes,
        user.id,
        &sid,
        &info,
        state.settings.session_max_age,
    )
    .await
    {
        tracing::warn!(error = %e, "code store down: session not listed");
    }
    session.set_consent_due(!noted.consent_current)?;
    if noted.closing_cancelled {
        session.set_flash("欢迎回来，您的账号注销申请已取消")?;
    }
    Ok(username_cookie(state, &user.username))
}

/// Where a login goes on to: `next`, or first the consent page when it is due.
pub fn landing(session: &TypedSession, next: &str) -> String {
    if session.consent_due() {
        format!(
            "/consent/?next={}",
            percent_encoding::utf8_percent_encode(next, crate::web::error::QUERY_VALUE)
        )
    } else {
        next.to_owned()
    }
}

/// Ends this session for good: it is no longer live in the code store, so a copy of the
/// cookie is not logged in either. When the store cannot be told, every session of the
/// account ends instead (its epoch is raised): a logout never leaves a live copy.
pub async fn log_out(state: &AppState, session: &TypedSession) -> Result<(), AppError> {
    if let Some(facts) = session.login()? {
        if let Err(e) = state.codes.delete(&keys::live_session(&facts.sid)).await {
            tracing::warn!(error = %e, user_id = facts.user_id, "code store down: logout ends every session of the account");
            let uid = facts.user_id;
            state
                .db
                .write(move |c| Ok(db::users::raise_session_epoch(c, uid)?))
                .await?;
        }
    }
    session.log_out();
    Ok(())
}

/// A login of the JSON API: `last_login` and the login history (method `api`); no
/// session.
pub async fn record_login(
    state: &AppState,
    req: &HttpRequest,
    user: &User,
) -> Result<(), AppError> {
    let ip = crate::web::client::client(state, req).address();
    crate::self_service::note_login(
        &state.db,
        &state.logins,
        user,
        "api",
        &ip,
        user_agent(req),
        state.consent_versions(),
    )
    .await?;
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
