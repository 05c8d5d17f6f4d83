//! The bind rules of spec section 4, in the order the table gives them. One function,
//! used by every front-end that binds a QQ openid to an account. Every attempt is
//! counted against the abuse limits before any work; row 7 is the shared password check
//! of [`crate::login`].

use diesel::result::{DatabaseErrorKind, Error as DieselError};

use crate::codes::service::{self as code_service, CaptchaAnswer, CaptchaError, SmsCodeError};
use crate::codes::Purpose;
use crate::db::{self, audit, audit::Origin, identities, users, users::User, AnyConnection};
use crate::domain::{ExternalId, Mobile, Password, Provider};
use crate::fault::Unavailable;
use crate::limits::{self, Guard, Limited, Refused};
use crate::login::password;
use crate::login::{self, PasswordError};
use crate::state::Deps;

/// What the user typed into the bind form.
#[derive(Clone, Default)]
pub struct BindInput {
    pub mobile: String,
    pub password: String,
    pub sms_code: String,
    pub access_token: String,
    /// The image captcha, asked for once the mobile or the account is under attack.
    pub image_code: String,
    pub image_code_id: String,
}

pub use crate::login::qq::Profile;

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
    ImageCode,
}

/// A refused bind: rows 1–9 of the table, and the limits around them. `Display` is the
/// exact message.
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
    #[error("{}", crate::login::DISABLED_MESSAGE)]
    Disabled,
    /// Row 8: the account has another identity of this provider (`该账号已绑定其他QQ`).
    #[error("该账号已绑定其他{}", .0.label())]
    AccountBoundElsewhere(Provider),
    /// Row 9 (`QQ登录失败`).
    #[error("{}登录失败", .0.label())]
    Failed(Provider),
    /// The mobile or the account is under attack: the image captcha was not right.
    #[error("{0}")]
    Captcha(CaptchaError),
    /// Over an abuse limit (429).
    #[error("{0}")]
    Limited(Limited),
    /// Not a user mistake: a dependency failed, and nothing was written.
    #[error("服务暂时不可用，请稍后再试")]
    Unavailable(#[source] Unavailable),
}

impl BindError {
    /// The row of the spec's table (`1`–`9`), or what refused instead: what metrics
    /// count refusals by.
    pub fn row(&self) -> &'static str {
        match self {
            Self::Missing => "1",
            Self::BadMobile => "2",
            Self::BadPassword => "3",
            Self::SmsMissing => "4",
            Self::SmsWrong => "5",
            Self::BadOpenId => "6",
            Self::WrongPassword => "7",
            Self::AccountBoundElsewhere(_) => "8",
            Self::Failed(_) => "9",
            Self::Disabled => "disabled",
            Self::Captcha(_) => "captcha",
            Self::Limited(_) => "limited",
            Self::Unavailable(_) => "unavailable",
        }
    }

    pub fn slot(&self) -> Slot {
        match self {
            Self::Missing | Self::Unavailable(_) | Self::Limited(_) => Slot::Form,
            Self::BadMobile => Slot::Mobile,
            Self::BadPassword => Slot::Password,
            Self::SmsMissing | Self::SmsWrong => Slot::SmsCode,
            Self::BadOpenId => Slot::OpenId,
            Self::WrongPassword | Self::Disabled => Slot::Account,
            Self::AccountBoundElsewhere(_) | Self::Failed(_) => Slot::QqLogin,
            Self::Captcha(_) => Slot::ImageCode,
        }
    }
}

/// A limit's refusal or the captcha's, as the password check maps them.
impl From<Refused> for BindError {
    fn from(r: Refused) -> Self {
        PasswordError::from(r).into()
    }
}

impl From<PasswordError> for BindError {
    fn from(e: PasswordError) -> Self {
        match e {
            PasswordError::Wrong => Self::WrongPassword,
            PasswordError::Disabled => Self::Disabled,
            PasswordError::Captcha(e) => Self::Captcha(e),
            PasswordError::Limited(l) => Self::Limited(l),
            PasswordError::Unavailable(e) => Self::Unavailable(e),
        }
    }
}

