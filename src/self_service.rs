//! What a customer does to their own account from the user centre: change the password
//! (the old one proves it, checked under the login limits), download their data, accept
//! the documents in force, close the account (注销); and what each login leaves (its
//! history, a cancelled closing).

use serde::Serialize;

use crate::codes::service::CaptchaAnswer;
use crate::codes::Purpose;
use crate::db::{
    self, audit, audit::Action, audit::Origin, consent, identities, login_history, users,
    users::User,
};
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
    pub consents: Vec<ExportConsent>,
    pub login_history: Vec<ExportLogin>,
    /// The devices logged in now, as the user centre lists them (no session id).
    pub sessions: Vec<ExportSession>,
    pub audit_log: Vec<ExportAuditEntry>,
}

#[derive(Debug, Serialize)]
pub struct ExportSession {
    pub created: String,
    pub last_seen: String,
    pub ip: String,
    pub device: String,
}

#[derive(Debug, Serialize)]
pub struct ExportConsent {
    pub document: String,
    pub version: String,
    pub accepted_at: String,
    pub ip: String,
    pub user_agent: String,
    pub context: String,
}

#[derive(Debug, Serialize)]
pub struct ExportLogin {
    pub method: String,
    pub at: String,
    pub ip: String,
    pub user_agent: String,
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

fn utc_seconds(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|t| utc(t.naive_utc()))
        .unwrap_or_default()
}

/// The data file of `user_id` (None: no such account). Its devices are in the code
/// store: without it, no file (a file that leaves them out would not be everything).
pub async fn export(deps: &Deps<'_>, user_id: i32) -> Result<Option<Export>, Unavailable> {
    let sessions = crate::sessions::list(deps.codes, user_id)
        .await?
        .into_iter()
        .map(|s| ExportSession {
            created: utc_seconds(s.info.created),
            last_seen: utc_seconds(s.last_seen),
            ip: s.info.ip,
            device: s.info.device,
        })
        .collect();
    let found = deps.db.read(move |c| {
        let Some(user) = users::find_by_id(c, user_id)? else {
            return Ok(None);
        };
        let binding = identities::all_of_user(c, user_id)?;
        let entries = audit::for_user(c, user_id)?;
        let consents = consent::of_user(c, user_id)?;
        let logins = login_history::recent(c, user_id, i64::MAX)?;
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
            consents: consents
                .into_iter()
                .map(|k| ExportConsent {
                    document: k.document,
                    version: k.version,
                    accepted_at: utc(k.accepted_at),
                    ip: k.ip,
                    user_agent: k.user_agent,
                    context: k.context,
                })
                .collect(),
            login_history: logins
                .into_iter()
                .map(|l| ExportLogin {
                    method: l.method,
                    at: utc(l.at),
                    ip: l.ip,
                    user_agent: l.user_agent,
                })
                .collect(),
            sessions,
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
    });
    Ok(found.await?)
}

// ------------------------------------------------------------------ logins and consent

/// What a login left behind.
#[derive(Debug, Clone, Copy)]
pub struct LoginNoted {
    /// The account had accepted the documents in force.
    pub consent_current: bool,
    /// The account was waiting out its closing: the login cancelled it.
    pub closing_cancelled: bool,
}

use crate::counts::LoginLog;

