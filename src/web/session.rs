//! `TypedSession`: everything qqbind keeps in the (encrypted, signed) session cookie.
//!
//! - `sid`: this session's id; binds openid tokens and `state` to the browser, and is
//!   what logout revokes in the code store (a cookie cannot be revoked by itself).
//! - `login`: the logged-in user, when this login began and when it was last used (idle
//!   and absolute timeouts), and the account's `session_epoch` when it began (raised by
//!   disable, logout everywhere, password changes: older sessions end). One key, a JSON
//!   array `[uid, iat, seen, epoch]`: the cookie is decrypted, parsed, written and
//!   encrypted again on every request that changes it, and each key costs there.
//! - `csrf`: the seed CSRF tokens were signed from, in cookies written before they were
//!   signed from `sid`; still honoured until the next login.
//! - `qq_pending`: QQ logins started here (`state` → `next`), as cookies kept them before
//!   the code store did (`login::qq::issue_state`); read once, then dropped.
//! - `qq_bind`: the pending bind after a callback: where to go next, the QQ profile.
//! - `flash`: a one-time notice for the next page.

use std::future::{ready, Ready};

use actix_session::{Session, SessionExt};
use actix_web::dev::Payload;
use actix_web::dev::ServiceResponse;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{FromRequest, HttpRequest};
use serde::{Deserialize, Serialize};

use crate::config::random_hex;
use crate::domain::Provider;
use crate::login::qq::PendingLogin;
use crate::web::error::AppError;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "qqbind_session";

const SID: &str = "sid";
const LOGIN: &str = "login";
// A login as cookies written before `login` held it (one key each): still honoured, and
// rewritten to `login`. This can go once no such session can still be alive (the
// maximum session age after the release that brought `login`).
const UID: &str = "uid";
const IAT: &str = "iat";
const SEEN: &str = "seen";
const EPOCH: &str = "epoch";
const CSRF: &str = "csrf";
const QQ_PENDING: &str = "qq_pending";
const QQ_BIND: &str = "qq_bind";
const FLASH: &str = "flash";
const FIRST_VISIT: &str = "first_visit";
const SMS_MOBILE: &str = "sms_mobile";
const LOGIN_AS: &str = "login_as";
const CONSENT_DUE: &str = "consent_due";
pub const REMEMBER: &str = "remember";

/// A pending login as the cookie kept it before the code store kept it (in
/// `qq_pending`): read by the callbacks of logins started before the upgrade.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct CookiePending {
    state: String,
    expires_at: i64,
    #[serde(flatten)]
    login: PendingLogin,
}

/// Set by the callback when the openid is not bound yet; read by the bind POST, and by
/// a reload of the callback (or `GET /oauth_callback/` with no query: Back, a reopened
/// tab), which shows the same form again until it is used or expires.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PendingBind {
    pub next: String,
    /// Kept flat in the cookie (`nickname`, `avatar_url`), as before.
    #[serde(flatten)]
    pub profile: crate::login::qq::Profile,
    /// The callback's `state` and a digest of its `code`: the URL a reload repeats.
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub code_digest: String,
    /// The signed openid token the form carries (bound to this session).
    #[serde(default)]
    pub access_token: String,
    /// Unix seconds: when the token, and so this pending bind, expires.
    #[serde(default)]
    pub expires_at: i64,
    /// For the account logged in (the confirmation page), not the bind form.
    #[serde(default)]
    pub link: bool,
    #[serde(default, skip_serializing_if = "Provider::is_qq")]
    pub provider: Provider,
    /// The account (masked) this identity's unionid leads to: the page asks the person
    /// to confirm it is theirs, and no bind form is offered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub same_person: Option<String>,
}

impl PendingBind {
    /// Whether a reload at `now` may show the form again.
    pub fn live(&self, now: i64) -> bool {
        !self.access_token.is_empty() && self.expires_at > now
    }

    /// Whether `state` and `code` are the callback this pending bind came from.
    pub fn came_from(&self, state: &str, code: &str) -> bool {
        !self.state.is_empty() && self.state == state && self.code_digest == code_digest(code)
    }
}