impl From<CaptchaError> for BindError {
    fn from(e: CaptchaError) -> Self {
        PasswordError::from(e).into()
    }
}

/// A bind that went through: the user to log in.
#[derive(Debug)]
pub struct Bound {
    pub user: User,
    pub created: bool,
}

/// Counts a bind attempt naming `subject` (a mobile, an account) before any work: the
/// client's limit and the subject's limit on this network refuse; past the subject's
/// limit from anywhere, the captcha is needed (true).
async fn admit(guard: &mut Guard, subject: Option<&str>) -> Result<bool, BindError> {
    let bucket = guard.client().bucket();
    guard.admit(&limits::FORM_FAILS_PER_IP, &bucket).await?;
    let Some(subject) = subject else {
        return Ok(false);
    };
    let network = guard.client().network();
    guard
        .admit(
            &limits::BIND_FAILS_PER_ACCOUNT_NET,
            &format!("{subject}@{network}"),
        )
        .await?;
    Ok(guard
        .strained(&limits::BIND_FAILS_PER_ACCOUNT, subject)
        .await?)
}

/// Checks the form (rows 1–9) and binds the openid in `input.access_token` to the account
/// of `input.mobile`, creating the account when the mobile is new. `token_binding` is
/// what the openid token was bound to when signed (the browser session's id). Every
/// attempt is counted by `guard` first; a success clears the counts.
pub async fn bind(
    deps: &Deps<'_>,
    guard: &mut Guard,
    origin: &Origin,
    input: &BindInput,
    token_binding: &str,
    profile: &Profile,
) -> Result<Bound, BindError> {
    let mobile_raw = input.mobile.trim();
    let named = Mobile::parse(mobile_raw).map(|m| format!("mobile:{}", m.as_str()));
    let captcha_needed = admit(guard, named.as_deref()).await?;
    let mut captcha = CaptchaAnswer::new(&input.image_code, &input.image_code_id);

    // 1–3: the form itself.
    if mobile_raw.is_empty()
        || input.password.is_empty()
        || input.sms_code.trim().is_empty()
        || input.access_token.trim().is_empty()
    {
        return Err(BindError::Missing);
    }
    let mobile = Mobile::parse(mobile_raw).ok_or(BindError::BadMobile)?;
    let pw = Password::parse(&input.password).ok_or(BindError::BadPassword)?;
    if captcha_needed {
        captcha.verify(deps.codes).await?;
    }

    // 4–5: the SMS code (checked here, consumed only once everything else holds).
    let sms_code = input.sms_code.trim();
    code_service::check_sms_code(deps.codes, Purpose::Bind, &mobile, sms_code)
        .await
        .map_err(sms_error)?;

    // 6: the openid token.
    let id = verify_token(deps, &input.access_token, token_binding)?;

    // 7–8: an existing account must prove its password and be free.
    let m = mobile.as_str().to_owned();
    let existing = deps
        .db
        .read(move |c| Ok(users::find_by_mobile(c, &m)?))
        .await
        .map_err(unavailable)?;
    let new_hash = match &existing {
        Some(user) => {
            login::check_password(
                deps.codes,
                deps.bcrypt_cost,
                guard,
                Some(user),
                mobile_raw,
                pw.expose(),
                &mut captcha,
            )
            .await?;
            check_free(deps, user, &id).await?;
            None
        }
        None => Some(
            password::hash(&pw, deps.bcrypt_cost)
                .await
                .map_err(unavailable)?,
        ),
    };

    // 9: create + bind in one transaction.
    let binding = Binding {
        mobile,
        new_hash,
        existing_id: existing.as_ref().map(|u| u.id),
        id,
        profile: profile.clone(),
        origin: origin.clone(),
    };
    settle(deps, guard, sms_code, binding).await
}

/// What row 9 writes.
struct Binding {
    mobile: Mobile,
    /// A new account's password hash (None: bind the existing account).
    new_hash: Option<String>,
    existing_id: Option<i32>,
    id: ExternalId,
    profile: Profile,
    origin: Origin,
}

