//! `TypedSession`: everything qqbind keeps in the (encrypted, signed) session cookie.
//!
//! - `sid`: this session's id; binds openid tokens and `state` to the browser, and is
//!   what logout revokes in the code store (a cookie cannot be revoked by itself).
//! - `uid`: the logged-in user.
//! - `csrf`: the seed CSRF tokens are signed from.
//! - `qq_pending`: QQ logins started here (`state` → `next`), single use, expiring.
//! - `qq_bind`: the pending bind after a callback: where to go next, the QQ profile.
//! - `flash`: a one-time notice for the next page.

use std::future::{ready, Ready};

use actix_session::{Session, SessionExt};
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use serde::{Deserialize, Serialize};

use crate::config::random_hex;
use crate::error::AppError;

const SID: &str = "sid";
const UID: &str = "uid";
const CSRF: &str = "csrf";
const QQ_PENDING: &str = "qq_pending";
const QQ_BIND: &str = "qq_bind";
const FLASH: &str = "flash";
pub const REMEMBER: &str = "remember";

/// At most this many QQ logins may be pending in one browser (several tabs).
const MAX_PENDING: usize = 3;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingLogin {
    pub state: String,
    pub next: String,
    pub expires_at: i64,
}

/// Set by the callback when the openid is not bound yet; read by the bind POST.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PendingBind {
    pub next: String,
    pub nickname: String,
    pub avatar_url: String,
}

pub struct TypedSession(Session);

impl FromRequest for TypedSession {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(Self(req.get_session())))
    }
}

impl TypedSession {
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

    pub fn user_id(&self) -> Result<Option<i32>, AppError> {
        Ok(self.0.get::<i32>(UID)?)
    }

    /// The CSRF seed, made on first use.
    pub fn csrf_seed(&self) -> Result<String, AppError> {
        if let Some(seed) = self.0.get::<String>(CSRF)? {
            return Ok(seed);
        }
        let seed = random_hex(16);
        self.0.insert(CSRF, &seed)?;
        Ok(seed)
    }

    pub fn existing_csrf_seed(&self) -> Result<Option<String>, AppError> {
        Ok(self.0.get::<String>(CSRF)?)
    }

    pub fn push_pending_login(&self, pending: PendingLogin, now: i64) -> Result<(), AppError> {
        let mut list = self
            .0
            .get::<Vec<PendingLogin>>(QQ_PENDING)?
            .unwrap_or_default();
        list.retain(|p| p.expires_at > now);
        list.push(pending);
        if list.len() > MAX_PENDING {
            let excess = list.len() - MAX_PENDING;
            list.drain(..excess);
        }
        self.0.insert(QQ_PENDING, list)?;
        Ok(())
    }

    /// Removes the pending login for `state` (before anything else looks at it: single
    /// use) and returns it when it was there and unexpired.
    pub fn take_pending_login(
        &self,
        state: &str,
        now: i64,
    ) -> Result<Option<PendingLogin>, AppError> {
        let Some(mut list) = self.0.get::<Vec<PendingLogin>>(QQ_PENDING)? else {
            return Ok(None);
        };
        let found = list
            .iter()
            .position(|p| p.state == state)
            .map(|i| list.remove(i));
        list.retain(|p| p.expires_at > now);
        self.0.insert(QQ_PENDING, list)?;
        Ok(found.filter(|p| p.expires_at > now))
    }

    pub fn set_pending_bind(&self, bind: &PendingBind) -> Result<(), AppError> {
        self.0.insert(QQ_BIND, bind)?;
        Ok(())
    }

    pub fn pending_bind(&self) -> Result<Option<PendingBind>, AppError> {
        Ok(self.0.get::<PendingBind>(QQ_BIND)?)
    }

    /// A one-time notice for the next page this browser sees ("已解除QQ绑定").
    pub fn set_flash(&self, message: &str) -> Result<(), AppError> {
        self.0.insert(FLASH, message)?;
        Ok(())
    }

    pub fn take_flash(&self) -> Result<Option<String>, AppError> {
        Ok(self.0.remove_as::<String>(FLASH).and_then(Result::ok))
    }

    /// Starts a logged-in session: a new session id (the old cookie's state is dropped,
    /// so a fixated session gains nothing), a new CSRF seed.
    pub fn log_in(&self, user_id: i32, remember: bool) -> Result<(), AppError> {
        self.0.clear();
        self.0.renew();
        self.0.insert(SID, random_hex(16))?;
        self.0.insert(CSRF, random_hex(16))?;
        self.0.insert(UID, user_id)?;
        if remember {
            self.0.insert(REMEMBER, true)?;
        }
        Ok(())
    }

    pub fn log_out(&self) {
        self.0.purge();
    }
}

/// Whether the request's session asked to be remembered (used by the cookie middleware).
pub fn wants_remember(req: &HttpRequest) -> bool {
    matches!(req.get_session().get::<bool>(REMEMBER), Ok(Some(true)))
}
