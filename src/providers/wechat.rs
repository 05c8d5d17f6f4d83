//! WeChat Open Platform website login (`qrconnect`, `snsapi_login`): the token answer
//! names the person (openid, unionid); `/sns/userinfo` gives the profile.

use url::Url;

use super::wechat_wire::{self, WxToken};
use super::{body_of, http_error, id, observed, under, Observer, ProviderError};
use crate::config::Secret;
use crate::domain::{ExternalId, Provider};

#[derive(Clone)]
pub struct WechatClient {
    http: reqwest::Client,
    observer: Option<Observer>,
    authorize: Url,
    /// `snsapi_login` (website, QR code) or `snsapi_userinfo` (公众号, in the app).
    scope: &'static str,
    token: Url,
    userinfo: Url,
    app_id: String,
    app_secret: Secret,
    redirect_uri: Url,
}

impl WechatClient {
    /// `open_url`: where the QR page is (`https://open.weixin.qq.com`); `api_url`: the
    /// API (`https://api.weixin.qq.com`).
    pub fn new(
        open_url: &Url,
        api_url: &Url,
        app_id: String,
        app_secret: Secret,
        redirect_uri: Url,
    ) -> Result<Self, ProviderError> {
        let http = crate::qq::client::build_http().map_err(http_error)?;
        Ok(Self {
            http,
            observer: None,
            authorize: under(open_url, "/connect/qrconnect"),
            scope: "snsapi_login",
            token: under(api_url, "/sns/oauth2/access_token"),
            userinfo: under(api_url, "/sns/userinfo"),
            app_id,
            app_secret,
            redirect_uri,
        })
    }

    /// The same person's login inside the WeChat app, by the 公众号 `app_id`: its
    /// authorize page, its credentials for the token.
    pub fn in_app(&self, app_id: String, app_secret: Secret) -> Self {
        let mut url = self.authorize.clone();
        let root = url.path().trim_end_matches("/connect/qrconnect").to_owned();
        url.set_path(&format!("{root}/connect/oauth2/authorize"));
        Self {
            authorize: url,
            scope: "snsapi_userinfo",
            app_id,
            app_secret,
            ..self.clone()
        }
    }

    pub fn with_observer(mut self, observer: Observer) -> Self {
        self.observer = Some(observer);
        self
    }

    /// The QR page (in the app: the 公众号's consent) for `state`, parameters in WeChat's documented order, the fragment
    /// written literally.
    pub fn authorize_url(&self, state: &str) -> String {
        let mut url = self.authorize.clone();
        url.query_pairs_mut()
            .append_pair("appid", &self.app_id)
            .append_pair("redirect_uri", self.redirect_uri.as_str())
            .append_pair("response_type", "code")
            .append_pair("scope", self.scope)
            .append_pair("state", state);
        format!("{url}#wechat_redirect")
    }

    async fn get(&self, url: Url) -> Result<Vec<u8>, ProviderError> {
        let http = crate::qq::client::local_http(&self.http);
        let resp = http.get(url).send().await.map_err(http_error)?;
        let (status, body) = body_of(resp).await?;
        // WeChat answers its errors with 200; anything else is not WeChat talking.
        if !(200..300).contains(&status) {
            return Err(ProviderError::Status(status));
        }
        Ok(body)
    }

    /// code → the person: `/sns/oauth2/access_token` (its errcode checked first, the
    /// website scope required, a snapshot visitor refused).
    pub async fn sign_in(&self, code: &str) -> Result<(ExternalId, Secret), ProviderError> {
        let mut url = self.token.clone();
        url.query_pairs_mut()
            .append_pair("appid", &self.app_id)
            .append_pair("secret", self.app_secret.expose())
            .append_pair("code", code)
            .append_pair("grant_type", "authorization_code");
        let t: WxToken = observed(&self.observer, Provider::Wechat, "token", async {
            Ok(wechat_wire::parse_token(&self.get(url).await?)?)
        })
        .await?;
        if t.snapshot {
            return Err(ProviderError::Mismatch("a snapshot-mode visitor"));
        }
        if !t
            .scope
            .iter()
            .any(|s| s == "snsapi_login" || s == "snsapi_userinfo")
        {
            return Err(ProviderError::Mismatch("scope without snsapi_login"));
        }
        let unionid = match &t.unionid {
            Some(u) => Some(id(u)?),
            None => None,
        };
        Ok((
            ExternalId {
                provider: Provider::Wechat,
                openid: id(&t.openid)?,
                unionid,
            },
            Secret::new(t.access_token),
        ))
    }

    /// `/sns/userinfo`: nickname and avatar, for the person the token named.
    pub async fn profile(
        &self,
        token: &Secret,
        who: &ExternalId,
    ) -> Result<(String, Option<String>), ProviderError> {
        let mut url = self.userinfo.clone();
        url.query_pairs_mut()
            .append_pair("access_token", token.expose())
            .append_pair("openid", who.openid.as_str())
            .append_pair("lang", "zh_CN");
        let u = observed(&self.observer, Provider::Wechat, "userinfo", async {
            Ok(wechat_wire::parse_user(&self.get(url).await?)?)
        })
        .await?;
        if u.openid != who.openid.as_str() {
            return Err(ProviderError::Mismatch("userinfo of another openid"));
        }
        if let (Some(a), Some(b)) = (&u.unionid, &who.unionid) {
            if a != b.as_str() {
                return Err(ProviderError::Mismatch("userinfo of another unionid"));
            }
        }
        let avatar = (!u.headimgurl.is_empty()).then(|| super::https(&u.headimgurl));
        Ok((u.nickname, avatar))
    }
}