/// Uses the SMS code up (atomically: of two racing requests only one passes), then
/// writes the binding. A write that could not happen (the database busy or down) puts
/// the code back, so the same code works on the next try; a success clears the counts.
async fn settle(
    deps: &Deps<'_>,
    guard: &mut Guard,
    sms_code: &str,
    binding: Binding,
) -> Result<Bound, BindError> {
    let mobile = binding.mobile.clone();
    let left = sms_code_left(deps, &mobile).await;
    code_service::consume_sms_code(deps.codes, Purpose::Bind, &mobile, sms_code)
        .await
        .map_err(sms_error)?;
    let written = write(deps, binding).await;
    if let Err(BindError::Unavailable(_)) = &written {
        code_service::restore_sms_code(deps.codes, Purpose::Bind, &mobile, sms_code, left).await;
    }
    let bound = written?;
    guard.succeeded().await;
    Ok(bound)
}

/// How long the SMS code of `mobile` has left (for putting it back if the write fails).
async fn sms_code_left(deps: &Deps<'_>, mobile: &Mobile) -> std::time::Duration {
    let key = crate::codes::keys::sms(mobile.as_str());
    match deps.codes.ttl(&key).await {
        Ok(Some(left)) => left,
        _ => crate::codes::keys::SMS_CODE_TTL,
    }
}

/// The existing account a Renran-style client binds by its login (username or mobile),
/// its password and an SMS code sent to its mobile (the form's rule): rows 1, 6, the
/// account, 4–5 for its mobile, 7, 8, 9, in that order.
#[derive(Clone, Default)]
pub struct ExistingInput {
    pub login: String,
    pub password: String,
    pub sms_code: String,
    pub access_token: String,
    pub image_code: String,
    pub image_code_id: String,
}

/// Binds the openid in `input.access_token` to the account that `input.login`, its
/// password and the SMS code sent to its mobile prove.
pub async fn bind_existing(
    deps: &Deps<'_>,
    guard: &mut Guard,
    origin: &Origin,
    input: &ExistingInput,
    token_binding: &str,
) -> Result<Bound, BindError> {
    let login = input.login.trim();
    let named = (!login.is_empty() && login.len() <= 64).then(|| format!("login:{login}"));
    let captcha_needed = admit(guard, named.as_deref()).await?;
    let mut captcha = CaptchaAnswer::new(&input.image_code, &input.image_code_id);
    if login.is_empty()
        || input.password.is_empty()
        || input.sms_code.trim().is_empty()
        || input.access_token.trim().is_empty()
    {
        return Err(BindError::Missing);
    }
    let id = verify_token(deps, &input.access_token, token_binding)?;
    if login.len() > 64 || input.password.len() > 64 {
        return Err(BindError::WrongPassword);
    }
    if captcha_needed {
        captcha.verify(deps.codes).await?;
    }
    let l = login.to_owned();
    let user = deps
        .db
        .read(move |c| Ok(users::find_by_login(c, &l)?))
        .await
        .map_err(unavailable)?;
    let sms_code = input.sms_code.trim();
    let mobile = match &user {
        Some(u) => {
            let mobile = Mobile::parse(&u.mobile).ok_or(BindError::Failed(id.provider))?;
            code_service::check_sms_code(deps.codes, Purpose::Bind, &mobile, sms_code)
                .await
                .map_err(sms_error)?;
            Some(mobile)
        }
        None => None,
    };
    login::check_password(
        deps.codes,
        deps.bcrypt_cost,
        guard,
        user.as_ref(),
        login,
        &input.password,
        &mut captcha,
    )
    .await?;
    let (Some(user), Some(mobile)) = (user, mobile) else {
        return Err(BindError::WrongPassword);
    };
    check_free(deps, &user, &id).await?;
    let binding = Binding {
        mobile,
        new_hash: None,
        existing_id: Some(user.id),
        id,
        profile: Profile::default(),
        origin: origin.clone(),
    };
    settle(deps, guard, sms_code, binding).await
}

