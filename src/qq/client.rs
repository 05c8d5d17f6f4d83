//! The QQ Connect client: a reqwest client per thread, connect 3 s / total 5 s, no
//! redirects followed, nothing secret in errors or logs.

use std::time::Duration;

use url::Url;

use super::wire::{self, WireError};
use crate::config::Secret;
use crate::domain::{ExternalId, OpenId};

pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
pub const TOTAL_TIMEOUT: Duration = Duration::from_secs(5);

/// Why talking to QQ failed. `Display` is safe to log: no URL (it would carry the
/// client_secret or token), no token.
#[derive(Debug, thiserror::Error)]
pub enum QqError {
    #[error("QQ request failed: {0}")]
    Http(String),
    #[error("QQ did not answer in time")]
    Timeout,
    #[error("QQ answered HTTP {0}")]
    Status(u16),
    #[error(transparent)]
    Wire(#[from] WireError),
    #[error("QQ answered for another application (client_id mismatch)")]
    ClientMismatch,
    #[error("QQ gave an openid we do not accept")]
    BadOpenId,
}

/// The QQ profile shown on the bind form, when QQ gives it.
#[derive(Debug, Clone, Default)]
pub struct QqProfile {
    pub nickname: Option<String>,
    pub avatar_url: Option<String>,
}

/// An access token: used for two calls, then dropped; never printed.
pub struct AccessToken(String);

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccessToken(***)")
    }
}

/// QQ's four endpoints under one base, built once.
struct Endpoints {
    authorize: Url,
    /// With the application's part of the query (grant_type, client_id, client_secret,
    /// redirect_uri) once [`QqClient::new`] has added it: each exchange adds its code.
    token: Url,
    me: Url,
    user_info: Url,
}

impl Endpoints {
    fn under(graph_url: &Url) -> Self {
        let at = |path: &str| {
            let mut url = graph_url.clone();
            let base = url.path().trim_end_matches('/').to_owned();
            url.set_path(&format!("{base}{path}"));
            url.set_query(None);
            url
        };
        Self {
            authorize: at("/oauth2.0/authorize"),
            token: at("/oauth2.0/token"),
            me: at("/oauth2.0/me"),
            user_info: at("/user/get_user_info"),
        }
    }
}

/// This thread's HTTP client for the login providers (`fallback` when one cannot be
/// made here): every provider's calls share its settings and connections.
pub fn local_http(fallback: &reqwest::Client) -> reqwest::Client {
    LOCAL_HTTP.with(|h| {
        h.get_or_init(|| build_http().unwrap_or_else(|_| fallback.clone()))
            .clone()
    })
}

/// A client with the providers' settings: connect 3 s, total 5 s, no redirects.
pub fn build_http() -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(TOTAL_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("qqbind/", env!("CARGO_PKG_VERSION")))
        .build()
}

thread_local! {
    /// This thread's client, with its own connections to QQ.
    ///
    /// A reqwest client's connections are driven by tasks on the runtime that opened
    /// them, and actix runs a runtime per worker thread. With one client shared by all
    /// workers, a QQ call often went out on a connection another worker had opened, and
    /// hopped to that thread and back: two wake-ups, each a context switch under load,
    /// about a tenth of a QQ login's CPU time (`benches/login_flow.rs`). Every `QqClient` has the same settings
    /// ([`build_http`]), so one client per thread serves them all.
    static LOCAL_HTTP: std::cell::OnceCell<reqwest::Client> = const { std::cell::OnceCell::new() };
}

/// Told of every call to QQ: the endpoint (`token`, `me`, `get_user_info`), how long it
/// took, and the kind of failure (`None`: it went through). For metrics.
pub type Observer =
    std::sync::Arc<dyn Fn(&'static str, Duration, Option<&'static str>) + Send + Sync>;

impl QqError {
    /// The kind of failure, as metrics label it: `timeout`, `http` (no answer or a bad
    /// status), `body` (an answer we cannot read), `provider` (QQ's own error code).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::Http(_) | Self::Status(_) => "http",
            Self::Wire(WireError::Qq { .. }) => "provider",
            Self::Wire(WireError::Malformed(_)) | Self::ClientMismatch | Self::BadOpenId => "body",
        }
    }
}

fn http_error(e: reqwest::Error) -> QqError {
    if e.is_timeout() {
        QqError::Timeout
    } else {
        QqError::Http(e.without_url().to_string())
    }
}

#[derive(Clone)]
pub struct QqClient {
    /// Made (and so checked) at start; used on a thread where another could not be made.
    http: reqwest::Client,
    observer: Option<Observer>,
    /// Ask `/me` for the unionid too (`QQ_UNIONID=on`).
    unionid: bool,
    endpoints: std::sync::Arc<Endpoints>,
    client_id: String,
    /// The authorize URL up to its `state`, serialized once: every login starts with it.
    authorize_prefix: String,
}

