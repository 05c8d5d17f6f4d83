//! What every handler shares.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use crate::codes::sms::SmsProvider;
use crate::codes::CodeStore;
use crate::config::Settings;
use crate::db::Db;
use crate::providers::Providers;
use crate::signer::Signer;

#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    /// The database: `read_one`, `read`, `write`.
    pub db: Db,
    pub codes: CodeStore,
    /// QQ, and WeChat and Weibo when they are on.
    pub providers: Providers,
    pub signer: Signer,
    pub sms: SmsProvider,
    /// What time it is for sessions, openid tokens and `state`s.
    pub clock: Clock,
    /// The dashboard's daily counts, on their way to the database.
    pub counts: crate::counts::Counter,
    /// The login history on its way to the database; who consented.
    pub logins: crate::counts::LoginLog,
}

impl AppState {
    /// The versions of 《用户协议》 and 《隐私政策》 in force.
    pub fn consent_versions(&self) -> (String, String) {
        (
            self.settings.terms_version.clone(),
            self.settings.privacy_version.clone(),
        )
    }

    /// The parts the account services read (see [`Deps`]).
    pub fn deps(&self) -> Deps<'_> {
        Deps {
            db: &self.db,
            codes: &self.codes,
            signer: &self.signer,
            clock: &self.clock,
            bcrypt_cost: self.settings.bcrypt_cost,
        }
    }
}

/// What the account services (binds, registrations) use: the database, the code store,
/// the signer, the clock and the bcrypt cost, and nothing else of [`AppState`]. Tests
/// build one from a temporary SQLite file and an in-process store, with no HTTP.
#[derive(Clone, Copy)]
pub struct Deps<'a> {
    pub db: &'a Db,
    pub codes: &'a CodeStore,
    pub signer: &'a Signer,
    pub clock: &'a Clock,
    pub bcrypt_cost: u32,
}

/// What time it is, in Unix seconds: the system's, or one that only moves when told to
/// (tests of timeouts, which then need no sleeping).
#[derive(Clone, Default)]
pub struct Clock(Option<Arc<AtomicI64>>);

impl Clock {
    pub fn system() -> Self {
        Self(None)
    }

    /// A clock standing at `start` until [`Clock::advance`] moves it.
    pub fn manual(start: i64) -> Self {
        Self(Some(Arc::new(AtomicI64::new(start))))
    }

    pub fn now(&self) -> i64 {
        match &self.0 {
            None => unix_now(),
            Some(t) => t.load(Ordering::Relaxed),
        }
    }

    /// Moves a manual clock on by `secs` (the system clock moves by itself).
    pub fn advance(&self, secs: i64) {
        if let Some(t) = &self.0 {
            t.fetch_add(secs, Ordering::Relaxed);
        }
    }
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}
