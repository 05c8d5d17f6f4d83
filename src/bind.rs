//! The bind rules of spec section 4, in the order the table gives them. One function,
//! used by every front-end that binds a QQ openid to an account.

use diesel::result::{DatabaseErrorKind, Error as DieselError};

use crate::auth::password;
use crate::codes::service::{self as code_service, SmsCodeError};
use crate::db::{self, audit, qq_bindings, users, users::User, AnyConnection};
use crate::domain::{Mobile, OpenId, Password};
use crate::error::AppError;
use crate::state::{unix_now, AppState};

/// What the user typed into the bind form.
#[derive(Clone, Default)]
pub struct BindInput {
    pub mobile: String,
    pub password: String,
    pub sms_code: String,
    pub access_token: String,
}

/// The QQ profile to give a new account.
#[derive(Clone, Default)]
pub struct QqProfileHint {
    pub nickname: String,
    pub avatar_url: String,
}

/// Where on the form a message shows (the seed's template variables).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    Form,
    Mobile,
    Password,
    SmsCode,
    OpenId,
    Account,
    QqLogin,
}

/// A refused bind: rows 1–9 of the table. `Display` is the exact message.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    #[error("缺少必传参数")]
    Missing,
    #[error("请输入正确的手机号码")]
    BadMobile,
    #[error("请输入8-20位的密码")]
    BadPassword,
    #[error("无效的短信验证码")]
    SmsMissing,
    #[error("输入短信验证码有误")]
    SmsWrong,
    #[error("无效的openid")]
    BadOpenId,
    #[error("用户名或密码错误")]
    WrongPassword,
    #[error("{}", crate::auth::DISABLED_MESSAGE)]
    Disabled,
    #[error("该账号已绑定其他QQ")]
    AccountBoundElsewhere,
    #[error("QQ登录失败")]
    Failed,
    /// Not a user mistake: a dependency failed before anything was written.
    #[error(transparent)]
    App(#[from] AppError),
}

impl BindError {
    pub fn slot(&self) -> Slot {
        match self {
            Self::Missing | Self::App(_) => Slot::Form,
            Self::BadMobile => Slot::Mobile,
            Self::BadPassword => Slot::Password,
            Self::SmsMissing | Self::SmsWrong => Slot::SmsCode,
            Self::BadOpenId => Slot::OpenId,
            Self::WrongPassword | Self::Disabled => Slot::Account,
            Self::AccountBoundElsewhere | Self::Failed => Slot::QqLogin,
        }
    }
}

/// A bind that went through: the user to log in.
#[derive(Debug)]
pub struct Bound {
    pub user: User,
    pub created: bool,
}

/// Checks the form (rows 1–9) and binds the openid in `input.access_token` to the account
/// of `input.mobile`, creating the account when the mobile is new. `token_binding` is
/// what the openid token was bound to when signed (the browser session's id).
pub async fn bind(
    state: &AppState,
    input: &BindInput,
    token_binding: &str,
    profile: &QqProfileHint,
) -> Result<Bound, BindError> {
    // 1–3: the form itself.
    let mobile_raw = input.mobile.trim();
    if mobile_raw.is_empty()
        || input.password.is_empty()
        || input.sms_code.trim().is_empty()
        || input.access_token.trim().is_empty()
    {
        return Err(BindError::Missing);
    }
    let mobile = Mobile::parse(mobile_raw).ok_or(BindError::BadMobile)?;
    let pw = Password::parse(&input.password).ok_or(BindError::BadPassword)?;

    // 4–5: the SMS code (checked here, consumed only once everything else holds).
    let sms_code = input.sms_code.trim();
    code_service::check_sms_code(state, &mobile, sms_code)
        .await
        .map_err(sms_error)?;

    // 6: the openid token.
    let openid = verify_token(state, &input.access_token, token_binding)?;

    // 7–8: an existing account must prove its password and be free.
    let m = mobile.as_str().to_owned();
    let existing = db::run(&state.db, move |c| Ok(users::find_by_mobile(c, &m)?))
        .await
        .map_err(AppError::from)?;
    let new_hash = match &existing {
        Some(user) => {
            check_account(state, Some(user), pw.expose(), &openid).await?;
            None
        }
        None => Some(password::hash(&pw, state.settings.bcrypt_cost).await?),
    };

    // The SMS code is used up now, atomically: of two racing requests only one passes.
    code_service::consume_sms_code(state, &mobile, sms_code)
        .await
        .map_err(sms_error)?;

    // 9: create + bind in one transaction.
    let existing_id = existing.as_ref().map(|u| u.id);
    write(
        state,
        mobile,
        new_hash,
        existing_id,
        openid,
        profile.clone(),
    )
    .await
}

/// The existing account a Renran-style client binds by its login (username or mobile)
/// and password, with no SMS code: rows 1, 6, 7, 8, 9 of the table, in that order.
#[derive(Clone, Default)]
pub struct ExistingInput {
    pub login: String,
    pub password: String,
    pub access_token: String,
}

/// Binds the openid in `input.access_token` to the account that `input.login` and
/// `input.password` prove.
pub async fn bind_existing(
    state: &AppState,
    input: &ExistingInput,
    token_binding: &str,
) -> Result<Bound, BindError> {
    let login = input.login.trim();
    if login.is_empty() || input.password.is_empty() || input.access_token.trim().is_empty() {
        return Err(BindError::Missing);
    }
    let openid = verify_token(state, &input.access_token, token_binding)?;
    if login.len() > 64 || input.password.len() > 64 {
        return Err(BindError::WrongPassword);
    }
    let l = login.to_owned();
    let user = db::run(&state.db, move |c| Ok(users::find_by_login(c, &l)?))
        .await
        .map_err(AppError::from)?;
    check_account(state, user.as_ref(), &input.password, &openid).await?;
    let user = user.ok_or(BindError::WrongPassword)?;
    let mobile = Mobile::parse(&user.mobile).ok_or(BindError::Failed)?;
    write(
        state,
        mobile,
        None,
        Some(user.id),
        openid,
        QqProfileHint::default(),
    )
    .await
}