impl QqClient {
    pub fn new(
        graph_url: Url,
        client_id: String,
        client_secret: Secret,
        redirect_uri: Url,
    ) -> Result<Self, QqError> {
        let http = build_http().map_err(|e| QqError::Http(e.without_url().to_string()))?;
        let mut endpoints = Endpoints::under(&graph_url);
        endpoints
            .token
            .query_pairs_mut()
            .append_pair("grant_type", "authorization_code")
            .append_pair("client_id", &client_id)
            .append_pair("client_secret", client_secret.expose())
            .append_pair("redirect_uri", redirect_uri.as_str());
        let mut authorize = endpoints.authorize.clone();
        authorize
            .query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &client_id)
            .append_pair("redirect_uri", redirect_uri.as_str());
        let authorize_prefix = format!("{authorize}&state=");
        Ok(Self {
            http,
            observer: None,
            unionid: false,
            endpoints: std::sync::Arc::new(endpoints),
            client_id,
            authorize_prefix,
        })
    }

    /// Tells `observer` of every call from now on.
    pub fn with_observer(mut self, observer: Observer) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Asks `/me` for the unionid too (an application QQ gave the permission).
    pub fn with_unionid(mut self, on: bool) -> Self {
        self.unionid = on;
        self
    }

    /// Runs one call to `endpoint`, telling the observer how it went.
    async fn observed<T>(
        &self,
        endpoint: &'static str,
        call: impl std::future::Future<Output = Result<T, QqError>>,
    ) -> Result<T, QqError> {
        let started = std::time::Instant::now();
        let result = call.await;
        if let Some(observe) = &self.observer {
            observe(
                endpoint,
                started.elapsed(),
                result.as_ref().err().map(QqError::kind),
            );
        }
        result
    }

    /// Where to send the browser: QQ's consent page for this application and `state`.
    pub fn authorize_url(&self, state: &str) -> String {
        self.authorize_url_for(state, false)
    }

    /// [`Self::authorize_url`], with QQ's page for phones (`display=mobile`) when the
    /// browser is a phone's.
    pub fn authorize_url_for(&self, state: &str, phone: bool) -> String {
        let mut url = self.authorize_prefix.clone();
        url.extend(url::form_urlencoded::byte_serialize(state.as_bytes()));
        url.push_str("&scope=get_user_info");
        if phone {
            url.push_str("&display=mobile");
        }
        url
    }

    async fn get_text(&self, url: Url) -> Result<String, QqError> {
        let http = local_http(&self.http);
        let resp = http.get(url).send().await.map_err(http_error)?;
        let status = resp.status();
        if !status.is_success() {
            return Err(QqError::Status(status.as_u16()));
        }
        resp.text().await.map_err(http_error)
    }

    /// code → access token (`/oauth2.0/token`), with the exact registered redirect_uri.
    pub async fn exchange_code(&self, code: &str) -> Result<AccessToken, QqError> {
        let mut url = self.endpoints.token.clone();
        url.query_pairs_mut().append_pair("code", code);
        self.observed("token", async {
            let body = self.get_text(url).await?;
            Ok(AccessToken(wire::parse_token_body(&body)?.access_token))
        })
        .await
    }

    /// access token → openid (`/oauth2.0/me`), checking the answer is for our app.
    pub async fn openid(&self, token: &AccessToken) -> Result<OpenId, QqError> {
        Ok(self.identity(token).await?.openid)
    }

    /// access token → openid and, with `QQ_UNIONID=on`, the unionid (`/oauth2.0/me`).
    pub async fn identity(&self, token: &AccessToken) -> Result<ExternalId, QqError> {
        let mut url = self.endpoints.me.clone();
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("access_token", &token.0);
            if self.unionid {
                q.append_pair("unionid", "1");
            }
        }
        self.observed("me", async {
            let me = wire::parse_me_body(&self.get_text(url).await?)?;
            if me.client_id != self.client_id {
                return Err(QqError::ClientMismatch);
            }
            let openid = OpenId::parse(&me.openid).ok_or(QqError::BadOpenId)?;
            let unionid = match me.unionid.as_deref().filter(|u| !u.is_empty()) {
                Some(u) if self.unionid => Some(OpenId::parse(u).ok_or(QqError::BadOpenId)?),
                _ => None,
            };
            Ok(ExternalId {
                provider: crate::domain::Provider::Qq,
                openid,
                unionid,
            })
        })
        .await
    }

    /// The nickname and avatar (`/user/get_user_info`).
    pub async fn profile(
        &self,
        token: &AccessToken,
        openid: &OpenId,
    ) -> Result<QqProfile, QqError> {
        let mut url = self.endpoints.user_info.clone();
        url.query_pairs_mut()
            .append_pair("access_token", &token.0)
            .append_pair("oauth_consumer_key", &self.client_id)
            .append_pair("openid", openid.as_str());
        self.observed("get_user_info", async {
            let info = wire::parse_user_info(&self.get_text(url).await?)?;
            Ok(QqProfile {
                nickname: info.nickname,
                avatar_url: info.avatar_url,
            })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> QqClient {
        QqClient::new(
            Url::parse("https://graph.qq.com/").unwrap(),
            "101518219".to_owned(),
            Secret::new("s3cret"),
            Url::parse("https://shop.example/oauth_callback/?a=1&b=c d").unwrap(),
        )
        .unwrap()
    }

    /// The authorize URL as QQ Connect documents it, in its order, every value encoded.
    #[test]
    fn the_authorize_url_carries_the_documented_parameters_in_order() {
        let pairs = |u: &str| -> Vec<(String, String)> {
            Url::parse(u).unwrap().query_pairs().into_owned().collect()
        };
        let expected = |state: &str, phone: bool| {
            let mut v = vec![
                ("response_type", "code"),
                ("client_id", "101518219"),
                (
                    "redirect_uri",
                    "https://shop.example/oauth_callback/?a=1&b=c%20d",
                ),
                ("state", state),
                ("scope", "get_user_info"),
            ];
            if phone {
                v.push(("display", "mobile"));
            }
            v.into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect::<Vec<_>>()
        };
        let c = client();
        let url = c.authorize_url("ab12");
        assert!(
            url.starts_with("https://graph.qq.com/oauth2.0/authorize?"),
            "{url}"
        );
        assert_eq!(pairs(&url), expected("ab12", false));
        assert_eq!(
            pairs(&c.authorize_url_for("x y&z=1", true)),
            expected("x y&z=1", true)
        );
    }
}