/// What the session keeps of a callback's `code` (used once; kept only to recognise a
/// reload of the same URL).
pub fn code_digest(code: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(code.as_bytes()))
}

pub struct TypedSession(Session);

/// What a logged-in session says of itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginFacts {
    pub sid: String,
    pub user_id: i32,
    /// Unix seconds: when the login happened.
    pub issued_at: i64,
    /// Unix seconds: the last request seen (to the minute).
    pub seen_at: i64,
    pub epoch: i32,
    pub remembered: bool,
}

impl LoginFacts {
    /// Whether this login has ended by itself at `now`: idle for longer than `idle`
    /// (a remembered one: [`REMEMBERED_IDLE_SECS`]) or older than `max_age`.
    pub fn expired(&self, now: i64, idle: i64, max_age: i64) -> bool {
        let idle = if self.remembered {
            REMEMBERED_IDLE_SECS
        } else {
            idle
        };
        now - self.seen_at > idle || now - self.issued_at > max_age || now < self.issued_at - 300
    }
}

/// A remembered session ("记住登录") may sit idle this long (14 days).
pub const REMEMBERED_IDLE_SECS: i64 = 14 * 24 * 3600;
/// Activity is noted at most once a minute (each note rewrites the cookie).
pub const TOUCH_EVERY_SECS: i64 = 60;

impl FromRequest for TypedSession {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(Self(req.get_session())))
    }
}

impl TypedSession {
    /// Removes `key` when the session holds it. actix-session marks a session changed
    /// on any removal, present or not, and a changed session is written back: a page
    /// that only looks for a notice would rewrite the cookie on every view, and a
    /// rewrite racing another tab's answer (a notice set, a pending login) can put back
    /// the cookie that tab's answer had just replaced.
    fn drop_key(&self, key: &str) {
        if self.0.entries().contains_key(key) {
            self.0.remove(key);
        }
    }

    /// This session's id, made on first use.
    pub fn sid(&self) -> Result<String, AppError> {
        if let Some(sid) = self.0.get::<String>(SID)? {
            return Ok(sid);
        }
        let sid = random_hex(16);
        self.0.insert(SID, &sid)?;
        Ok(sid)
    }

    /// The id, if this session has one (no new one is made).
    pub fn existing_sid(&self) -> Result<Option<String>, AppError> {
        Ok(self.0.get::<String>(SID)?)
    }

    /// The seed this session's CSRF tokens are signed from: its id (made on first use,
    /// as for an anonymous visitor's first form). A logged-in session has its id from
    /// the login, so its forms write nothing to the cookie: two tabs opened at once
    /// after a login carry tokens of the same seed, where a seed made by the first form
    /// raced (each tab made one, and the cookie kept only the last: the other tab's
    /// form answered 403). The token is an HMAC under its own key (`Signer`), so it
    /// tells nothing of the id, and the id is never shown (pages show `sessions::handle`).
    /// A session whose cookie still carries a seed of its own (written before) keeps
    /// using it until its next login, so a form open across the upgrade still works.
    pub fn csrf_seed(&self) -> Result<String, AppError> {
        match self.existing_csrf_seed()? {
            Some(seed) => Ok(seed),
            None => self.sid(),
        }
    }

    /// The CSRF seed, if this session has one (none is made, for checking a POST).
    pub fn existing_csrf_seed(&self) -> Result<Option<String>, AppError> {
        match self.0.get::<String>(CSRF)? {
            Some(seed) => Ok(Some(seed)),
            None => self.existing_sid(),
        }
    }

    /// The login started as `state` when this cookie kept it (a login started before
    /// the code store kept them, see `login::qq::issue_state`): removed, and returned
    /// when it was there and unexpired.
    pub fn take_cookie_pending_login(
        &self,
        state: &str,
        now: i64,
    ) -> Result<Option<PendingLogin>, AppError> {
        let Some(mut list) = self.0.get::<Vec<CookiePending>>(QQ_PENDING)? else {
            return Ok(None);
        };
        let found = list
            .iter()
            .position(|p| p.state == state)
            .map(|i| list.remove(i));
        list.retain(|p| p.expires_at > now);
        if list.is_empty() {
            self.drop_key(QQ_PENDING);
        } else {
            self.0.insert(QQ_PENDING, list)?;
        }
        Ok(found.filter(|p| p.expires_at > now).map(|p| p.login))
    }