/// Row 6: the signed openid token.
fn verify_token(state: &AppState, token: &str, binding: &str) -> Result<OpenId, BindError> {
    state
        .signer
        .verify_openid(token.trim(), binding, unix_now())
        .map_err(|e| {
            tracing::info!(reason = %e, "openid token refused");
            BindError::BadOpenId
        })
}

/// Rows 7–8 for an existing account: the password (bcrypt runs even for no account, so
/// timing tells nothing), one message for a disabled account whatever the password, and
/// no other QQ bound to it.
async fn check_account(
    state: &AppState,
    user: Option<&User>,
    password_typed: &str,
    openid: &OpenId,
) -> Result<(), BindError> {
    let cost = state.settings.bcrypt_cost;
    let password_ok =
        password::verify(password_typed, user.map(|u| u.password.as_str()), cost).await?;
    let Some(user) = user else {
        return Err(BindError::WrongPassword);
    };
    if !user.is_active {
        return Err(BindError::Disabled);
    }
    if !password_ok {
        return Err(BindError::WrongPassword);
    }
    let (uid, oid) = (user.id, openid.as_str().to_owned());
    let current = db::run(&state.db, move |c| Ok(qq_bindings::find_by_user(c, uid)?))
        .await
        .map_err(AppError::from)?;
    match current {
        Some(b) if b.openid != oid => Err(BindError::AccountBoundElsewhere),
        _ => Ok(()),
    }
}

/// Row 9: create (when `new_hash` is given) and bind, in one transaction.
async fn write(
    state: &AppState,
    mobile: Mobile,
    new_hash: Option<String>,
    existing_id: Option<i32>,
    openid: OpenId,
    profile: QqProfileHint,
) -> Result<Bound, BindError> {
    let result = db::write(&state.db, move |c| {
        Ok(write_binding(
            c,
            &mobile,
            new_hash.as_deref(),
            existing_id,
            &openid,
            &profile,
        ))
    })
    .await
    .map_err(AppError::from)?;
    match result {
        Ok(bound) => Ok(bound),
        Err(TxError::BoundElsewhere) => Err(BindError::AccountBoundElsewhere),
        Err(TxError::Conflict) => Err(BindError::Failed),
        Err(TxError::Db(e)) => {
            tracing::error!(error = %e, "bind transaction failed");
            Err(BindError::Failed)
        }
    }
}

fn sms_error(e: SmsCodeError) -> BindError {
    match e {
        SmsCodeError::Missing => BindError::SmsMissing,
        SmsCodeError::Wrong => BindError::SmsWrong,
        SmsCodeError::Store(e) => BindError::App(e.into()),
    }
}

#[derive(Debug)]
enum TxError {
    /// The openid (or the new username/mobile) was taken by another request meanwhile.
    Conflict,
    BoundElsewhere,
    Db(DieselError),
}

impl From<DieselError> for TxError {
    fn from(e: DieselError) -> Self {
        match e {
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => Self::Conflict,
            other => Self::Db(other),
        }
    }
}

fn write_binding(
    conn: &mut AnyConnection,
    mobile: &Mobile,
    new_hash: Option<&str>,
    existing_id: Option<i32>,
    openid: &OpenId,
    profile: &QqProfileHint,
) -> Result<Bound, TxError> {
    db::transaction(conn, |conn| {
        let now = db::now();
        let (user, created) = match (existing_id, new_hash) {
            (Some(id), _) => {
                let user = users::find_by_id(conn, id)?.ok_or(TxError::Conflict)?;
                (user, false)
            }
            (None, Some(hash)) => {
                if users::find_by_mobile(conn, mobile.as_str())?.is_some() {
                    // Someone registered this mobile meanwhile: let the user retry.
                    return Err(TxError::Conflict);
                }
                let user = users::insert(
                    conn,
                    &users::NewUser {
                        username: mobile.as_str(),
                        mobile: mobile.as_str(),
                        password: hash,
                        nickname: &profile.nickname,
                        avatar_url: &profile.avatar_url,
                        is_staff: false,
                        is_active: true,
                        date_joined: now,
                    },
                )?;
                audit::record(
                    conn,
                    Some(user.id),
                    audit::Action::UserCreatedByQq,
                    Some(user.id),
                    "",
                    now,
                )?;
                (user, true)
            }
            (None, None) => return Err(TxError::Conflict),
        };

        match qq_bindings::find_by_openid(conn, openid.as_str())? {
            // The same openid bound to the same user again is a plain login.
            Some(b) if b.user_id == user.id => return Ok(Bound { user, created }),
            Some(_) => return Err(TxError::Conflict),
            None => {}
        }
        if qq_bindings::find_by_user(conn, user.id)?.is_some() {
            return Err(TxError::BoundElsewhere);
        }
        qq_bindings::insert(
            conn,
            &qq_bindings::NewQqBinding {
                user_id: user.id,
                openid: openid.as_str(),
                created_at: now,
                updated_at: now,
            },
        )?;
        if !created {
            users::adopt_profile(conn, user.id, &profile.nickname, &profile.avatar_url)?;
        }
        audit::record(
            conn,
            Some(user.id),
            audit::Action::QqBind,
            Some(user.id),
            &format!("openid={}", openid.as_str()),
            now,
        )?;
        Ok(Bound { user, created })
    })
}
