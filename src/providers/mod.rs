//! The login providers behind one interface: where to send the browser, a `code` →
//! who the person is, and their profile. QQ (`crate::qq`), WeChat Open Platform
//! website login and Weibo (this module), each with its own wire format
//! (`../shared/providers.md`), the same errors, the same metrics.

pub mod wechat;
pub mod wechat_wire;
pub mod weibo;
pub mod weibo_wire;

use std::time::Duration;
use url::Url;

use crate::domain::{ExternalId, OpenId, Provider};
use crate::qq::{QqClient, QqError};

pub use wechat::WechatClient;
pub use weibo::WeiboClient;

/// A body a provider sent that says no, or that we cannot read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The provider's own error code and text.
    #[error("provider error {code}: {description}")]
    Refused { code: i64, description: String },
    #[error("unexpected body: {0}")]
    Malformed(&'static str),
}

/// Why a provider did not tell us who the person is. `Display` is safe to log: no URL
/// (it would carry a secret or a token), no token.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error(transparent)]
    Qq(#[from] QqError),
    #[error("request failed: {0}")]
    Http(String),
    #[error("no answer in time")]
    Timeout,
    #[error("answered HTTP {0}")]
    Status(u16),
    #[error(transparent)]
    Wire(#[from] WireError),
    /// The answer is for another application or another person than asked.
    #[error("answer does not match the request: {0}")]
    Mismatch(&'static str),
    #[error("gave an id we do not accept")]
    BadId,
}

impl ProviderError {
    /// The kind of failure, as metrics label it: `timeout`, `http`, `body`, `provider`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Qq(e) => e.kind(),
            Self::Timeout => "timeout",
            Self::Http(_) | Self::Status(_) => "http",
            Self::Wire(WireError::Refused { .. }) => "provider",
            Self::Wire(WireError::Malformed(_)) | Self::Mismatch(_) | Self::BadId => "body",
        }
    }
}

pub(crate) fn http_error(e: reqwest::Error) -> ProviderError {
    if e.is_timeout() {
        ProviderError::Timeout
    } else {
        ProviderError::Http(e.without_url().to_string())
    }
}

/// Reads an answer's body as bytes (a provider's 4xx carries its error body too).
pub(crate) async fn body_of(resp: reqwest::Response) -> Result<(u16, Vec<u8>), ProviderError> {
    let status = resp.status().as_u16();
    let bytes = resp.bytes().await.map_err(http_error)?;
    if bytes.len() > 64 * 1024 {
        return Err(ProviderError::Wire(WireError::Malformed("body too large")));
    }
    Ok((status, bytes.to_vec()))
}

/// Told of every call: the provider, the endpoint, how long it took, the failure kind.
pub type Observer =
    std::sync::Arc<dyn Fn(Provider, &'static str, Duration, Option<&'static str>) + Send + Sync>;

/// Runs one call, telling `observer` how it went.
pub(crate) async fn observed<T>(
    observer: &Option<Observer>,
    provider: Provider,
    endpoint: &'static str,
    call: impl std::future::Future<Output = Result<T, ProviderError>>,
) -> Result<T, ProviderError> {
    let started = std::time::Instant::now();
    let result = call.await;
    if let Some(observe) = observer {
        observe(
            provider,
            endpoint,
            started.elapsed(),
            result.as_ref().err().map(ProviderError::kind),
        );
    }
    result
}

/// Who a provider said the person is, with what it takes to ask for their profile.
#[derive(Debug)]
pub struct Grant {
    pub id: ExternalId,
    token: GrantToken,
}

#[derive(Debug)]
enum GrantToken {
    Qq(crate::qq::AccessToken),
    Other(crate::config::Secret),
}

/// One provider, configured.
#[derive(Clone)]
pub enum Connector {
    Qq(QqClient),
    Wechat(WechatClient),
    Weibo(WeiboClient),
}

impl Connector {
    pub fn provider(&self) -> Provider {
        match self {
            Self::Qq(_) => Provider::Qq,
            Self::Wechat(_) => Provider::Wechat,
            Self::Weibo(_) => Provider::Weibo,
        }
    }

    /// Where to send the browser for `state` (`phone`: the provider's page for phones,
    /// where it has one).
    pub fn authorize_url(&self, state: &str, phone: bool) -> String {
        match self {
            Self::Qq(c) => c.authorize_url_for(state, phone),
            Self::Wechat(c) => c.authorize_url(state),
            Self::Weibo(c) => c.authorize_url(state, phone),
        }
    }

    /// `code` → who the person is (every check of the provider's answers made).
    pub async fn sign_in(&self, code: &str) -> Result<Grant, ProviderError> {
        match self {
            Self::Qq(c) => {
                let token = c.exchange_code(code).await?;
                let id = c.identity(&token).await?;
                Ok(Grant {
                    id,
                    token: GrantToken::Qq(token),
                })
            }
            Self::Wechat(c) => {
                let (id, token) = c.sign_in(code).await?;
                Ok(Grant {
                    id,
                    token: GrantToken::Other(token),
                })
            }
            Self::Weibo(c) => {
                let (id, token) = c.sign_in(code).await?;
                Ok(Grant {
                    id,
                    token: GrantToken::Other(token),
                })
            }
        }
    }

