//! Password recovery (找回密码): a code sent to the account's mobile proves the owner,
//! who then sets a new password. Every session of the account ends.
//!
//! The answers tell nobody whether a mobile has an account: asking for a code answers
//! the same either way (a code is stored and sent only when it has; otherwise only the
//! send flag and a marker no typed code matches), and a reset for a mobile without an
//! account is refused with the text of a wrong code.

use crate::codes::service::{self as code_service, Recipient, Recipients, SmsCodeError};
use crate::codes::Purpose;
use crate::db::{audit::Action, audit::Origin, users, users::User, Db};
use crate::domain::{Mobile, Password};
use crate::fault::Unavailable;
use crate::limits::{self, Guard, Limited, Refused};
use crate::login::password;
use crate::state::Deps;

/// What the recovery form holds.
#[derive(Clone, Default)]
pub struct ResetInput {
    pub mobile: String,
    pub sms_code: String,
    pub password: String,
    pub password2: String,
}

/// Where on the form a message shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetSlot {
    Form,
    Mobile,
    SmsCode,
    Password,
    Password2,
}

/// A refused reset. `Display` is what the customer is told.
#[derive(Debug, thiserror::Error)]
pub enum ResetError {
    #[error("缺少必传参数")]
    Missing,
    #[error("请输入正确的手机号码")]
    BadMobile,
    #[error("请输入8-20位的密码")]
    BadPassword,
    #[error("两次密码不一致")]
    Mismatch,
    #[error("无效的短信验证码")]
    SmsMissing,
    /// A wrong code, and a mobile with no account (the same words).
    #[error("输入短信验证码有误")]
    SmsWrong,
    #[error("{}", crate::login::DISABLED_MESSAGE)]
    Disabled,
    #[error("{0}")]
    Limited(Limited),
    #[error("服务暂时不可用，请稍后再试")]
    Unavailable(#[source] Unavailable),
}

impl ResetError {
    pub fn slot(&self) -> ResetSlot {
        match self {
            Self::Missing | Self::Limited(_) | Self::Unavailable(_) | Self::Disabled => {
                ResetSlot::Form
            }
            Self::BadMobile => ResetSlot::Mobile,
            Self::SmsMissing | Self::SmsWrong => ResetSlot::SmsCode,
            Self::BadPassword => ResetSlot::Password,
            Self::Mismatch => ResetSlot::Password2,
        }
    }
}

impl From<Refused> for ResetError {
    fn from(r: Refused) -> Self {
        match r {
            Refused::Limited(l) => Self::Limited(l),
            Refused::Unavailable(e) => Self::Unavailable(e.into()),
        }
    }
}

fn unavailable(e: impl Into<Unavailable>) -> ResetError {
    ResetError::Unavailable(e.into())
}

/// Who gets a recovery code (`GET /sms_codes/<mobile>/?…&purpose=reset`): the mobile
/// of an account; for any other, nobody (the answer is the same).
pub fn recipient(db: &Db) -> Recipients {
    let db = db.clone();
    Box::new(move |m: Mobile| {
        Box::pin(async move {
            let key = m.as_str().to_owned();
            let found = db
                .read(move |c| Ok(users::find_by_mobile(c, &key)?))
                .await?;
            Ok(match found {
                Some(_) => Recipient::Send,
                None => {
                    tracing::info!(mobile = %m.masked(), "reset code asked for a mobile with no account");
                    Recipient::Nobody
                }
            })
        })
    })
}

/// Counts the attempt before any work: the client's refusals, and the attempts on one
/// mobile from anywhere.
async fn admit(guard: &mut Guard, mobile: Option<&Mobile>) -> Result<(), ResetError> {
    let bucket = guard.client().bucket();
    guard.admit(&limits::FORM_FAILS_PER_IP, &bucket).await?;
    if let Some(m) = mobile {
        guard
            .admit(&limits::RESET_FAILS_PER_MOBILE, m.as_str())
            .await?;
    }
    Ok(())
}

/// Checks the form and sets the new password of the account of `input.mobile`: the
/// code is used up, every session and API token of the account ends (its
/// `session_epoch` is raised), and the audit log has the change. A disabled account is
/// refused and keeps its password.
pub async fn reset_password(
    deps: &Deps<'_>,
    guard: &mut Guard,
    origin: &Origin,
    input: &ResetInput,
) -> Result<User, ResetError> {
    let mobile_raw = input.mobile.trim();
    admit(guard, Mobile::parse(mobile_raw).as_ref()).await?;
    let sms_code = input.sms_code.trim();
    if mobile_raw.is_empty()
        || sms_code.is_empty()
        || input.password.is_empty()
        || input.password2.is_empty()
    {
        return Err(ResetError::Missing);
    }
    let mobile = Mobile::parse(mobile_raw).ok_or(ResetError::BadMobile)?;
    let pw = Password::parse(&input.password).ok_or(ResetError::BadPassword)?;
    if input.password2 != input.password {
        return Err(ResetError::Mismatch);
    }
    code_service::check_sms_code(deps.codes, Purpose::Reset, &mobile, sms_code)
        .await
        .map_err(sms_error)?;
    let m = mobile.as_str().to_owned();
    let user = deps
        .db
        .read(move |c| Ok(users::find_by_mobile(c, &m)?))
        .await
        .map_err(unavailable)?
        // The code was sent to an account that is gone: told as a wrong code.
        .ok_or(ResetError::SmsWrong)?;
    if !user.is_active {
        return Err(ResetError::Disabled);
    }
    let hash = password::hash(&pw, deps.bcrypt_cost)
        .await
        .map_err(unavailable)?;

    let left = match deps
        .codes
        .ttl(&Purpose::Reset.code_key(mobile.as_str()))
        .await
    {
        Ok(Some(left)) => left,
        _ => crate::codes::keys::SMS_CODE_TTL,
    };
    code_service::consume_sms_code(deps.codes, Purpose::Reset, &mobile, sms_code)
        .await
        .map_err(sms_error)?;
    let written =
        crate::accounts::set_password(deps.db, user.id, hash, Action::PasswordReset, origin).await;
    let user = match written {
        Ok(Some(user)) => user,
        Ok(None) => return Err(ResetError::SmsWrong),
        Err(e) => {
            // Nothing changed: the same code works on the next try.
            code_service::restore_sms_code(deps.codes, Purpose::Reset, &mobile, sms_code, left)
                .await;
            return Err(unavailable(e));
        }
    };
    guard.succeeded().await;
    tracing::info!(user_id = user.id, "password reset by SMS code");
    Ok(user)
}

fn sms_error(e: SmsCodeError) -> ResetError {
    match e {
        SmsCodeError::Missing => ResetError::SmsMissing,
        SmsCodeError::Wrong => ResetError::SmsWrong,
        SmsCodeError::Store(e) => unavailable(e),
    }
}
