//! A QQ login, once for the pages and the JSON API: the `state` lifecycle (issued, kept,
//! taken once) and the completion (code → access token → openid → the bound account,
//! the disabled rule, or a bind to come). Each front-end turns the outcome into its own
//! answer; neither repeats a step.

use std::time::Duration;

use crate::codes::{keys, CodeStore, StoreError};
use crate::config::random_hex;
use crate::db::{identities, users::User, Db};
use crate::domain::{ExternalId, NextPath, Provider};
use crate::fault::Unavailable;
use crate::providers::{Connector, Grant, ProviderError};
use crate::signer::{self, ApiState, Signer};

/// How long a started QQ login may take (QQ's code lives 10 minutes).
pub const STATE_TTL: Duration = Duration::from_secs(600);

// ------------------------------------------------------------ the form's state

/// A login started in a browser: what its callback needs besides the code.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PendingLogin {
    /// Where to go once logged in (already a local path).
    pub next: String,
    /// Started to bind a provider to the account logged in (`intent=link`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub link: bool,
    /// Whose login it is (QQ when the entry names none).
    #[serde(default, skip_serializing_if = "Provider::is_qq")]
    pub provider: Provider,
    /// Started inside the WeChat app (the 公众号's authorization): its code is the
    /// 公众号's.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub in_app: bool,
}

/// The store's entry of a `state`: the session it was issued to and its login.
#[derive(serde::Serialize, serde::Deserialize)]
struct Issued {
    sid: String,
    login: PendingLogin,
}

/// A fresh `state` for a browser session: a 192-bit nonce (WeChat's: 128 bits, as its
/// `state` is best kept to 32 alphanumerics), kept [`STATE_TTL`] in the code store with
/// the session id that owns it and its login (`next`, …). The server keeps it, not the
/// cookie: starting a login writes nothing to the cookie, so two logins started at
/// once in two tabs both stay usable (each tab's answer would otherwise have written its
/// own list of pending logins, and the cookie kept one).
pub async fn issue_state(
    codes: &CodeStore,
    sid: &str,
    login: PendingLogin,
) -> Result<String, StoreError> {
    let nonce = random_hex(if login.provider == Provider::Wechat {
        16
    } else {
        24
    });
    let entry = Issued {
        sid: sid.to_owned(),
        login,
    };
    let value = serde_json::to_string(&entry).map_err(|e| StoreError(e.to_string()))?;
    codes
        .set_ex(&keys::qq_state(&nonce), &value, STATE_TTL)
        .await?;
    Ok(nonce)
}

/// What the store held for a `state`, now taken.
#[derive(Debug, PartialEq, Eq)]
pub enum Taken {
    /// Issued to this session: its login.
    Mine(PendingLogin),
    /// Issued to this session by a version that kept the login in the cookie (the
    /// store held the bare session id): the cookie has it.
    InCookie,
    /// Unknown, used, expired, or another session's.
    Refused,
}

/// Takes the store's entry of `nonce` (atomically: of two racing callbacks one gets it)
/// and says whether it was issued to `sid`. A replayed old cookie gains nothing: the
/// entry is gone.
pub async fn take_state(codes: &CodeStore, nonce: &str, sid: &str) -> Result<Taken, StoreError> {
    let Some(value) = codes.take(&keys::qq_state(nonce)).await? else {
        return Ok(Taken::Refused);
    };
    if !value.starts_with('{') {
        return Ok(if value == sid {
            Taken::InCookie
        } else {
            Taken::Refused
        });
    }
    Ok(match serde_json::from_str::<Issued>(&value) {
        Ok(entry) if entry.sid == sid => Taken::Mine(entry.login),
        _ => Taken::Refused,
    })
}

// -------------------------------------------------------------- the API's state