    /// The nickname and avatar, cleaned. A nicety: a provider failing here is no failure
    /// of the login (an empty profile).
    pub async fn profile(&self, grant: &Grant) -> Profile {
        let got = match (self, &grant.token) {
            (Self::Qq(c), GrantToken::Qq(t)) => c
                .profile(t, &grant.id.openid)
                .await
                .map(|p| (p.nickname.unwrap_or_default(), p.avatar_url))
                .map_err(ProviderError::from),
            (Self::Wechat(c), GrantToken::Other(t)) => c.profile(t, &grant.id).await,
            (Self::Weibo(c), GrantToken::Other(t)) => c.profile(t, &grant.id).await,
            _ => Err(ProviderError::Mismatch("grant of another provider")),
        };
        match got {
            Ok((nickname, avatar)) => Profile {
                nickname: crate::domain::clean_nickname(&nickname),
                avatar_url: crate::domain::clean_avatar_url(avatar.as_deref()),
            },
            Err(e) => {
                tracing::info!(provider = %self.provider(), error = %e, "user info unavailable");
                Profile::default()
            }
        }
    }
}

/// The provider's profile a new account takes: nickname and avatar, cleaned.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Profile {
    pub nickname: String,
    pub avatar_url: String,
}

/// An id a provider gave, as we accept it (1–64 of `[0-9A-Za-z_-]`).
pub(crate) fn id(raw: &str) -> Result<OpenId, ProviderError> {
    OpenId::parse(raw).ok_or(ProviderError::BadId)
}

/// The configured providers: QQ always (real or simulated), WeChat and Weibo when their
/// settings are given (or simulated in dev mode).
#[derive(Clone)]
pub struct Providers {
    qq: Connector,
    wechat: Option<Connector>,
    /// WeChat inside its own app (the 公众号), when `WECHAT_MP_*` is set.
    wechat_in_app: Option<Connector>,
    weibo: Option<Connector>,
}

impl Providers {
    pub fn new(qq: QqClient, wechat: Option<WechatClient>, weibo: Option<WeiboClient>) -> Self {
        Self {
            qq: Connector::Qq(qq),
            wechat: wechat.map(Connector::Wechat),
            wechat_in_app: None,
            weibo: weibo.map(Connector::Weibo),
        }
    }

    pub fn with_wechat_in_app(mut self, client: Option<WechatClient>) -> Self {
        self.wechat_in_app = client.map(Connector::Wechat);
        self
    }

    /// WeChat's connector inside the WeChat app, when a 公众号 is configured.
    pub fn wechat_in_app(&self) -> Option<&Connector> {
        self.wechat_in_app.as_ref()
    }

    /// `provider`'s connector when it is on.
    pub fn get(&self, provider: Provider) -> Option<&Connector> {
        match provider {
            Provider::Qq => Some(&self.qq),
            Provider::Wechat => self.wechat.as_ref(),
            Provider::Weibo => self.weibo.as_ref(),
        }
    }

    /// The providers that are on, in the order pages list them.
    pub fn enabled(&self) -> Vec<Provider> {
        Provider::ALL
            .into_iter()
            .filter(|p| self.get(*p).is_some())
            .collect()
    }
}

/// `path` under a provider's base URL (which may itself have a path, as a test fake's
/// or the simulator's does).
pub(crate) fn under(base: &Url, path: &str) -> Url {
    let mut url = base.clone();
    let root = url.path().trim_end_matches('/').to_owned();
    url.set_path(&format!("{root}{path}"));
    url.set_query(None);
    url
}

/// WeChat's and Weibo's avatars work over https too: pages never load http images. A
/// loopback address (the dev simulator's) is left as it is.
pub(crate) fn https(url: &str) -> String {
    let loopback = Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .is_some_and(|h| h == "localhost" || h == "127.0.0.1" || h == "[::1]");
    match url.strip_prefix("http://") {
        Some(rest) if !loopback => format!("https://{rest}"),
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn avatars_are_fetched_over_https_except_from_loopback() {
        for (from, to) in [
            (
                "http://thirdwx.qlogo.cn/mmopen/x/132",
                "https://thirdwx.qlogo.cn/mmopen/x/132",
            ),
            (
                "https://tvax3.sinaimg.cn/a.jpg",
                "https://tvax3.sinaimg.cn/a.jpg",
            ),
            (
                "http://127.0.0.1:8000/dev/wechat/avatar/o.svg",
                "http://127.0.0.1:8000/dev/wechat/avatar/o.svg",
            ),
            ("http://localhost:8000/a.svg", "http://localhost:8000/a.svg"),
        ] {
            assert_eq!(super::https(from), to);
        }
    }
}
