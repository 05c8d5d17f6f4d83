//! Local accounts: registration, unbinding a QQ, enabling and disabling, operators.
//! Each change and its audit entry are written in one transaction.

use diesel::result::{DatabaseErrorKind, Error as DieselError};

use crate::codes::service::{self as code_service, SmsCodeError};
use crate::codes::Purpose;
use crate::db::{
    self, audit, audit::Action, audit::Origin, identities, identities::Identity, users,
    users::User, AnyConnection, Db,
};
use crate::domain::{Mobile, Password, Provider, Username};
use crate::fault::Unavailable;
use crate::login::password;
use crate::state::Deps;

/// What the register form holds (spec section 6).
#[derive(Clone, Default)]
pub struct RegisterInput {
    pub username: String,
    pub password: String,
    pub password2: String,
    pub mobile: String,
    pub sms_code: String,
    pub allow: bool,
}

/// The messages of a refused registration, each beside its field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegisterErrors {
    pub username: Option<String>,
    pub password: Option<String>,
    pub password2: Option<String>,
    pub mobile: Option<String>,
    pub sms_code: Option<String>,
    pub allow: Option<String>,
    /// Not about one field.
    pub form: Option<String>,
}

impl RegisterErrors {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error("注册信息有误")]
    Invalid(RegisterErrors),
    /// A dependency failed, and nothing was written.
    #[error("服务暂时不可用，请稍后再试")]
    Unavailable(#[from] Unavailable),
}

impl From<db::DbError> for RegisterError {
    fn from(e: db::DbError) -> Self {
        Self::Unavailable(e.into())
    }
}

pub const USERNAME_TAKEN: &str = "用户名已存在";
pub const MOBILE_TAKEN: &str = "手机号已存在";

fn field(msg: &str) -> Option<String> {
    Some(msg.to_owned())
}

/// Checks the register form in the register page's order (every field's format first,
/// all at once; then whether the name and the mobile are free; then the SMS code), and
/// makes the account. The SMS code is used up only by a registration that succeeds.
pub async fn register(
    deps: &Deps<'_>,
    input: &RegisterInput,
    origin: &Origin,
) -> Result<User, RegisterError> {
    let mut errors = RegisterErrors::default();
    let username = Username::parse(input.username.trim())
        .map_err(|e| errors.username = field(&e.to_string()))
        .ok();
    let pw = Password::parse(&input.password);
    if pw.is_none() {
        errors.password = field("请输入8-20位的密码");
    }
    if input.password2 != input.password {
        errors.password2 = field("两次输入的密码不一致");
    }
    let mobile = Mobile::parse(input.mobile.trim());
    if mobile.is_none() {
        errors.mobile = field("请输入正确的手机号码");
    }
    let sms_code = input.sms_code.trim();
    if sms_code.is_empty() {
        errors.sms_code = field("请填写短信验证码");
    }
    if !input.allow {
        errors.allow = field("请勾选用户协议");
    }
    let (Some(username), Some(pw), Some(mobile)) = (username, pw, mobile) else {
        return Err(RegisterError::Invalid(errors));
    };
    if !errors.is_empty() {
        return Err(RegisterError::Invalid(errors));
    }

    let (u, m) = (username.as_str().to_owned(), mobile.as_str().to_owned());
    let (name_taken, mobile_taken) = deps
        .db
        .read(move |c| {
            Ok((
                users::find_by_username(c, &u)?.is_some(),
                users::find_by_mobile(c, &m)?.is_some(),
            ))
        })
        .await?;
    if name_taken {
        errors.username = field(USERNAME_TAKEN);
    }
    if mobile_taken {
        errors.mobile = field(MOBILE_TAKEN);
    }
    if !errors.is_empty() {
        return Err(RegisterError::Invalid(errors));
    }

    let sms_refused = |e: SmsCodeError| match e {
        SmsCodeError::Store(e) => RegisterError::Unavailable(e.into()),
        e => RegisterError::Invalid(RegisterErrors {
            sms_code: Some(e.to_string()),
            ..Default::default()
        }),
    };
    code_service::check_sms_code(deps.codes, Purpose::Bind, &mobile, sms_code)
        .await
        .map_err(sms_refused)?;
    let hash = password::hash(&pw, deps.bcrypt_cost)
        .await
        .map_err(Unavailable::from)?;
    code_service::consume_sms_code(deps.codes, Purpose::Bind, &mobile, sms_code)
        .await
        .map_err(sms_refused)?;

    let origin = origin.clone();
    let result = deps
        .db
        .write(move |c| {
            Ok(insert_user(
                c,
                &username,
                &mobile,
                &hash,
                false,
                Action::UserRegistered,
                &origin,
            ))
        })
        .await?;
    result.map_err(|e| match e {
        InsertError::Taken { username, mobile } => RegisterError::Invalid(RegisterErrors {
            username: username.then(|| USERNAME_TAKEN.to_owned()),
            mobile: mobile.then(|| MOBILE_TAKEN.to_owned()),
            ..Default::default()
        }),
        InsertError::Db(e) => {
            tracing::error!(error = %e, "registration failed");
            RegisterError::Invalid(RegisterErrors {
                form: field("注册失败"),
                ..Default::default()
            })
        }
    })
}

