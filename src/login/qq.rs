//! A QQ login, once for the pages and the JSON API: the `state` lifecycle (issued, kept,
//! taken once) and the completion (code → access token → openid → the bound account,
//! the disabled rule, or a bind to come). Each front-end turns the outcome into its own
//! answer; neither repeats a step.

use std::time::Duration;

use crate::codes::{keys, CodeStore, StoreError};
use crate::config::random_hex;
use crate::db::{qq_bindings, users::User, Db};
use crate::domain::{NextPath, OpenId};
use crate::fault::Unavailable;
use crate::qq::{AccessToken, QqClient, QqError};
use crate::signer::{self, ApiState, Signer};

/// How long a started QQ login may take (QQ's code lives 10 minutes).
pub const STATE_TTL: Duration = Duration::from_secs(600);

// ------------------------------------------------------------ the form's state

/// A fresh `state` for a browser session: a 192-bit nonce, kept in the code store with
/// the session id that owns it (the session keeps its own copy with `next`).
pub async fn issue_state(codes: &CodeStore, sid: &str) -> Result<String, StoreError> {
    let nonce = random_hex(24);
    codes
        .set_ex(&keys::qq_state(&nonce), sid, STATE_TTL)
        .await?;
    Ok(nonce)
}

/// Takes the store's copy of `nonce` (atomically: of two racing callbacks one gets it)
/// and says whether it was issued to `sid`. A replayed old cookie still holding the
/// session's copy gains nothing: the store's copy is gone.
pub async fn take_state(codes: &CodeStore, nonce: &str, sid: &str) -> Result<bool, StoreError> {
    Ok(codes.take(&keys::qq_state(nonce)).await?.as_deref() == Some(sid))
}

// -------------------------------------------------------------- the API's state

/// Why an API `state` is refused (before QQ is asked).
#[derive(Debug, thiserror::Error)]
pub enum ApiStateError {
    /// Forged, expired, or already used.
    #[error("state无效或已过期，请重新发起QQ登录")]
    Invalid,
    /// Not redeemed with the verifier of the challenge it carries.
    #[error("code_verifier与发起QQ登录时的code_challenge不符")]
    Verifier,
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
) -> (String, ApiState) {
    let api_state = ApiState {
        nonce: random_hex(16),
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
) -> Result<ApiState, ApiStateError> {
    let api_state = signer
        .verify_state(raw, now)
        .map_err(|_| ApiStateError::Invalid)?;
    if !signer::verifier_matches(verifier, &api_state.challenge) {
        tracing::info!("API state redeemed without its code_verifier");
        return Err(ApiStateError::Verifier);
    }
    let uses = codes
        .incr(&keys::api_state(&api_state.nonce), STATE_TTL)
        .await
        .map_err(ApiStateError::Unavailable)?;
    if uses != 1 {
        return Err(ApiStateError::Invalid);
    }
    Ok(api_state)
}

// -------------------------------------------------------------- the completion

/// The QQ profile a new account takes: nickname and avatar, cleaned.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Profile {
    pub nickname: String,
    pub avatar_url: String,
}

/// What a QQ login came to.
pub enum Outcome {
    /// The openid is bound to this active account: log it in.
    Bound(User),
    /// Not bound yet: a bind is to come.
    NotBound(Unbound),
}

/// A QQ identity not bound to any account yet.
pub struct Unbound {
    pub openid: OpenId,
    token: AccessToken,
}

impl Unbound {
    /// The QQ profile, for the bind form's greeting. A nicety: QQ failing here is no
    /// failure of the login.
    pub async fn profile(&self, qq: &QqClient) -> Profile {
        match qq.profile(&self.token, &self.openid).await {
            Ok(p) => Profile {
                nickname: crate::domain::clean_nickname(p.nickname.as_deref().unwrap_or_default()),
                avatar_url: crate::domain::clean_avatar_url(p.avatar_url.as_deref()),
            },
            Err(e) => {
                tracing::info!(error = %e, "QQ user info unavailable");
                Profile::default()
            }
        }
    }
}

/// A QQ login that did not come to an account or a bind.
#[derive(Debug, thiserror::Error)]
pub enum QqLoginError {
    /// The openid's account is disabled: told so, whatever else.
    #[error("{}", crate::login::DISABLED_MESSAGE)]
    Disabled,
    /// QQ did not give us an openid.
    #[error("OAuth2.0认证失败")]
    Qq(#[source] QqError),
    #[error("服务暂时不可用，请稍后再试")]
    Unavailable(#[source] Unavailable),
}

/// Completes a QQ login whose `state` has been taken: trades `code` for an openid and
/// finds the account bound to it, applying the disabled rule.
pub async fn complete(qq: &QqClient, db: &Db, code: &str) -> Result<Outcome, QqLoginError> {
    let token = qq.exchange_code(code).await.map_err(QqLoginError::Qq)?;
    let openid = qq.openid(&token).await.map_err(QqLoginError::Qq)?;
    let oid = openid.as_str().to_owned();
    let bound = db
        .read_one(move |c| qq_bindings::user_of(c, &oid))
        .await
        .map_err(|e| QqLoginError::Unavailable(e.into()))?;
    match bound {
        Some(user) => {
            crate::login::refuse_disabled(&user).map_err(|_| QqLoginError::Disabled)?;
            tracing::info!(user_id = user.id, openid = %openid.masked(), "QQ login");
            Ok(Outcome::Bound(user))
        }
        None => Ok(Outcome::NotBound(Unbound { openid, token })),
    }
}
