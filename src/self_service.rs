//! What a customer does to their own account from the user centre: change the password
//! (the old one proves it, checked under the login limits) and download their data.

use serde::Serialize;

use crate::codes::service::CaptchaAnswer;
use crate::db::{self, audit, audit::Action, audit::Origin, identities, users, users::User};
use crate::domain::Password;
use crate::fault::Unavailable;
use crate::limits::{Guard, Limited};
use crate::login::{self, password, PasswordError};
use crate::state::Deps;

/// What the change-password form holds.
#[derive(Clone, Default)]
pub struct ChangeInput {
    pub old_password: String,
    pub password: String,
    pub password2: String,
    pub image_code: String,
    pub image_code_id: String,
}

/// Where a refusal shows on the form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeSlot {
    Form,
    OldPassword,
    Password,
    Password2,
    ImageCode,
}

#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    #[error("缺少必传参数")]
    Missing,
    #[error("原密码错误")]
    WrongOld,
    #[error("请输入8-20位的密码")]
    BadPassword,
    #[error("两次密码不一致")]
    Mismatch,
    #[error("新密码不能与原密码相同")]
    Same,
    /// The account is under attack: the image captcha is needed, and was not right.
    #[error("{0}")]
    Captcha(crate::codes::service::CaptchaError),
    #[error("{0}")]
    Limited(Limited),
    #[error("{}", login::DISABLED_MESSAGE)]
    Disabled,
    #[error("服务暂时不可用，请稍后再试")]
    Unavailable(#[source] Unavailable),
}

impl ChangeError {
    pub fn slot(&self) -> ChangeSlot {
        match self {
            Self::Missing | Self::Limited(_) | Self::Unavailable(_) | Self::Disabled => {
                ChangeSlot::Form
            }
            Self::WrongOld => ChangeSlot::OldPassword,
            Self::BadPassword | Self::Same => ChangeSlot::Password,
            Self::Mismatch => ChangeSlot::Password2,
            Self::Captcha(_) => ChangeSlot::ImageCode,
        }
    }
}

impl From<PasswordError> for ChangeError {
    fn from(e: PasswordError) -> Self {
        match e {
            PasswordError::Wrong => Self::WrongOld,
            PasswordError::Disabled => Self::Disabled,
            PasswordError::Captcha(c) => Self::Captcha(c),
            PasswordError::Limited(l) => Self::Limited(l),
            PasswordError::Unavailable(u) => Self::Unavailable(u),
        }
    }
}

/// Sets a new password for `user`, who proves the old one (counted as a password check:
/// the login limits apply, and past them the captcha). Every session and API token of
/// the account ends (its `session_epoch` is raised: the caller logs the current browser
/// in again); the audit log has the change. Returns the account as it is now.
pub async fn change_password(
    deps: &Deps<'_>,
    guard: &mut Guard,
    user: &User,
    input: &ChangeInput,
    origin: &Origin,
) -> Result<User, ChangeError> {
    if input.old_password.is_empty() || input.password.is_empty() || input.password2.is_empty() {
        return Err(ChangeError::Missing);
    }
    let pw = Password::parse(&input.password).ok_or(ChangeError::BadPassword)?;
    if input.password2 != input.password {
        return Err(ChangeError::Mismatch);
    }
    if input.old_password.len() > 64 {
        return Err(ChangeError::WrongOld);
    }
    let mut captcha = CaptchaAnswer::new(&input.image_code, &input.image_code_id);
    login::check_password(
        deps.codes,
        deps.bcrypt_cost,
        guard,
        Some(user),
        &user.username,
        &input.old_password,
        &mut captcha,
    )
    .await?;
    if input.password == input.old_password {
        return Err(ChangeError::Same);
    }
    let hash = password::hash(&pw, deps.bcrypt_cost)
        .await
        .map_err(|e| ChangeError::Unavailable(e.into()))?;
    let changed =
        crate::accounts::set_password(deps.db, user.id, hash, Action::PasswordChanged, origin)
            .await
            .map_err(|e| ChangeError::Unavailable(e.into()))?;
    guard.succeeded().await;
    changed.ok_or(ChangeError::Unavailable(Unavailable::Db(
        db::DbError::Query(diesel::result::Error::NotFound),
    )))
}

/// Everything stored about an account, for its owner (`GET /info/export/`). No password
/// hash, no secret.
#[derive(Debug, Serialize)]
pub struct Export {
    pub exported_at: String,
    pub account: ExportAccount,
    pub identities: Vec<ExportIdentity>,
    pub audit_log: Vec<ExportAuditEntry>,
}

#[derive(Debug, Serialize)]
pub struct ExportAccount {
    pub id: i32,
    pub username: String,
    pub mobile: String,
    pub nickname: String,
    pub avatar_url: String,
    pub is_active: bool,
    pub date_joined: String,
    pub last_login: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ExportIdentity {
    pub provider: String,
    pub openid: String,
    pub unionid: Option<String>,
    pub nickname: String,
    pub avatar_url: String,
    pub bound_at: String,
    pub last_login_at: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ExportAuditEntry {
    pub at: String,
    pub action: String,
    pub by_self: bool,
    pub ip: String,
    pub channel: String,
    pub detail: String,
}

fn utc(t: chrono::NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The data file of `user_id` (None: no such account).
pub async fn export(db: &db::Db, user_id: i32) -> Result<Option<Export>, db::DbError> {
    db.read(move |c| {
        let Some(user) = users::find_by_id(c, user_id)? else {
            return Ok(None);
        };
        let binding = identities::all_of_user(c, user_id)?;
        let entries = audit::for_user(c, user_id)?;
        Ok(Some(Export {
            exported_at: utc(db::now()),
            account: ExportAccount {
                id: user.id,
                username: user.username,
                mobile: user.mobile,
                nickname: user.nickname,
                avatar_url: user.avatar_url,
                is_active: user.is_active,
                date_joined: utc(user.date_joined),
                last_login: user.last_login.map(utc),
            },
            identities: binding
                .into_iter()
                .map(|b| ExportIdentity {
                    provider: b.provider,
                    openid: b.openid,
                    unionid: b.unionid,
                    nickname: b.nickname,
                    avatar_url: b.avatar_url,
                    bound_at: utc(b.bound_at),
                    last_login_at: b.last_login_at.map(utc),
                })
                .collect(),
            audit_log: entries
                .into_iter()
                .map(|e| ExportAuditEntry {
                    at: utc(e.created_at),
                    by_self: e.actor_id == Some(user_id),
                    action: e.action,
                    ip: e.ip,
                    channel: e.channel,
                    detail: e.detail,
                })
                .collect(),
        }))
    })
    .await
}