    pub fn set_pending_bind(&self, bind: &PendingBind) -> Result<(), AppError> {
        self.0.insert(QQ_BIND, bind)?;
        Ok(())
    }

    pub fn pending_bind(&self) -> Result<Option<PendingBind>, AppError> {
        Ok(self.0.get::<PendingBind>(QQ_BIND)?)
    }

    /// The pending bind is used (or refused for good): a reload no longer shows it.
    pub fn clear_pending_bind(&self) {
        self.drop_key(QQ_BIND);
    }

    /// A one-time notice for the next page this browser sees ("已解除QQ绑定").
    pub fn set_flash(&self, message: &str) -> Result<(), AppError> {
        self.0.insert(FLASH, message)?;
        Ok(())
    }

    pub fn take_flash(&self) -> Result<Option<String>, AppError> {
        // A notice that does not read (a cookie of another version) is dropped, unread.
        let flash = self.0.get::<String>(FLASH).ok().flatten();
        self.drop_key(FLASH);
        Ok(flash)
    }

    /// The login page shows `login` in its username field, once: the mobile whose
    /// password was just reset here.
    pub fn set_login_as(&self, login: &str) -> Result<(), AppError> {
        self.0.insert(LOGIN_AS, login)?;
        Ok(())
    }

    pub fn take_login_as(&self) -> Option<String> {
        let login = self.0.get::<String>(LOGIN_AS).ok().flatten();
        self.drop_key(LOGIN_AS);
        login
    }

    /// The mobile this browser last had a bind or register code sent to: a reloaded
    /// form shows it again, with the SMS button's wait.
    pub fn set_sms_mobile(&self, mobile: &str) -> Result<(), AppError> {
        self.0.insert(SMS_MOBILE, mobile)?;
        Ok(())
    }

    pub fn sms_mobile(&self) -> Result<Option<String>, AppError> {
        Ok(self.0.get::<String>(SMS_MOBILE)?)
    }

    /// The account was made just now by a bind with `provider`: the next home page greets
    /// a newcomer and names the way back in.
    pub fn set_first_visit(&self, provider: Provider) -> Result<(), AppError> {
        self.0.insert(FIRST_VISIT, provider.as_str())?;
        Ok(())
    }

    /// The provider of the bind that made the account just now, once. (A session of the
    /// version before kept `true` here: it reads as no greeting.)
    pub fn take_first_visit(&self) -> Option<Provider> {
        let first = self.0.get::<String>(FIRST_VISIT).ok().flatten();
        self.drop_key(FIRST_VISIT);
        first.as_deref().and_then(Provider::parse)
    }

    /// The account logged in has not accepted the documents in force: every page that
    /// needs the login sends it to the consent page first.
    pub fn set_consent_due(&self, due: bool) -> Result<(), AppError> {
        if due {
            self.0.insert(CONSENT_DUE, true)?;
        } else {
            self.drop_key(CONSENT_DUE);
        }
        Ok(())
    }

    pub fn consent_due(&self) -> bool {
        matches!(self.0.get::<bool>(CONSENT_DUE), Ok(Some(true)))
    }

    /// Starts a logged-in session: a new session id (the old cookie's state is dropped,
    /// so a fixated session gains nothing, its CSRF seed included), the login's times and
    /// the account's epoch. Returns the new session id.
    pub fn log_in(
        &self,
        user_id: i32,
        epoch: i32,
        remember: bool,
        now: i64,
    ) -> Result<String, AppError> {
        self.0.clear();
        self.0.renew();
        let sid = random_hex(16);
        self.0.insert(SID, &sid)?;
        // The CSRF tokens are signed from the new id (the old seed is gone with the
        // rest): every tab of this login shares them.
        self.0.insert(LOGIN, (user_id, now, now, epoch))?;
        if remember {
            self.0.insert(REMEMBER, true)?;
        }
        Ok(sid)
    }