/// Notes a login of `user` by `method` from `ip`: `last_login` (at most once a minute),
/// the history (batched, see [`LoginLog`]), a closing cancelled; and says whether the
/// account's consent is current.
pub async fn note_login(
    db: &db::Db,
    log: &LoginLog,
    user: &User,
    method: &'static str,
    ip: &str,
    user_agent: &str,
    versions: (String, String),
) -> Result<LoginNoted, db::DbError> {
    let now = db::now();
    let user_agent = crate::domain::clean_user_agent(user_agent);
    log.push(user.id, method, now, ip, &user_agent);
    let (id, last, closing) = (user.id, user.last_login, user.delete_requested_at);
    let known = log.knows_current(id, &versions);
    if known && closing.is_none() && !users::login_is_news(last, now) {
        return Ok(LoginNoted {
            consent_current: true,
            closing_cancelled: false,
        });
    }
    let ip = ip.to_owned();
    let checked = versions.clone();
    let noted = db
        .write(move |c| {
            Ok(db::transaction(c, |c| {
                if users::login_is_news(last, now) {
                    users::touch_last_login(c, id, now)?;
                }
                let closing_cancelled =
                    closing.is_some() && users::set_delete_requested(c, id, None)? == 1;
                if closing_cancelled {
                    let origin = Origin::new(ip.clone(), audit::Channel::Form);
                    audit::record(
                        c,
                        Some(id),
                        Action::AccountCloseCancelled,
                        Some(id),
                        "",
                        now,
                        &origin,
                    )?;
                }
                let consent_current =
                    known || consent::is_current(c, id, (&checked.0, &checked.1))?;
                Ok::<_, diesel::result::Error>(LoginNoted {
                    consent_current,
                    closing_cancelled,
                })
            })?)
        })
        .await?;
    if noted.consent_current {
        log.note_current(id, versions);
    }
    Ok(noted)
}

/// Which documents in force `user_id` owes its consent to: (《用户协议》, 《隐私政策》).
pub async fn owed_documents(
    db: &db::Db,
    user_id: i32,
    versions: (String, String),
) -> Result<(bool, bool), db::DbError> {
    db.read(move |c| Ok(consent::owed(c, user_id, (&versions.0, &versions.1))?))
        .await
}

/// Records that `user_id` accepted both documents in force, in `context` (`register`,
/// `bind`, `link`, `interstitial`, `api`).
pub async fn accept_documents(
    db: &db::Db,
    user_id: i32,
    versions: (String, String),
    context: &'static str,
    origin: &Origin,
) -> Result<(), db::DbError> {
    let origin = origin.clone();
    db.write(move |c| {
        Ok(consent::accept_both(
            c,
            user_id,
            (&versions.0, &versions.1),
            context,
            &origin,
            db::now(),
        )?)
    })
    .await
}

/// Drops the logins older than `days`; how many went.
pub async fn prune_login_history(db: &db::Db, days: u32, now: i64) -> Result<usize, db::DbError> {
    let before = chrono::DateTime::from_timestamp(now - i64::from(days) * 86_400, 0)
        .unwrap_or_default()
        .naive_utc();
    db.write(move |c| Ok(login_history::prune(c, before)?))
        .await
}

// ------------------------------------------------------------------ closing (注销)

/// How the owner proves it is them before the account is closed.
#[derive(Debug, Clone)]
pub enum CloseProof {
    Password(String),
    /// A code sent with `purpose=delete` to the account's mobile.
    SmsCode(String),
}

#[derive(Debug, thiserror::Error)]
pub enum CloseError {
    #[error("请输入密码或短信验证码")]
    Missing,
    #[error("密码错误")]
    WrongPassword,
    #[error("{0}")]
    WrongCode(String),
    #[error("{0}")]
    Captcha(crate::codes::service::CaptchaError),
    #[error("{0}")]
    Limited(Limited),
    #[error("{}", login::DISABLED_MESSAGE)]
    Disabled,
    #[error("服务暂时不可用，请稍后再试")]
    Unavailable(#[source] Unavailable),
}

impl From<PasswordError> for CloseError {
    fn from(e: PasswordError) -> Self {
        match e {
            PasswordError::Wrong => Self::WrongPassword,
            PasswordError::Disabled => Self::Disabled,
            PasswordError::Captcha(c) => Self::Captcha(c),
            PasswordError::Limited(l) => Self::Limited(l),
            PasswordError::Unavailable(u) => Self::Unavailable(u),
        }
    }
}

/// What closing came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closed {
    /// Erased now (no cooling-off).
    Erased,
    /// Erased at this Unix time, unless a login comes first.
    Scheduled { erase_at: i64 },
}

