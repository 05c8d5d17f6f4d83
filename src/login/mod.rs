//! Password checks, once for every way in: the login form, the bind form's row 7, the
//! API's binds. Each check of an account's password counts against one per-account
//! counter keyed by the account's id (whatever was typed to name it), before bcrypt
//! runs, so a burst of guesses evaluates at most the limit.
//!
//! Past [`limits::LOGIN_FAILS_PER_ACCOUNT`] failures, every check of that account needs
//! the image captcha too; past [`limits::LOGIN_FAILS_PER_ACCOUNT_NET`] failures from one
//! client network, that network is locked out of the account for the window (429). A
//! stranger's guesses thus cost the owner a captcha, never his account.

pub mod password;
pub mod qq;

use crate::codes::service::{CaptchaAnswer, CaptchaError};
use crate::codes::CodeStore;
use crate::db::{users, users::User, Db};
use crate::fault::Unavailable;
use crate::limits::{self, Guard, Limited, Refused};

/// What a disabled account is told, on every way in (whatever the password).
pub const DISABLED_MESSAGE: &str = "该账号已被禁用，请联系客服";

/// A refused password check. `Display` is what the user is told.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// No such account, or the wrong password (one message for both).
    #[error("用户名或密码错误")]
    Wrong,
    #[error("{}", DISABLED_MESSAGE)]
    Disabled,
    /// The account is under attack: the image captcha is needed, and was not right.
    #[error("{0}")]
    Captcha(CaptchaError),
    #[error("{0}")]
    Limited(Limited),
    /// The limits or the account could not be looked at: nothing was checked.
    #[error("服务暂时不可用，请稍后再试")]
    Unavailable(#[source] Unavailable),
}

impl From<Refused> for PasswordError {
    fn from(r: Refused) -> Self {
        match r {
            Refused::Limited(l) => Self::Limited(l),
            Refused::Unavailable(e) => Self::Unavailable(e.into()),
        }
    }
}

impl From<CaptchaError> for PasswordError {
    fn from(e: CaptchaError) -> Self {
        match e {
            CaptchaError::Store(e) => Self::Unavailable(e.into()),
            e => Self::Captcha(e),
        }
    }
}

/// The rule for a disabled account, on every way in.
pub fn refuse_disabled(user: &User) -> Result<(), PasswordError> {
    if user.is_active {
        Ok(())
    } else {
        Err(PasswordError::Disabled)
    }
}

/// The subject the per-account counters key: the account's id, or for no account what
/// was typed (so that an unknown name costs the same and tells nothing).
fn subject(user: Option<&User>, typed: &str) -> String {
    match user {
        Some(u) => format!("user:{}", u.id),
        None => format!("login:{}", typed.trim()),
    }
}

/// Checks `password_typed` for `user` (None: no such account, checked all the same),
/// counted by `guard`. `typed` names the account as the client did.
pub async fn check_password(
    codes: &CodeStore,
    bcrypt_cost: u32,
    guard: &mut Guard,
    user: Option<&User>,
    typed: &str,
    password_typed: &str,
    captcha: &mut CaptchaAnswer,
) -> Result<(), PasswordError> {
    let subject = subject(user, typed);
    let network = guard.client().network();
    guard
        .admit(
            &limits::LOGIN_FAILS_PER_ACCOUNT_NET,
            &format!("{subject}@{network}"),
        )
        .await?;
    if guard
        .strained(&limits::LOGIN_FAILS_PER_ACCOUNT, &subject)
        .await?
    {
        captcha.verify(codes).await?;
    }
    let ok = password::verify(
        password_typed,
        user.map(|u| u.password.as_str()),
        bcrypt_cost,
    )
    .await
    .map_err(|e| PasswordError::Unavailable(e.into()))?;
    let Some(user) = user else {
        tracing::info!(login = %crate::domain::mask_middle(typed.trim()), ip = %guard.client().address(), "password check for no such account");
        return Err(PasswordError::Wrong);
    };
    // A disabled account hears only that, right password or not.
    refuse_disabled(user)?;
    if !ok {
        tracing::info!(user_id = user.id, ip = %guard.client().address(), "wrong password");
        return Err(PasswordError::Wrong);
    }
    Ok(())
}

/// A password login (the login form): the client's limit, the account behind `login`
/// (a username or a mobile), its password. On success the guard's counts are cleared.
pub async fn password_login(
    db: &Db,
    codes: &CodeStore,
    bcrypt_cost: u32,
    guard: &mut Guard,
    login: &str,
    password_typed: &str,
    captcha: &mut CaptchaAnswer,
) -> Result<User, PasswordError> {
    let bucket = guard.client().bucket();
    guard.admit(&limits::LOGIN_FAILS_PER_IP, &bucket).await?;
    let l = login.to_owned();
    let user = db
        .read(move |c| Ok(users::find_by_login(c, &l)?))
        .await
        .map_err(|e| PasswordError::Unavailable(e.into()))?;
    check_password(
        codes,
        bcrypt_cost,
        guard,
        user.as_ref(),
        login,
        password_typed,
        captcha,
    )
    .await?;
    let user = user.ok_or(PasswordError::Wrong)?;
    guard.succeeded().await;
    tracing::info!(user_id = user.id, ip = %guard.client().address(), "password login");
    Ok(user)
}