/// Why binding an identity to the account one is logged in to was refused. Nothing
/// changed.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("无效的openid")]
    BadOpenId,
    /// The identity is bound to another account: named only masked (`138****5678`).
    #[error("该{}已绑定账号 {owner}", .provider.label())]
    OwnedElsewhere { provider: Provider, owner: String },
    #[error("该账号已绑定其他{}", .0.label())]
    AccountBoundElsewhere(Provider),
    #[error("{}", crate::login::DISABLED_MESSAGE)]
    Disabled,
    #[error("{}登录失败", .0.label())]
    Failed(Provider),
    #[error("服务暂时不可用，请稍后再试")]
    Unavailable(#[source] Unavailable),
}

/// How an account is named to someone who is not logged in to it: its mobile masked.
pub fn masked_owner(user: &User) -> String {
    Mobile::parse(&user.mobile)
        .map(|m| m.masked())
        .unwrap_or_else(|| crate::domain::mask_middle(&user.mobile))
}

/// Whether the identity could be bound to `user` now (the confirmation page asks only
/// then): `Ok(false)` when it already is bound to `user`.
pub async fn link_check(deps: &Deps<'_>, user: &User, id: &ExternalId) -> Result<bool, LinkError> {
    let (uid, provider, oid) = (user.id, id.provider, id.openid.as_str().to_owned());
    let (owner, current) = deps
        .db
        .read(move |c| {
            Ok((
                identities::user_of(c, provider, &oid)?,
                identities::of_user(c, provider, uid)?,
            ))
        })
        .await
        .map_err(|e| LinkError::Unavailable(e.into()))?;
    match owner {
        Some(o) if o.id == user.id => return Ok(false),
        Some(o) => {
            return Err(LinkError::OwnedElsewhere {
                provider,
                owner: masked_owner(&o),
            })
        }
        None => {}
    }
    if current.is_some() {
        return Err(LinkError::AccountBoundElsewhere(provider));
    }
    Ok(true)
}

/// Binds the identity in `access_token` to `user`, who is logged in and so proves the
/// account (no password, no SMS code): the identity must be free and the account have
/// none of that provider yet. The same identity bound to `user` already is a success.
pub async fn link(
    deps: &Deps<'_>,
    user: &User,
    access_token: &str,
    token_binding: &str,
    profile: &Profile,
    origin: &Origin,
) -> Result<Bound, LinkError> {
    let id = verify_token(deps, access_token, token_binding).map_err(|_| LinkError::BadOpenId)?;
    if !user.is_active {
        return Err(LinkError::Disabled);
    }
    if !link_check(deps, user, &id).await? {
        return Ok(Bound {
            user: user.clone(),
            created: false,
        });
    }
    let provider = id.provider;
    let mobile = Mobile::parse(&user.mobile).ok_or(LinkError::Failed(provider))?;
    let binding = Binding {
        mobile,
        new_hash: None,
        existing_id: Some(user.id),
        id: id.clone(),
        profile: profile.clone(),
        origin: origin.clone(),
    };
    match write(deps, binding).await {
        Ok(bound) => Ok(bound),
        Err(BindError::AccountBoundElsewhere(p)) => Err(LinkError::AccountBoundElsewhere(p)),
        Err(BindError::Unavailable(e)) => Err(LinkError::Unavailable(e)),
        // Lost a race for the identity: say to whom.
        Err(_) => match link_check(deps, user, &id).await {
            Err(e) => Err(e),
            Ok(_) => Err(LinkError::Failed(provider)),
        },
    }
}

/// Row 6: the signed openid token.
fn verify_token(deps: &Deps<'_>, token: &str, binding: &str) -> Result<ExternalId, BindError> {
    deps.signer
        .verify_identity(token.trim(), binding, deps.clock.now())
        .map_err(|e| {
            tracing::info!(reason = %e, "openid token refused");
            BindError::BadOpenId
        })
}

/// Row 8: no other identity of the provider bound to the account.
async fn check_free(deps: &Deps<'_>, user: &User, id: &ExternalId) -> Result<(), BindError> {
    let (uid, provider, oid) = (user.id, id.provider, id.openid.as_str().to_owned());
    let current = deps
        .db
        .read(move |c| Ok(identities::of_user(c, provider, uid)?))
        .await
        .map_err(unavailable)?;
    match current {
        Some(b) if b.openid != oid => Err(BindError::AccountBoundElsewhere(provider)),
        _ => Ok(()),
    }
}