/// Why an API `state` is refused (before QQ is asked).
#[derive(Debug, thiserror::Error)]
pub enum ApiStateError {
    /// Forged, expired, already used, or issued for another provider's login.
    #[error("state无效或已过期，请重新发起{}登录", .0.label())]
    Invalid(Provider),
    /// Not redeemed with the verifier of the challenge it carries.
    #[error("code_verifier与发起{}登录时的code_challenge不符", .0.label())]
    Verifier(Provider),
    #[error("服务暂时不可用，请稍后再试")]
    Unavailable(#[source] StoreError),
}

/// A signed `state` for the JSON API (no cookie): a nonce, the client's PKCE
/// `code_challenge` (S256, already checked) and `next`, valid [`STATE_TTL`].
pub fn issue_api_state(
    signer: &Signer,
    challenge: &str,
    next: &NextPath,
    now: i64,
    provider: Provider,
) -> (String, ApiState) {
    // The nonce names the provider (QQ's as always: bare), so a state is redeemed only
    // by the provider it was issued for.
    let nonce = match provider {
        Provider::Qq => random_hex(16),
        p => format!("{p}-{}", random_hex(16)),
    };
    let api_state = ApiState {
        nonce,
        challenge: challenge.to_owned(),
        next: next.as_str().to_owned(),
    };
    let token = signer.sign_state(&api_state, now + STATE_TTL.as_secs() as i64);
    (token, api_state)
}

/// Redeems an API `state`: intact and unexpired, presented with the verifier of its
/// challenge (checked before it is counted, so a thief cannot burn it), and the first
/// use of its nonce.
pub async fn redeem_api_state(
    signer: &Signer,
    codes: &CodeStore,
    raw: &str,
    verifier: &str,
    now: i64,
    provider: Provider,
) -> Result<ApiState, ApiStateError> {
    let api_state = signer
        .verify_state(raw, now)
        .map_err(|_| ApiStateError::Invalid(provider))?;
    let issued_for = match api_state.nonce.split_once('-') {
        Some((p, _)) => Provider::parse(p),
        None => Some(Provider::Qq),
    };
    if issued_for != Some(provider) {
        return Err(ApiStateError::Invalid(provider));
    }
    if !signer::verifier_matches(verifier, &api_state.challenge) {
        tracing::info!("API state redeemed without its code_verifier");
        return Err(ApiStateError::Verifier(provider));
    }
    let uses = codes
        .incr(&keys::api_state(&api_state.nonce), STATE_TTL)
        .await
        .map_err(ApiStateError::Unavailable)?;
    if uses != 1 {
        return Err(ApiStateError::Invalid(provider));
    }
    Ok(api_state)
}

// -------------------------------------------------------------- the completion

pub use crate::providers::Profile;

/// What a provider login came to.
pub enum Outcome {
    /// The identity is bound to this active account: log it in.
    Bound(User),
    /// Not bound yet: a bind is to come.
    NotBound(Unbound),
    /// A new openid of a person whose unionid an account's identity of the same
    /// provider already has (another app of the same provider account: WeChat website
    /// and 公众号, QQ web and app): that account, once the person confirms.
    SamePerson { unbound: Unbound, owner: User },
}

/// An external identity not bound to any account yet.
pub struct Unbound {
    pub id: ExternalId,
    grant: Grant,
}

impl Unbound {
    /// The provider's profile, for the bind form's greeting. A nicety: the provider
    /// failing here is no failure of the login.
    pub async fn profile(&self, connector: &Connector) -> Profile {
        connector.profile(&self.grant).await
    }
}

/// A provider login that did not come to an account or a bind.
#[derive(Debug, thiserror::Error)]
pub enum QqLoginError {
    /// The identity's account is disabled: told so, whatever else.
    #[error("{}", crate::login::DISABLED_MESSAGE)]
    Disabled,
    /// The provider did not tell us who the person is.
    #[error("OAuth2.0认证失败")]
    Provider(crate::domain::Provider, #[source] ProviderError),
    #[error("服务暂时不可用，请稍后再试")]
    Unavailable(#[source] Unavailable),
}

/// Completes a provider login whose `state` has been taken: trades `code` for the
/// person's identity and finds the account bound to it, applying the disabled rule.
/// A returning identity keeps what arrived that it lacked (its unionid) and the time,
/// written at most once a minute.
pub async fn complete(connector: &Connector, db: &Db, code: &str) -> Result<Outcome, QqLoginError> {
    let grant = connector
        .sign_in(code)
        .await
        .map_err(|e| QqLoginError::Provider(connector.provider(), e))?;
    let provider = grant.id.provider;
    let oid = grant.id.openid.as_str().to_owned();
    let bound = db
        .read_one(move |c| identities::login_of(c, provider, &oid))
        .await
        .map_err(|e| QqLoginError::Unavailable(e.into()))?;
    let Some((identity, user)) = bound else {
        let unbound = Unbound {
            id: grant.id.clone(),
            grant,
        };
        return match same_person(db, &unbound.id).await? {
            Some(owner) => Ok(Outcome::SamePerson { unbound, owner }),
            None => Ok(Outcome::NotBound(unbound)),
        };
    };
    crate::login::refuse_disabled(&user).map_err(|_| QqLoginError::Disabled)?;
    let now = crate::db::now();
    let new_unionid = grant
        .id
        .unionid
        .as_ref()
        .filter(|_| identity.unionid.is_none())
        .map(|u| u.as_str().to_owned());
    if new_unionid.is_some() || crate::db::users::login_is_news(identity.last_login_at, now) {
        let id = identity.id;
        let noted = db
            .write(move |c| Ok(identities::note_login(c, id, new_unionid.as_deref(), now)?))
            .await;
        if let Err(e) = noted {
            // The login stands; the note is for the user centre and operators.
            tracing::warn!(error = %e, "identity login not recorded");
        }
    }
    tracing::info!(user_id = user.id, provider = %provider, openid = %grant.id.openid.masked(), "provider login");
    Ok(Outcome::Bound(user))
}

/// The account whose identity of `id`'s provider has `id`'s unionid under another
/// openid (the disabled rule applied), if any.
async fn same_person(db: &Db, id: &ExternalId) -> Result<Option<User>, QqLoginError> {
    let Some(unionid) = id.unionid.as_ref().map(|u| u.as_str().to_owned()) else {
        return Ok(None);
    };
    let provider = id.provider;
    let found = db
        .read_one(move |c| identities::with_unionid(c, provider, &unionid))
        .await
        .map_err(|e| QqLoginError::Unavailable(e.into()))?;
    match found {
        Some((other, owner)) if other.openid != id.openid.as_str() => {
            crate::login::refuse_disabled(&owner).map_err(|_| QqLoginError::Disabled)?;
            Ok(Some(owner))
        }
        _ => Ok(None),
    }
}

/// Why a same-person login was not confirmed.
#[derive(Debug, thiserror::Error)]
pub enum SamePersonError {
    /// The signed identity is forged, expired, of another session, or no longer
    /// matches an account by its unionid.
    #[error("登录请求已失效，请重新登录")]
    Stale,
    #[error("{}", crate::login::DISABLED_MESSAGE)]
    Disabled,
    #[error("服务暂时不可用，请稍后再试")]
    Unavailable(#[source] Unavailable),
}

/// The person confirmed that the account their unionid leads to is theirs: that
/// account, the login recorded in its audit log (the new openid, never silently).
pub async fn confirm_same_person(
    db: &Db,
    id: &ExternalId,
    origin: &crate::db::audit::Origin,
) -> Result<User, SamePersonError> {
    let owner = match same_person(db, id).await {
        Ok(Some(owner)) => owner,
        Ok(None) => return Err(SamePersonError::Stale),
        Err(QqLoginError::Disabled) => return Err(SamePersonError::Disabled),
        Err(QqLoginError::Unavailable(e)) => return Err(SamePersonError::Unavailable(e)),
        Err(QqLoginError::Provider(..)) => return Err(SamePersonError::Stale),
    };
    let detail = format!(
        "provider={} openid={} unionid={}",
        id.provider,
        id.openid.as_str(),
        id.unionid.as_ref().map(|u| u.as_str()).unwrap_or_default()
    );
    let (uid, origin) = (owner.id, origin.clone());
    db.write(move |c| {
        Ok(crate::db::audit::record(
            c,
            Some(uid),
            crate::db::audit::Action::SamePersonLogin,
            Some(uid),
            &detail,
            crate::db::now(),
            &origin,
        )?)
    })
    .await
    .map_err(|e| SamePersonError::Unavailable(e.into()))?;
    Ok(owner)
}