#[derive(Debug)]
enum InsertError {
    /// The username or mobile was taken (now, or by a racing request).
    Taken {
        username: bool,
        mobile: bool,
    },
    Db(DieselError),
}

impl InsertError {
    fn taken(username: bool, mobile: bool) -> Option<Self> {
        (username || mobile).then_some(Self::Taken { username, mobile })
    }
}

impl From<DieselError> for InsertError {
    fn from(e: DieselError) -> Self {
        Self::Db(e)
    }
}

/// Inserts an account and its audit entry in one transaction; a name or mobile taken
/// (now, or by a racing request) is [`InsertError::Taken`], not a failure.
fn insert_user(
    conn: &mut AnyConnection,
    username: &Username,
    mobile: &Mobile,
    hash: &str,
    is_staff: bool,
    action: Action,
    origin: &Origin,
) -> Result<User, InsertError> {
    let taken = |conn: &mut AnyConnection| -> Result<Option<InsertError>, DieselError> {
        Ok(InsertError::taken(
            users::find_by_username(conn, username.as_str())?.is_some(),
            users::find_by_mobile(conn, mobile.as_str())?.is_some(),
        ))
    };
    let result = db::transaction(conn, |conn| {
        if let Some(taken) = taken(conn)? {
            return Err(taken);
        }
        let now = db::now();
        let user = users::insert(
            conn,
            &users::NewUser {
                username: username.as_str(),
                mobile: mobile.as_str(),
                password: hash,
                nickname: "",
                avatar_url: "",
                is_staff,
                is_active: true,
                date_joined: now,
            },
        )?;
        let actor = (action == Action::UserRegistered).then_some(user.id);
        audit::record(conn, actor, action, Some(user.id), "", now, origin)?;
        Ok(user)
    });
    match result {
        Err(InsertError::Db(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _))) => {
            // Lost a race inside the database: say which one.
            Err(taken(conn)?.unwrap_or(InsertError::Db(DieselError::RollbackTransaction)))
        }
        other => other,
    }
}

/// Why `createsuperuser` refused.
#[derive(Debug, thiserror::Error)]
pub enum SuperuserError {
    #[error("--username: 5-20 letters, digits, _ or -, and not a mobile number")]
    BadUsername,
    #[error("--mobile: not a mainland China mobile number (1[3-9] and 9 more digits)")]
    BadMobile,
    #[error("password too weak: use 8-20 letters and digits, at least one of each")]
    WeakPassword,
    #[error("username {0:?} is taken")]
    UsernameTaken(String),
    #[error("mobile {0} is taken")]
    MobileTaken(String),
    #[error("{0}")]
    Db(String),
}

/// The operator's name and mobile, checked before anyone types a password.
pub fn superuser_names(username: &str, mobile: &str) -> Result<(Username, Mobile), SuperuserError> {
    Ok((
        Username::parse(username).map_err(|_| SuperuserError::BadUsername)?,
        Mobile::parse(mobile).ok_or(SuperuserError::BadMobile)?,
    ))
}

/// Makes a staff account (`qqbind createsuperuser`). Runs on the calling thread.
pub fn create_superuser(
    conn: &mut AnyConnection,
    username: &Username,
    mobile: &Mobile,
    password: &str,
    bcrypt_cost: u32,
) -> Result<User, SuperuserError> {
    let pw = Password::parse(password)
        .filter(Password::is_strong)
        .ok_or(SuperuserError::WeakPassword)?;
    let hash =
        bcrypt::hash(pw.expose(), bcrypt_cost).map_err(|e| SuperuserError::Db(e.to_string()))?;
    insert_user(
        conn,
        username,
        mobile,
        &hash,
        true,
        Action::SuperuserCreated,
        &Origin::cli(),
    )
    .map_err(|e| match e {
        InsertError::Taken { username: true, .. } => {
            SuperuserError::UsernameTaken(username.as_str().to_owned())
        }
        InsertError::Taken { .. } => SuperuserError::MobileTaken(mobile.as_str().to_owned()),
        InsertError::Db(e) => SuperuserError::Db(e.to_string()),
    })
    .and_then(|u| {
        users::set_superuser(conn, u.id, true).map_err(|e| SuperuserError::Db(e.to_string()))?;
        Ok(User {
            is_superuser: true,
            ..u
        })
    })
}

/// Writes one audit entry: `actor` did `action` to their own account (or, with
/// [`record_by`], to another).
pub async fn record(
    db: &Db,
    user_id: i32,
    action: Action,
    detail: &str,
    origin: &Origin,
) -> Result<(), db::DbError> {
    record_by(db, Some(user_id), user_id, action, detail, origin).await
}

