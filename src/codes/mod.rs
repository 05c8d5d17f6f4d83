//! Verification codes and other short-lived values (spec section 3).
//!
//! One interface, [`CodeStore`], with two implementations: in-process (default, one
//! instance only) and Redis (deadpool-redis) with keys and values compatible with a
//! Meiduo deployment sharing the same Redis. Every operation that consumes a value is
//! atomic in both, so two racing requests cannot both use one code.

pub mod captcha;
pub mod memory;
pub mod redis;
pub mod service;
pub mod sms;
pub mod tencent;

use std::time::Duration;

pub use self::memory::MemoryStore;
pub use self::redis::RedisStore;

/// Key names and lifetimes. The Meiduo keys are kept exactly; ours use `qqbind:`.
pub mod keys {
    use std::time::Duration;

    pub const IMAGE_CODE_TTL: Duration = Duration::from_secs(300);
    pub const SMS_CODE_TTL: Duration = Duration::from_secs(300);
    pub const SEND_FLAG_TTL: Duration = Duration::from_secs(60);
    /// Wrong SMS codes allowed before the code is thrown away.
    pub const SMS_MAX_TRIES: i64 = 5;

    pub fn image(uuid: &str) -> String {
        format!("img_{uuid}")
    }
    pub fn sms(mobile: &str) -> String {
        format!("sms_{mobile}")
    }
    pub fn send_flag(mobile: &str) -> String {
        format!("send_flag_{mobile}")
    }
    pub fn sms_tries(mobile: &str) -> String {
        format!("qqbind:sms_tries:{mobile}")
    }
    /// A password-recovery code: apart from the bind and register code of the same
    /// mobile, so that neither can stand in for the other.
    pub fn sms_reset(mobile: &str) -> String {
        format!("sms_reset_{mobile}")
    }
    pub fn send_flag_reset(mobile: &str) -> String {
        format!("send_flag_reset_{mobile}")
    }
    pub fn sms_reset_tries(mobile: &str) -> String {
        format!("qqbind:sms_tries:reset:{mobile}")
    }
    pub fn qq_state(state: &str) -> String {
        format!("qqbind:qq_state:{state}")
    }
    /// Counts the uses of a JSON-API `state` (its nonce): only the first goes through.
    pub fn api_state(nonce: &str) -> String {
        format!("qqbind:api_state:{nonce}")
    }
    /// WeChat takes a `state` of at most 128 letters and digits: the API's signed state
    /// is kept here under a short reference, which is what WeChat carries.
    pub fn api_state_ref(reference: &str) -> String {
        format!("qqbind:api_state_ref:{reference}")
    }
    /// A logged-in session that is live (its value: the user id). Logout deletes it; a
    /// session without it is over, whatever its cookie says.
    pub fn live_session(sid: &str) -> String {
        format!("qqbind:session:{sid}")
    }
    /// The registry of an account's sessions: a hash, one field per session id, its
    /// value what the customer's list shows (created, last seen, IP, device).
    pub fn sessions_of(user_id: i32) -> String {
        format!("qqbind:sessions:{user_id}")
    }
}

/// What an SMS code is for. Each purpose has its own code, send flag and wrong-try
/// counter, so a code sent for one never works for another.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Purpose {
    /// Binding a QQ and registering (the Meiduo keys `sms_<mobile>`).
    #[default]
    Bind,
    /// Password recovery (`sms_reset_<mobile>`).
    Reset,
    /// Closing the account (注销, `sms_delete_<mobile>`): only to a mobile with an account.
    Delete,
}

impl Purpose {
    /// `?purpose=`: absent or empty is the bind and register code; `reset`; nothing else.
    pub fn parse(s: Option<&str>) -> Option<Self> {
        match s.map(str::trim).unwrap_or_default() {
            "" | "bind" | "register" => Some(Self::Bind),
            "reset" => Some(Self::Reset),
            "delete" => Some(Self::Delete),
            _ => None,
        }
    }

    /// Where the code of `mobile` for this purpose is kept.
    pub fn code_key(self, mobile: &str) -> String {
        match self {
            Self::Bind => keys::sms(mobile),
            Self::Reset => keys::sms_reset(mobile),
            Self::Delete => format!("sms_delete_{mobile}"),
        }
    }

    /// Its 60 s send flag.
    pub fn flag_key(self, mobile: &str) -> String {
        match self {
            Self::Bind => keys::send_flag(mobile),
            Self::Reset => keys::send_flag_reset(mobile),
            Self::Delete => format!("send_flag_delete_{mobile}"),
        }
    }

    /// Its wrong-try counter.
    pub fn tries_key(self, mobile: &str) -> String {
        match self {
            Self::Bind => keys::sms_tries(mobile),
            Self::Reset => keys::sms_reset_tries(mobile),
            Self::Delete => format!("qqbind:sms_tries:delete:{mobile}"),
        }
    }
}

/// The store could not be reached or did not answer in time.
#[derive(Debug, thiserror::Error)]
#[error("code store unavailable: {0}")]
pub struct StoreError(pub String);