/// Row 9: create (when `new_hash` is given) and bind, in one transaction.
async fn write(deps: &Deps<'_>, b: Binding) -> Result<Bound, BindError> {
    let provider = b.id.provider;
    let result = deps
        .db
        .write(move |c| {
            Ok(write_binding(
                c,
                &b.mobile,
                b.new_hash.as_deref(),
                b.existing_id,
                &b.id,
                &b.profile,
                &b.origin,
            ))
        })
        .await
        .map_err(unavailable)?;
    match result {
        Ok(bound) => Ok(bound),
        Err(TxError::BoundElsewhere) => Err(BindError::AccountBoundElsewhere(provider)),
        Err(TxError::Conflict) => Err(BindError::Failed(provider)),
        Err(TxError::Db(e)) if db::is_lock_timeout(&e) => {
            Err(BindError::Unavailable(db::DbError::Query(e).into()))
        }
        Err(TxError::Db(e)) => {
            tracing::error!(error = %e, "bind transaction failed");
            Err(BindError::Failed(provider))
        }
    }
}

/// A dependency failed before anything was written.
fn unavailable(e: impl Into<Unavailable>) -> BindError {
    BindError::Unavailable(e.into())
}

fn sms_error(e: SmsCodeError) -> BindError {
    match e {
        SmsCodeError::Missing => BindError::SmsMissing,
        SmsCodeError::Wrong => BindError::SmsWrong,
        SmsCodeError::Store(e) => BindError::Unavailable(e.into()),
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
    id: &ExternalId,
    profile: &Profile,
    origin: &Origin,
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
                    audit::Action::created_by(id.provider),
                    Some(user.id),
                    // The operators' pages name WeChat or Weibo from it.
                    &match id.provider {
                        Provider::Qq => String::new(),
                        p => format!("provider={p}"),
                    },
                    now,
                    origin,
                )?;
                (user, true)
            }
            (None, None) => return Err(TxError::Conflict),
        };

        let provider = id.provider;
        match identities::find(conn, provider, id.openid.as_str())? {
            // The same identity bound to the same user again is a plain login.
            Some(b) if b.user_id == user.id => return Ok(Bound { user, created }),
            Some(_) => return Err(TxError::Conflict),
            None => {}
        }
        if identities::of_user(conn, provider, user.id)?.is_some() {
            return Err(TxError::BoundElsewhere);
        }
        identities::insert(
            conn,
            &identities::NewIdentity {
                provider: provider.as_str(),
                openid: id.openid.as_str(),
                unionid: id.unionid.as_ref().map(|u| u.as_str()),
                user_id: user.id,
                nickname: &profile.nickname,
                avatar_url: &profile.avatar_url,
                bound_at: now,
                last_login_at: Some(now),
            },
        )?;
        if !created {
            users::adopt_profile(conn, user.id, &profile.nickname, &profile.avatar_url)?;
        }
        let detail = match provider {
            Provider::Qq => format!("openid={}", id.openid),
            p => format!("provider={p} openid={}", id.openid),
        };
        audit::record(
            conn,
            Some(user.id),
            audit::Action::bind(provider),
            Some(user.id),
            &detail,
            now,
            origin,
        )?;
        Ok(Bound { user, created })
    })
}

