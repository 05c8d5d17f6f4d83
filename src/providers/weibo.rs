//! Weibo OAuth 2.0: the token by POST, `get_token_info` to check the token is ours and
//! names the same uid, `users/show` for the profile.

use url::Url;

use super::weibo_wire;
use super::{body_of, http_error, id, observed, under, Observer, ProviderError};
use crate::config::Secret;
use crate::domain::{ExternalId, Provider};

#[derive(Clone)]
pub struct WeiboClient {
    http: reqwest::Client,
    observer: Option<Observer>,
    authorize: Url,
    token: Url,
    token_info: Url,
    users_show: Url,
    client_id: String,
    client_secret: Secret,
    redirect_uri: Url,
}

impl WeiboClient {
    /// `api_url`: `https://api.weibo.com` (the consent page is there too).
    pub fn new(
        api_url: &Url,
        client_id: String,
        client_secret: Secret,
        redirect_uri: Url,
    ) -> Result<Self, ProviderError> {
        let http = crate::qq::client::build_http().map_err(http_error)?;
        Ok(Self {
            http,
            observer: None,
            authorize: under(api_url, "/oauth2/authorize"),
            token: under(api_url, "/oauth2/access_token"),
            token_info: under(api_url, "/oauth2/get_token_info"),
            users_show: under(api_url, "/2/users/show.json"),
            client_id,
            client_secret,
            redirect_uri,
        })
    }

    pub fn with_observer(mut self, observer: Observer) -> Self {
        self.observer = Some(observer);
        self
    }

    /// The consent page for `state` (`display=mobile` on a phone).
    pub fn authorize_url(&self, state: &str, phone: bool) -> String {
        let mut url = self.authorize.clone();
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("client_id", &self.client_id)
                .append_pair("redirect_uri", self.redirect_uri.as_str())
                .append_pair("response_type", "code")
                .append_pair("state", state);
            if phone {
                q.append_pair("display", "mobile");
            }
        }
        url.into()
    }

    /// Sends `req` and parses its body with `parse`: a body holding a Weibo error is that
    /// error whatever the status (Weibo answers its errors with 4xx); a 5xx, or a non-2xx
    /// answer that is no Weibo error, is an HTTP failure.
    async fn call<T>(
        req: reqwest::RequestBuilder,
        parse: fn(&[u8]) -> Result<T, super::WireError>,
    ) -> Result<T, ProviderError> {
        let resp = req.send().await.map_err(http_error)?;
        let (status, body) = body_of(resp).await?;
        if status >= 500 {
            return Err(ProviderError::Status(status));
        }
        match parse(&body) {
            Err(super::WireError::Malformed(_)) if !(200..300).contains(&status) => {
                Err(ProviderError::Status(status))
            }
            other => Ok(other?),
        }
    }

    fn http(&self) -> reqwest::Client {
        crate::qq::client::local_http(&self.http)
    }

    /// code → the person: the token (POST, the same redirect_uri), then
    /// `get_token_info` (the token is this application's, for the same uid).
    pub async fn sign_in(&self, code: &str) -> Result<(ExternalId, Secret), ProviderError> {
        let form = [
            ("client_id", self.client_id.as_str()),
            ("client_secret", self.client_secret.expose()),
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", self.redirect_uri.as_str()),
        ];
        let token = observed(
            &self.observer,
            Provider::Weibo,
            "token",
            Self::call(
                self.http().post(self.token.clone()).form(&form),
                weibo_wire::parse_token,
            ),
        )
        .await?;
        let info = observed(
            &self.observer,
            Provider::Weibo,
            "get_token_info",
            Self::call(
                self.http()
                    .post(self.token_info.clone())
                    .form(&[("access_token", token.access_token.as_str())]),
                weibo_wire::parse_token_info,
            ),
        )
        .await?;
        if info.appkey != self.client_id {
            return Err(ProviderError::Mismatch("token of another application"));
        }
        if info.uid != token.uid {
            return Err(ProviderError::Mismatch("token info of another uid"));
        }
        Ok((
            ExternalId {
                provider: Provider::Weibo,
                openid: id(&token.uid)?,
                unionid: None,
            },
            Secret::new(token.access_token),
        ))
    }

    /// `users/show`: the screen name and the best avatar, of the uid the token named.
    pub async fn profile(
        &self,
        token: &Secret,
        who: &ExternalId,
    ) -> Result<(String, Option<String>), ProviderError> {
        let mut url = self.users_show.clone();
        url.query_pairs_mut()
            .append_pair("access_token", token.expose())
            .append_pair("uid", who.openid.as_str());
        let u = observed(
            &self.observer,
            Provider::Weibo,
            "users_show",
            Self::call(self.http().get(url), weibo_wire::parse_user),
        )
        .await?;
        if u.uid != who.openid.as_str() {
            return Err(ProviderError::Mismatch("profile of another uid"));
        }
        let avatar = (!u.avatar_url.is_empty()).then(|| super::https(&u.avatar_url));
        Ok((u.screen_name, avatar))
    }
}