    /// The logged-in session's facts, when it is one and carries them all.
    pub fn login(&self) -> Result<Option<LoginFacts>, AppError> {
        let Some(sid) = self.0.get::<String>(SID)? else {
            return Ok(None);
        };
        let login = match self.0.get::<(i32, i64, i64, i32)>(LOGIN)? {
            Some(login) => login,
            None => match self.login_kept_apart()? {
                Some(login) => login,
                None => return Ok(None),
            },
        };
        let (user_id, issued_at, seen_at, epoch) = login;
        Ok(Some(LoginFacts {
            sid,
            user_id,
            issued_at,
            seen_at,
            epoch,
            remembered: matches!(self.0.get::<bool>(REMEMBER), Ok(Some(true))),
        }))
    }

    /// A login as cookies from before `login` kept it, a key each; none when a key is
    /// missing (a login from before sessions carried their times is not honoured).
    fn login_kept_apart(&self) -> Result<Option<(i32, i64, i64, i32)>, AppError> {
        let Some(user_id) = self.0.get::<i32>(UID)? else {
            return Ok(None);
        };
        let get = |k| self.0.get::<i64>(k);
        let (Some(issued_at), Some(seen_at), Some(epoch)) =
            (get(IAT)?, get(SEEN)?, self.0.get::<i32>(EPOCH)?)
        else {
            return Ok(None);
        };
        for old in [UID, IAT, SEEN, EPOCH] {
            self.drop_key(old);
        }
        let login = (user_id, issued_at, seen_at, epoch);
        self.0.insert(LOGIN, login)?;
        Ok(Some(login))
    }

    /// Notes activity of login `l` at `now` (the idle timeout counts from here).
    pub fn touch(&self, l: &LoginFacts, now: i64) -> Result<(), AppError> {
        self.0
            .insert(LOGIN, (l.user_id, l.issued_at, now, l.epoch))?;
        Ok(())
    }

    /// Drops everything this session held and gives it a new key: the cookie that goes
    /// back carries nothing but what is set after (a notice for the login page).
    pub fn log_out(&self) {
        self.0.clear();
        self.0.renew();
    }
}

/// Whether the request's session asked to be remembered (used by the cookie middleware).
pub fn wants_remember(req: &HttpRequest) -> bool {
    matches!(req.get_session().get::<bool>(REMEMBER), Ok(Some(true)))
}

/// "记住登录", in two steps around the session middleware: inside it, a response whose
/// session asked to be remembered is marked ([`note_remember`]); outside it, where the
/// cookie has been written, that cookie gets a `Max-Age` so it outlives the browser
/// ([`persist_remembered`]). Any other session cookie ends with the browser.
#[derive(Clone, Copy)]
struct RememberSession;

pub fn note_remember(res: &mut ServiceResponse) {
    if wants_remember(res.request()) {
        res.response_mut().extensions_mut().insert(RememberSession);
    }
}

pub fn persist_remembered(res: &mut ServiceResponse, max_age: u64) {
    if res.response().extensions().contains::<RememberSession>() {
        persist_session_cookie(res, max_age);
    }
}

fn persist_session_cookie(res: &mut ServiceResponse, max_age: u64) {
    let prefix = format!("{SESSION_COOKIE}=");
    let headers = res.response_mut().headers_mut();
    let cookies: Vec<HeaderValue> = headers.get_all(header::SET_COOKIE).cloned().collect();
    headers.remove(header::SET_COOKIE);
    for value in cookies {
        let rewritten = value.to_str().ok().and_then(|s| {
            let is_live_session =
                s.starts_with(&prefix) && !s.contains("Max-Age") && !s.contains("Expires");
            is_live_session
                .then(|| HeaderValue::from_str(&format!("{s}; Max-Age={max_age}")).ok())
                .flatten()
        });
        headers.append(header::SET_COOKIE, rewritten.unwrap_or(value));
    }
}