#[derive(Clone)]
pub enum CodeStore {
    Memory(MemoryStore),
    Redis(RedisStore),
}

// Each Redis call is boxed: its future is 6 KiB (the pool, the connection, the command),
// and an `async fn` over this enum is as large as its largest branch, so every future
// that awaits the store (a login awaits it five times) carried those kilobytes and
// copied them at each move, with the in-process store too.
impl CodeStore {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Memory(_) => "memory",
            Self::Redis(_) => "redis",
        }
    }

    /// Stores `value` under `key` for `ttl`, replacing any value.
    pub async fn set_ex(&self, key: &str, value: &str, ttl: Duration) -> Result<(), StoreError> {
        match self {
            Self::Memory(s) => {
                s.set_ex(key, value, ttl);
                Ok(())
            }
            Self::Redis(s) => Box::pin(s.set_ex(key, value, ttl)).await,
        }
    }

    pub async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        match self {
            Self::Memory(s) => Ok(s.get(key)),
            Self::Redis(s) => Box::pin(s.get(key)).await,
        }
    }

    /// Reads and deletes in one step (Redis `GETDEL`).
    pub async fn take(&self, key: &str) -> Result<Option<String>, StoreError> {
        match self {
            Self::Memory(s) => Ok(s.take(key)),
            Self::Redis(s) => Box::pin(s.take(key)).await,
        }
    }

    /// Deletes `key` only if it holds `expected`, in one step; true when it did.
    pub async fn take_if_equals(&self, key: &str, expected: &str) -> Result<bool, StoreError> {
        match self {
            Self::Memory(s) => Ok(s.take_if_equals(key, expected)),
            Self::Redis(s) => Box::pin(s.take_if_equals(key, expected)).await,
        }
    }

    pub async fn delete(&self, key: &str) -> Result<(), StoreError> {
        match self {
            Self::Memory(s) => {
                s.delete(key);
                Ok(())
            }
            Self::Redis(s) => Box::pin(s.delete(key)).await,
        }
    }

    /// Adds one to a counter and returns the new count; a new counter lives `ttl`.
    pub async fn incr(&self, key: &str, ttl: Duration) -> Result<i64, StoreError> {
        match self {
            Self::Memory(s) => Ok(s.incr(key, ttl)),
            Self::Redis(s) => Box::pin(s.incr(key, ttl)).await,
        }
    }

    /// Takes one from an existing counter (never below zero) and returns the new count;
    /// a missing counter stays missing (0).
    pub async fn decr(&self, key: &str) -> Result<i64, StoreError> {
        match self {
            Self::Memory(s) => Ok(s.decr(key)),
            Self::Redis(s) => Box::pin(s.decr(key)).await,
        }
    }

    /// Stores a new SMS code for `mobile` and sets its 60 s send flag in one step,
    /// resetting the wrong-try counter. False (and nothing stored) while the flag is
    /// still set.
    pub async fn put_sms_code(&self, mobile: &str, code: &str) -> Result<bool, StoreError> {
        self.put_code(Purpose::Bind, mobile, code).await
    }

    /// [`CodeStore::put_sms_code`] for the code of `purpose`.
    pub async fn put_code(
        &self,
        purpose: Purpose,
        mobile: &str,
        code: &str,
    ) -> Result<bool, StoreError> {
        match self {
            Self::Memory(s) => Ok(s.put_code(purpose, mobile, code)),
            Self::Redis(s) => Box::pin(s.put_code(purpose, mobile, code)).await,
        }
    }

    /// Time left on `key`, if it exists and expires.
    pub async fn ttl(&self, key: &str) -> Result<Option<Duration>, StoreError> {
        match self {
            Self::Memory(s) => Ok(s.ttl(key)),
            Self::Redis(s) => Box::pin(s.ttl(key)).await,
        }
    }

    /// Sets `field` of the hash `key` to `value`; the hash lives at least `ttl` more.
    pub async fn hset(
        &self,
        key: &str,
        field: &str,
        value: &str,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        match self {
            Self::Memory(s) => {
                s.hset(key, field, value, ttl);
                Ok(())
            }
            Self::Redis(s) => Box::pin(s.hset(key, field, value, ttl)).await,
        }
    }

    /// Every field of the hash `key` (none when it is gone).
    pub async fn hgetall(&self, key: &str) -> Result<Vec<(String, String)>, StoreError> {
        match self {
            Self::Memory(s) => Ok(s.hgetall(key)),
            Self::Redis(s) => Box::pin(s.hgetall(key)).await,
        }
    }

    pub async fn hdel(&self, key: &str, field: &str) -> Result<(), StoreError> {
        match self {
            Self::Memory(s) => {
                s.hdel(key, field);
                Ok(())
            }
            Self::Redis(s) => Box::pin(s.hdel(key, field)).await,
        }
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        match self {
            Self::Memory(_) => Ok(()),
            Self::Redis(s) => Box::pin(s.ping()).await,
        }
    }
}