pub async fn record_by(
    db: &Db,
    actor: Option<i32>,
    target: i32,
    action: Action,
    detail: &str,
    origin: &Origin,
) -> Result<(), db::DbError> {
    let (detail, origin) = (detail.to_owned(), origin.clone());
    db.write(move |c| {
        Ok(audit::record(
            c,
            actor,
            action,
            Some(target),
            &detail,
            db::now(),
            &origin,
        )?)
    })
    .await
}

/// What an unbind came to.
#[derive(Debug)]
pub enum Unbound {
    Removed(Identity),
    /// The account had no identity of that provider.
    NotBound,
    /// It was the account's last way in (no usable password, no other identity):
    /// refused, so the account is not locked out.
    LastWayIn,
}

/// The message of a refused unbind of the last way in.
pub const LAST_WAY_IN: &str =
    "这是该账号唯一的登录方式（账号没有可用的密码），请先通过“忘记密码”设置密码，再解除绑定";

/// Removes `target`'s identity of `provider`, recording `actor` (the owner or an
/// operator), unless it is the account's last way in. The account's row is locked
/// first, so two unbinds at once cannot both take the last two identities.
pub async fn unbind(
    db: &Db,
    actor: &User,
    target: i32,
    provider: Provider,
    origin: &Origin,
) -> Result<Unbound, db::DbError> {
    let actor = actor.id;
    let origin = origin.clone();
    db.write(move |c| {
        Ok(db::transaction(c, |c| {
            let Some(owner) = users::lock(c, target)? else {
                return Ok(Unbound::NotBound);
            };
            let mine = identities::all_of_user(c, target)?;
            if !mine.iter().any(|i| i.provider() == Some(provider)) {
                return Ok(Unbound::NotBound);
            }
            if mine.len() == 1 && !owner.has_usable_password() {
                return Ok(Unbound::LastWayIn);
            }
            let Some(b) = identities::delete_of_user(c, provider, target)? else {
                return Ok(Unbound::NotBound);
            };
            let detail = match provider {
                Provider::Qq => format!("openid={}", b.openid),
                p => format!("provider={p} openid={}", b.openid),
            };
            audit::record(
                c,
                Some(actor),
                Action::unbind(provider),
                Some(target),
                &detail,
                db::now(),
                &origin,
            )?;
            Ok::<_, DieselError>(Unbound::Removed(b))
        })?)
    })
    .await
}

/// Enables or disables `target`, recording `actor`. `false` when it already was so.
/// A disabled account's sessions and API tokens end at their next request, and stay
/// ended when it is enabled again (its `session_epoch` is raised).
pub async fn set_active(
    db: &Db,
    actor: &User,
    target: i32,
    active: bool,
    origin: &Origin,
) -> Result<bool, db::DbError> {
    set_active_because(db, actor, target, active, "", origin).await
}

/// [`set_active`] with the operator's `reason` (shown on the account's page and in the
/// audit log; cleared when enabled).
pub async fn set_active_because(
    db: &Db,
    actor: &User,
    target: i32,
    active: bool,
    reason: &str,
    origin: &Origin,
) -> Result<bool, db::DbError> {
    let actor = actor.id;
    let (origin, reason) = (origin.clone(), reason.to_owned());
    db.write(move |c| {
        Ok(db::transaction(c, |c| {
            let changed = users::set_active(c, target, active)?;
            if changed {
                users::set_disabled_reason(c, target, if active { "" } else { &reason })?;
                let action = if active {
                    Action::UserEnabled
                } else {
                    Action::UserDisabled
                };
                let detail = match reason.as_str() {
                    "" => String::new(),
                    r => format!("reason={r}"),
                };
                audit::record(
                    c,
                    Some(actor),
                    action,
                    Some(target),
                    &detail,
                    db::now(),
                    &origin,
                )?;
            }
            Ok::<_, DieselError>(changed)
        })?)
    })
    .await
}

/// Sets the bcrypt `hash` as `user_id`'s password and ends every session and API token of
/// the account (its `session_epoch` is raised), with the audit entry `action`, in one
/// transaction. The account as it is now (None: it is gone).
pub async fn set_password(
    db: &Db,
    user_id: i32,
    hash: String,
    action: Action,
    origin: &Origin,
) -> Result<Option<User>, db::DbError> {
    let origin = origin.clone();
    db.write(move |c| {
        Ok(db::transaction(c, |c| {
            users::set_password(c, user_id, &hash)?;
            users::raise_session_epoch(c, user_id)?;
            audit::record(
                c,
                Some(user_id),
                action,
                Some(user_id),
                "",
                db::now(),
                &origin,
            )?;
            users::find_by_id(c, user_id)
        })?)
    })
    .await
}