/// Closes `user`'s account once they proved it is them: every session and API token
/// ends now; with `grace_days` 0 the account is erased at once, else at the end of the
/// cooling-off period (a login meanwhile cancels it).
pub async fn close_account(
    deps: &Deps<'_>,
    guard: &mut Guard,
    user: &User,
    proof: &CloseProof,
    grace_days: u32,
    origin: &Origin,
) -> Result<Closed, CloseError> {
    match proof {
        CloseProof::Password(p) if p.is_empty() => return Err(CloseError::Missing),
        CloseProof::SmsCode(c) if c.trim().is_empty() => return Err(CloseError::Missing),
        CloseProof::Password(p) => {
            if p.len() > 64 {
                return Err(CloseError::WrongPassword);
            }
            let mut captcha = CaptchaAnswer::new("", "");
            login::check_password(
                deps.codes,
                deps.bcrypt_cost,
                guard,
                Some(user),
                &user.username,
                p,
                &mut captcha,
            )
            .await?;
            guard.succeeded().await;
        }
        CloseProof::SmsCode(code) => {
            use crate::codes::service::{self as codes, SmsCodeError};
            let mobile = crate::domain::Mobile::parse(&user.mobile)
                .ok_or_else(|| CloseError::WrongCode(SmsCodeError::Missing.to_string()))?;
            let wrong = |e: SmsCodeError| match e {
                SmsCodeError::Store(s) => CloseError::Unavailable(s.into()),
                other => CloseError::WrongCode(other.to_string()),
            };
            codes::check_sms_code(deps.codes, Purpose::Delete, &mobile, code)
                .await
                .map_err(wrong)?;
            codes::consume_sms_code(deps.codes, Purpose::Delete, &mobile, code)
                .await
                .map_err(wrong)?;
        }
    }
    let now = deps.clock.now();
    let (id, origin) = (user.id, origin.clone());
    if grace_days == 0 {
        deps.db
            .write(move |c| Ok(erase(c, id, &origin)?))
            .await
            .map_err(|e| CloseError::Unavailable(e.into()))?;
        return Ok(Closed::Erased);
    }
    let erase_at = now + i64::from(grace_days) * 86_400;
    deps.db
        .write(move |c| {
            Ok(db::transaction(c, |c| {
                users::set_delete_requested(c, id, Some(db::now()))?;
                users::raise_session_epoch(c, id)?;
                audit::record(
                    c,
                    Some(id),
                    Action::AccountCloseRequested,
                    Some(id),
                    &format!("grace_days={grace_days}"),
                    db::now(),
                    &origin,
                )
            })?)
        })
        .await
        .map_err(|e| CloseError::Unavailable(e.into()))?;
    Ok(Closed::Scheduled { erase_at })
}

/// Erases account `id` in one transaction: every session ends (the epoch), every
/// identity is released (that QQ sees the bind form again), the mobile and username are
/// freed, personal fields, consents and login history go; the audit log keeps the
/// event with the account id only, and its entries about the account lose their
/// detail and address.
pub fn erase(
    c: &mut db::AnyConnection,
    id: i32,
    origin: &Origin,
) -> Result<(), diesel::result::Error> {
    db::transaction(c, |c| {
        // Locked first: of two closings at once, the second finds it closed.
        match users::lock(c, id)? {
            Some(u) if !u.is_closed() => {}
            _ => return Ok(()),
        }
        identities::delete_all_of_user(c, id)?;
        consent::delete_of_user(c, id)?;
        login_history::delete_of_user(c, id)?;
        users::anonymise(c, id)?;
        audit::anonymise_about(c, id)?;
        audit::record(
            c,
            Some(id),
            Action::AccountClosed,
            Some(id),
            "",
            db::now(),
            &Origin::new("", origin.channel),
        )
    })
}

/// Erases the accounts whose cooling-off ended by `now`; how many.
pub async fn erase_due(db: &db::Db, grace_days: u32, now: i64) -> Result<usize, db::DbError> {
    let due_before = chrono::DateTime::from_timestamp(now - i64::from(grace_days) * 86_400, 0)
        .unwrap_or_default()
        .naive_utc();
    db.write(move |c| {
        let ids = users::closing_due(c, due_before)?;
        for id in &ids {
            erase(c, *id, &Origin::new("", audit::Channel::Cli))?;
        }
        Ok(ids.len())
    })
    .await
}