/// The table of spec section 4, row by row, straight against the service and only the
/// parts it uses: a temporary SQLite file, the in-process store, no HTTP, no settings.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::codes::{keys, CodeStore, MemoryStore};
    use crate::db::Db;
    use crate::domain::OpenId;
    use crate::limits::Client;
    use crate::signer::Signer;
    use crate::state::{unix_now, Clock};

    const MOBILE: &str = "13800138000";
    const PASSWORD: &str = "abcd1234";
    const SID: &str = "session-1";

    /// Just what the service uses: a temporary SQLite file, an in-process store, a
    /// signer and a clock.
    struct Parts {
        db: Db,
        codes: CodeStore,
        signer: Signer,
        clock: Clock,
        _dir: tempfile::TempDir,
    }

    impl Parts {
        fn new() -> Self {
            let dir = tempfile::tempdir().unwrap();
            let url = dir.path().join("t.db").to_string_lossy().into_owned();
            let pool = db::build_pool(&url).unwrap();
            db::run_migrations(&pool).unwrap();
            Self {
                db: Db::new(pool, &url).unwrap(),
                codes: CodeStore::Memory(MemoryStore::new()),
                signer: Signer::new(b"a test key, a test key, a test key"),
                clock: Clock::system(),
                _dir: dir,
            }
        }

        fn deps(&self) -> Deps<'_> {
            Deps {
                db: &self.db,
                codes: &self.codes,
                signer: &self.signer,
                clock: &self.clock,
                bcrypt_cost: 4,
            }
        }
    }

    fn input(state: &Parts, openid: &str) -> BindInput {
        let openid = OpenId::parse(openid).unwrap();
        BindInput {
            mobile: MOBILE.into(),
            password: PASSWORD.into(),
            sms_code: "123456".into(),
            access_token: state.signer.sign_openid(&openid, unix_now() + 600, SID),
            ..BindInput::default()
        }
    }

    async fn try_bind(state: &Parts, input: &BindInput) -> Result<Bound, BindError> {
        let client = Client::new("203.0.113.7".parse().unwrap());
        let mut guard = Guard::new(&state.codes, false, client);
        let origin = Origin::new(client.address(), audit::Channel::Form);
        bind(
            &state.deps(),
            &mut guard,
            &origin,
            input,
            SID,
            &Profile::default(),
        )
        .await
    }

    async fn refused(state: &Parts, input: &BindInput) -> String {
        try_bind(state, input).await.unwrap_err().to_string()
    }

    #[tokio::test]
    async fn every_row_of_the_table_in_its_order() {
        let state = Parts::new();
        let good = input(&state, "OPENID1");
        let with = |f: &dyn Fn(&mut BindInput)| {
            let mut i = good.clone();
            f(&mut i);
            i
        };
        // 1–3: the form.
        assert_eq!(
            refused(&state, &with(&|i| i.sms_code.clear())).await,
            "缺少必传参数"
        );
        assert_eq!(
            refused(&state, &with(&|i| i.mobile = "1380013800".into())).await,
            "请输入正确的手机号码"
        );
        assert_eq!(
            refused(&state, &with(&|i| i.password = "short".into())).await,
            "请输入8-20位的密码"
        );
        // 4–5: the SMS code.
        assert_eq!(refused(&state, &good).await, "无效的短信验证码");
        state
            .codes
            .set_ex(&keys::sms(MOBILE), "123456", keys::SMS_CODE_TTL)
            .await
            .unwrap();
        assert_eq!(
            refused(&state, &with(&|i| i.sms_code = "654321".into())).await,
            "输入短信验证码有误"
        );
        // 6: the openid token, bound to the session it was made for.
        assert_eq!(
            refused(&state, &with(&|i| i.access_token = "forged".into())).await,
            "无效的openid"
        );
        // A new mobile: an account is made and bound; the code is used up.
        let bound = try_bind(&state, &good).await.unwrap();
        assert!(bound.created);
        assert_eq!(state.codes.get(&keys::sms(MOBILE)).await.unwrap(), None);
        // 7: now the mobile has an account, and its password must be right.
        state
            .codes
            .set_ex(&keys::sms(MOBILE), "123456", keys::SMS_CODE_TTL)
            .await
            .unwrap();
        let other = input(&state, "OPENID2");
        let wrong = BindInput {
            password: "wrongpass1".into(),
            ..other.clone()
        };
        assert_eq!(refused(&state, &wrong).await, "用户名或密码错误");
        // 8: it is bound to another QQ already.
        assert_eq!(refused(&state, &other).await, "该账号已绑定其他QQ");
        // The same openid again is a plain login, not a second binding.
        let again = try_bind(&state, &good).await.unwrap();
        assert_eq!((again.user.id, again.created), (bound.user.id, false));
    }
}
