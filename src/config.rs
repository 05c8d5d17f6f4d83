//! Settings from the environment (spec section 2).
//!
//! Parsing takes a lookup function rather than reading `std::env` directly, so the
//! rules are unit-tested without touching the process environment.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use rand::RngCore;
use url::Url;

/// A configuration value that is wrong: names the variable, says why.
#[derive(Debug, thiserror::Error)]
#[error("{var}: {reason}")]
pub struct ConfigError {
    pub var: &'static str,
    pub reason: String,
}

impl ConfigError {
    fn new(var: &'static str, reason: impl Into<String>) -> Self {
        Self {
            var,
            reason: reason.into(),
        }
    }
}

/// A secret value: never printed by `Debug`.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// `url` with its password (if any) shown as `***`: fit for a message or a log line.
pub fn without_password(url: &Url) -> String {
    let mut url = url.clone();
    if url.password().is_some() {
        let _ = url.set_password(Some("***"));
    }
    url.to_string()
}

/// Which database `DATABASE_URL` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// `postgres://` or `postgresql://` is PostgreSQL; anything else a SQLite file path.
    pub fn of(url: &str) -> Self {
        let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
        match scheme.as_deref() {
            Some("postgres" | "postgresql") => Self::Postgres,
            _ => Self::Sqlite,
        }
    }
}

/// `url` fit for a log line or an error message: a PostgreSQL URL's password is masked.
pub fn display_url(url: &str) -> String {
    if Backend::of(url) == Backend::Sqlite {
        return url.to_owned();
    }
    match url::Url::parse(url) {
        Ok(u) if u.query_pairs().any(|(k, _)| k == "password") => {
            "postgres://… (a password in the query string)".to_owned()
        }
        Ok(u) => without_password(&u),
        Err(_) => "(a PostgreSQL URL that does not parse)".to_owned(),
    }
}

/// How long a database writer waits for a lock it needs (SQLite's write lock, a
/// PostgreSQL row or table lock) before it gives up (a 503), by default.
pub const DB_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Where QQ Connect is: the real one, or the built-in simulator (dev mode).
#[derive(Debug, Clone)]
pub enum QqMode {
    /// Dev mode: the app serves a QQ simulator under `/dev/qq/`; client id, secret and
    /// redirect URI are derived when the listener is bound.
    Simulated,
    Real(Box<QqApp>),
}

/// A registered QQ Connect application.
#[derive(Debug, Clone)]
pub struct QqApp {
    pub client_id: String,
    pub client_secret: Secret,
    pub redirect_uri: Url,
    pub graph_url: Url,
}

/// Where WeChat or Weibo is: off (its settings not given), the built-in simulator (dev
/// mode only), or a registered application.
#[derive(Debug, Clone)]
pub enum ProviderMode<A> {
    Off,
    Simulated,
    Real(Box<A>),
}

/// A WeChat Open Platform website application (`WECHAT_*`).
#[derive(Debug, Clone)]
pub struct WechatApp {
    pub app_id: String,
    pub app_secret: Secret,
    pub redirect_uri: Url,
    /// `https://open.weixin.qq.com` (the QR page) unless a test points it elsewhere.
    pub open_url: Url,
    /// `https://api.weixin.qq.com` unless a test points it elsewhere.
    pub api_url: Url,
    /// The 公众号 (`WECHAT_MP_*`) for logins inside the WeChat app, if any.
    pub mp: Option<WechatMp>,
}

/// A WeChat 公众号 (service account): in-app authorization (`connect/oauth2/authorize`,
/// `snsapi_userinfo`), back to the same callback.
#[derive(Debug, Clone)]
pub struct WechatMp {
    pub app_id: String,
    pub app_secret: Secret,
}

/// A Weibo application (`WEIBO_*`).
#[derive(Debug, Clone)]
pub struct WeiboApp {
    pub client_id: String,
    pub client_secret: Secret,
    pub redirect_uri: Url,
    /// `https://api.weibo.com` unless a test points it elsewhere.
    pub api_url: Url,
}

/// All of `names` or none: the values, None when none is set, else the first missing one
/// named.
fn all_or_none(
    var: &impl Fn(&str) -> Option<String>,
    names: &[&'static str],
) -> Result<Option<Vec<String>>, ConfigError> {
    let values: Vec<Option<String>> = names.iter().map(|n| var(n)).collect();
    if values.iter().all(Option::is_none) {
        return Ok(None);
    }
    match names.iter().zip(&values).find(|(_, v)| v.is_none()) {
        Some((missing, _)) => Err(ConfigError::new(
            missing,
            format!("required when any of {} is set", names.join(", ")),
        )),
        None => Ok(Some(
            values
                .into_iter()
                .flatten()
                .map(|v| v.trim().to_owned())
                .collect(),
        )),
    }
}

fn base_url(
    var: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: &str,
) -> Result<Url, ConfigError> {
    parse_http_url(name, &var(name).unwrap_or_else(|| default.to_owned()))
}

#[derive(Debug, Clone)]
pub enum SmsProviderKind {
    /// Writes the code to the log and to the dev outbox `/dev/sms/`.
    Log,
    /// Tencent Cloud SMS (`SendSms`, API 2021-01-11).
    Tencent(Box<TencentSms>),
}

/// A Tencent Cloud SMS account (`TENCENT_SMS_*`).
#[derive(Debug, Clone)]
pub struct TencentSms {
    pub secret_id: String,
    pub secret_key: Secret,
    pub sdk_app_id: String,
    pub sign_name: String,
    /// A template with two parameters: {1} the code, {2} the minutes it lasts.
    pub template_id: String,
    pub region: String,
    /// `https://sms.tencentcloudapi.com` unless a test points it elsewhere.
    pub endpoint: Url,
}

#[derive(Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub database_url: String,
    pub redis_url: Option<Url>,
    pub secret_key: Secret,
    /// True when `SECRET_KEY` was not given and a random one was made for this start.
    pub secret_key_generated: bool,
    pub qq: QqMode,
    /// `QQ_UNIONID=on`: ask QQ's `/me` for the unionid too.
    pub qq_unionid: bool,
    pub wechat: ProviderMode<WechatApp>,
    pub weibo: ProviderMode<WeiboApp>,
    pub openid_token_ttl: Duration,
    pub session_cookie_secure: bool,
    pub sms_provider: SmsProviderKind,
    pub rate_limits: bool,
    /// Proxies whose `X-Forwarded-For` names the client (for the abuse limits), and whose
    /// `X-Request-Id` is kept.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Where `/metrics` is served (`METRICS_LISTEN`); never on the public port. None:
    /// not served.
    pub metrics_listen: Option<SocketAddr>,
    /// Origins (`https://shop.example`) whose pages may call `/api/` from a browser.
    pub cors_origins: Vec<String>,
    /// How long a JWT of the JSON API stays valid.
    pub jwt_ttl: Duration,
    /// A logged-in session ends after this long without a request (`SESSION_IDLE_TIMEOUT`;
    /// a remembered one: 14 days).
    pub session_idle_timeout: Duration,
    /// A logged-in session ends this long after the login, whatever (`SESSION_MAX_AGE`).
    pub session_max_age: Duration,
    /// bcrypt work factor; only tests lower it.
    pub bcrypt_cost: u32,
    /// How long a database writer waits for a lock (SQLite's write lock, a PostgreSQL
    /// row lock); only tests shorten it.
    pub db_busy_timeout: Duration,
    /// The versions of 《用户协议》 and 《隐私政策》 in force (`TERMS_VERSION`,
    /// `PRIVACY_VERSION`): an account that accepted another is asked again at its next
    /// login.
    pub terms_version: String,
    pub privacy_version: String,
    /// Days between asking to close an account and its erasure (`ACCOUNT_DELETE_GRACE_DAYS`,
    /// 0: at once); a login meanwhile cancels it.
    pub account_delete_grace_days: u32,
    /// Days a login is kept in the history (`LOGIN_HISTORY_DAYS`).
    pub login_history_days: u32,
}

/// Passwords in the database and Redis URLs never show.
impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redis = self.redis_url.as_ref().map(without_password);
        f.debug_struct("Settings")
            .field("listen", &self.listen)
            .field("database_url", &display_url(&self.database_url))
            .field("redis_url", &redis)
            .field("secret_key", &self.secret_key)
            .field("qq", &self.qq)
            .field("wechat", &self.wechat)
            .field("weibo", &self.weibo)
            .field("sms_provider", &self.sms_provider)
            .field("rate_limits", &self.rate_limits)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("metrics_listen", &self.metrics_listen)
            .field("cors_origins", &self.cors_origins)
            .finish_non_exhaustive()
    }
}

impl Settings {
    pub fn dev_mode(&self) -> bool {
        matches!(self.qq, QqMode::Simulated)
    }

    /// Reads the process environment (and `.env` when present).
    pub fn from_env() -> Result<Self, ConfigError> {
        // A missing .env is normal; a malformed one is not worth stopping for.
        let _ = dotenvy::dotenv();
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Parses settings from any lookup (`name -> value`), applying spec section 2.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let var = |name: &str| get(name).filter(|v| !v.trim().is_empty());

        let listen = match var("QQBIND_LISTEN") {
            None => SocketAddr::from(([127, 0, 0, 1], 8000)),
            Some(v) => v.trim().parse().map_err(|_| {
                ConfigError::new(
                    "QQBIND_LISTEN",
                    format!("{v:?} is not an address like 127.0.0.1:8000"),
                )
            })?,
        };

        let database_url = var("DATABASE_URL").unwrap_or_else(|| "qqbind.db".to_owned());
        if Backend::of(&database_url) == Backend::Postgres
            && url::Url::parse(&database_url).is_err()
        {
            return Err(ConfigError::new(
                "DATABASE_URL",
                "not a PostgreSQL URL like postgres://user:password@host:5432/qqbind",
            ));
        }

        let redis_url = match var("REDIS_URL") {
            None => None,
            Some(v) => {
                let url = Url::parse(v.trim()).map_err(|e| {
                    ConfigError::new(
                        "REDIS_URL",
                        format!("not a URL ({e}); e.g. redis://127.0.0.1:6379/2"),
                    )
                })?;
                if !matches!(url.scheme(), "redis" | "rediss") {
                    return Err(ConfigError::new(
                        "REDIS_URL",
                        "must start with redis:// or rediss://",
                    ));
                }
                Some(url)
            }
        };

        let qq = match var("QQ_CLIENT_ID") {
            None => QqMode::Simulated,
            Some(client_id) => {
                let client_secret = var("QQ_CLIENT_SECRET").ok_or_else(|| {
                    ConfigError::new("QQ_CLIENT_SECRET", "required when QQ_CLIENT_ID is set")
                })?;
                let redirect = var("QQ_REDIRECT_URI").ok_or_else(|| {
                    ConfigError::new("QQ_REDIRECT_URI", "required when QQ_CLIENT_ID is set")
                })?;
                let redirect_uri = parse_http_url("QQ_REDIRECT_URI", &redirect)?;
                let graph_url = match var("QQ_GRAPH_URL") {
                    None => Url::parse("https://graph.qq.com")
                        .map_err(|e| ConfigError::new("QQ_GRAPH_URL", e.to_string()))?,
                    Some(v) => parse_http_url("QQ_GRAPH_URL", &v)?,
                };
                QqMode::Real(Box::new(QqApp {
                    client_id: client_id.trim().to_owned(),
                    client_secret: Secret::new(client_secret.trim()),
                    redirect_uri,
                    graph_url,
                }))
            }
        };
        let dev_mode = matches!(qq, QqMode::Simulated);
        let qq_unionid = match var("QQ_UNIONID") {
            None => false,
            Some(v) => parse_bool("QQ_UNIONID", &v)?,
        };
        // A provider is on when all its settings are given; in dev mode, simulated
        // otherwise. Outside dev mode it is never simulated.
        let wechat_mp =
            all_or_none(&var, &["WECHAT_MP_APP_ID", "WECHAT_MP_APP_SECRET"])?.map(|v| WechatMp {
                app_id: v[0].clone(),
                app_secret: Secret::new(v[1].clone()),
            });
        let wechat = match all_or_none(
            &var,
            &["WECHAT_APP_ID", "WECHAT_APP_SECRET", "WECHAT_REDIRECT_URI"],
        )? {
            None if wechat_mp.is_some() => {
                return Err(ConfigError::new(
                    "WECHAT_APP_ID",
                    "required when WECHAT_MP_APP_ID is set (the 公众号 shares the website app's callback)",
                ))
            }
            None if dev_mode => ProviderMode::Simulated,
            None => ProviderMode::Off,
            Some(v) => ProviderMode::Real(Box::new(WechatApp {
                app_id: v[0].clone(),
                app_secret: Secret::new(v[1].clone()),
                redirect_uri: parse_http_url("WECHAT_REDIRECT_URI", &v[2])?,
                open_url: base_url(&var, "WECHAT_OPEN_URL", "https://open.weixin.qq.com")?,
                api_url: base_url(&var, "WECHAT_API_URL", "https://api.weixin.qq.com")?,
                mp: wechat_mp,
            })),
        };
        let weibo = match all_or_none(
            &var,
            &[
                "WEIBO_CLIENT_ID",
                "WEIBO_CLIENT_SECRET",
                "WEIBO_REDIRECT_URI",
            ],
        )? {
            None if dev_mode => ProviderMode::Simulated,
            None => ProviderMode::Off,
            Some(v) => ProviderMode::Real(Box::new(WeiboApp {
                client_id: v[0].clone(),
                client_secret: Secret::new(v[1].clone()),
                redirect_uri: parse_http_url("WEIBO_REDIRECT_URI", &v[2])?,
                api_url: base_url(&var, "WEIBO_API_URL", "https://api.weibo.com")?,
            })),
        };

        let (secret_key, secret_key_generated) = match get("SECRET_KEY") {
            Some(v) if v.len() >= 32 => (Secret::new(v), false),
            Some(v) if !v.is_empty() || !dev_mode => {
                return Err(ConfigError::new(
                    "SECRET_KEY",
                    format!("must be at least 32 bytes long (got {})", v.len()),
                ))
            }
            _ if dev_mode => (Secret::new(random_hex(32)), true),
            _ => {
                return Err(ConfigError::new(
                    "SECRET_KEY",
                    "required (at least 32 bytes) when QQ_CLIENT_ID is set",
                ))
            }
        };

        let openid_token_ttl = match var("OPENID_TOKEN_TTL") {
            None => Duration::from_secs(600),
            Some(v) => match v.trim().parse::<u64>() {
                Ok(secs) if (1..=86_400).contains(&secs) => Duration::from_secs(secs),
                _ => {
                    return Err(ConfigError::new(
                        "OPENID_TOKEN_TTL",
                        format!("{v:?} is not a number of seconds between 1 and 86400"),
                    ))
                }
            },
        };

        let session_cookie_secure = match var("SESSION_COOKIE_SECURE") {
            None => !dev_mode,
            Some(v) => parse_bool("SESSION_COOKIE_SECURE", &v)?,
        };

        let sms_provider = match var("SMS_PROVIDER").as_deref().map(str::trim) {
            // Outside dev mode there is no default: a shop must choose, and `log` sends
            // no SMS at all.
            None if !dev_mode => {
                return Err(ConfigError::new(
                    "SMS_PROVIDER",
                    "required when QQ_CLIENT_ID is set: tencent (or log: codes to the log only, no SMS is sent)",
                ))
            }
            None | Some("log") => SmsProviderKind::Log,
            Some("tencent") => {
                let required = |name: &'static str| {
                    var(name)
                        .map(|v| v.trim().to_owned())
                        .ok_or_else(|| ConfigError::new(name, "required when SMS_PROVIDER=tencent"))
                };
                SmsProviderKind::Tencent(Box::new(TencentSms {
                    secret_id: required("TENCENT_SMS_SECRET_ID")?,
                    secret_key: Secret::new(required("TENCENT_SMS_SECRET_KEY")?),
                    sdk_app_id: required("TENCENT_SMS_SDK_APP_ID")?,
                    sign_name: required("TENCENT_SMS_SIGN_NAME")?,
                    template_id: required("TENCENT_SMS_TEMPLATE_ID")?,
                    region: var("TENCENT_SMS_REGION")
                        .map(|v| v.trim().to_owned())
                        .unwrap_or_else(|| "ap-guangzhou".to_owned()),
                    endpoint: match var("TENCENT_SMS_ENDPOINT") {
                        None => parse_http_url(
                            "TENCENT_SMS_ENDPOINT",
                            "https://sms.tencentcloudapi.com",
                        )?,
                        Some(v) => parse_http_url("TENCENT_SMS_ENDPOINT", &v)?,
                    },
                }))
            }
            Some(other) => {
                return Err(ConfigError::new(
                    "SMS_PROVIDER",
                    format!("unknown provider {other:?}; supported: log, tencent"),
                ))
            }
        };

        let rate_limits = match var("RATE_LIMITS").as_deref().map(str::trim) {
            None | Some("on") => true,
            Some("off") => false,
            Some(other) => {
                return Err(ConfigError::new(
                    "RATE_LIMITS",
                    format!("{other:?} is neither on nor off"),
                ))
            }
        };

        let metrics_listen = match var("METRICS_LISTEN") {
            None => None,
            Some(v) => Some(v.trim().parse().map_err(|_| {
                ConfigError::new(
                    "METRICS_LISTEN",
                    format!("{v:?} is not an address like 127.0.0.1:9100"),
                )
            })?),
        };
        if metrics_listen.is_some() && metrics_listen == Some(listen) {
            return Err(ConfigError::new(
                "METRICS_LISTEN",
                "must not be the public address (QQBIND_LISTEN)",
            ));
        }

        let trusted_proxies = match var("TRUSTED_PROXIES") {
            None => Vec::new(),
            Some(v) => v
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(|p| {
                    p.parse::<ipnet::IpNet>()
                        .or_else(|_| p.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                        .map_err(|_| {
                            ConfigError::new(
                                "TRUSTED_PROXIES",
                                format!("{p:?} is not an IP address or a network like 10.0.0.0/8"),
                            )
                        })
                })
                .collect::<Result<_, _>>()?,
        };

        let cors_origins = match var("CORS_ORIGINS") {
            None => Vec::new(),
            Some(v) => v
                .split(',')
                .map(str::trim)
                .filter(|o| !o.is_empty())
                .map(parse_origin)
                .collect::<Result<_, _>>()?,
        };

        let jwt_ttl = match var("JWT_TTL") {
            None => Duration::from_secs(86_400),
            Some(v) => match v.trim().parse::<u64>() {
                Ok(secs) if (60..=30 * 86_400).contains(&secs) => Duration::from_secs(secs),
                _ => {
                    return Err(ConfigError::new(
                        "JWT_TTL",
                        format!("{v:?} is not a number of seconds between 60 and 2592000"),
                    ))
                }
            },
        };

        let seconds = |name: &'static str, default: u64| -> Result<Duration, ConfigError> {
            match var(name) {
                None => Ok(Duration::from_secs(default)),
                Some(v) => match v.trim().parse::<u64>() {
                    Ok(secs) if (1..=365 * 86_400).contains(&secs) => Ok(Duration::from_secs(secs)),
                    _ => Err(ConfigError::new(
                        name,
                        format!("{v:?} is not a number of seconds between 1 and 31536000"),
                    )),
                },
            }
        };
        let session_idle_timeout = seconds("SESSION_IDLE_TIMEOUT", 7_200)?;
        let session_max_age = seconds("SESSION_MAX_AGE", 14 * 86_400)?;
        let version = |name: &'static str| -> Result<String, ConfigError> {
            match var(name) {
                None => Ok(DOCUMENT_VERSION.to_owned()),
                Some(v) => {
                    let v = v.trim().to_owned();
                    if (1..=32).contains(&v.len())
                        && v.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b".-_".contains(&b))
                    {
                        Ok(v)
                    } else {
                        Err(ConfigError::new(
                            name,
                            format!("{v:?} is not a version (1-32 of letters, digits, . - _)"),
                        ))
                    }
                }
            }
        };
        let terms_version = version("TERMS_VERSION")?;
        let privacy_version = version("PRIVACY_VERSION")?;
        let days = |name: &'static str, default: u32, min: u32| -> Result<u32, ConfigError> {
            match var(name) {
                None => Ok(default),
                Some(v) => match v.trim().parse::<u32>() {
                    Ok(d) if (min..=3650).contains(&d) => Ok(d),
                    _ => Err(ConfigError::new(
                        name,
                        format!("{v:?} is not a number of days between {min} and 3650"),
                    )),
                },
            }
        };
        let account_delete_grace_days = days("ACCOUNT_DELETE_GRACE_DAYS", 0, 0)?;
        let login_history_days = days("LOGIN_HISTORY_DAYS", 180, 1)?;

        Ok(Self {
            listen,
            database_url,
            redis_url,
            secret_key,
            secret_key_generated,
            qq,
            qq_unionid,
            wechat,
            weibo,
            openid_token_ttl,
            session_cookie_secure,
            sms_provider,
            rate_limits,
            trusted_proxies,
            metrics_listen,
            cors_origins,
            jwt_ttl,
            session_idle_timeout,
            session_max_age,
            bcrypt_cost: bcrypt::DEFAULT_COST,
            db_busy_timeout: DB_BUSY_TIMEOUT,
            terms_version,
            privacy_version,
            account_delete_grace_days,
            login_history_days,
        })
    }
}

/// The version of the built-in 《用户协议》 and 《隐私政策》 unless `TERMS_VERSION` /
/// `PRIVACY_VERSION` say. 1.1 (2026-12-08) names WeChat and Weibo, the login history
/// and devices, the customer's data download and self-service closing; an account that
/// accepted 1.0 is asked again at its next login.
pub const DOCUMENT_VERSION: &str = "1.1";

fn parse_http_url(var: &'static str, value: &str) -> Result<Url, ConfigError> {
    let url =
        Url::parse(value.trim()).map_err(|e| ConfigError::new(var, format!("not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(ConfigError::new(var, "must be an http:// or https:// URL"));
    }
    Ok(url)
}

/// An origin as browsers send it: `scheme://host[:port]`, nothing after.
fn parse_origin(value: &str) -> Result<String, ConfigError> {
    let url = parse_http_url("CORS_ORIGINS", value)?;
    if !matches!(url.path(), "" | "/") || url.query().is_some() || url.fragment().is_some() {
        return Err(ConfigError::new(
            "CORS_ORIGINS",
            format!("{value:?} is not an origin like https://shop.example.com"),
        ));
    }
    Ok(url.origin().ascii_serialization())
}

fn parse_bool(var: &'static str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        other => Err(ConfigError::new(
            var,
            format!("{other:?} is not true or false"),
        )),
    }
}

/// `n` random bytes, hex-encoded.
pub fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    rand::thread_rng().fill_bytes(&mut bytes);
    // Into a buffer of the right size (`hex::encode` collects a char at a time; a QQ
    // login makes five of these).
    let mut text = vec![0u8; 2 * n];
    match hex::encode_to_slice(&bytes, &mut text) {
        Ok(()) => String::from_utf8(text).unwrap_or_default(),
        Err(_) => hex::encode(bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn random_hex_is_lowercase_hex_of_n_fresh_bytes() {
        for n in [0, 1, 8, 16, 24, 32] {
            let a = random_hex(n);
            assert_eq!(a.len(), 2 * n);
            assert!(
                a.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
                "{a}"
            );
            assert_eq!(hex::decode(&a).unwrap().len(), n);
            if n >= 8 {
                assert_ne!(a, random_hex(n));
            }
        }
    }

    fn parse(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Settings::from_lookup(|name| map.get(name).cloned())
    }

    fn err_var(vars: &[(&str, &str)]) -> &'static str {
        match parse(vars) {
            Err(e) => e.var,
            Ok(_) => panic!("expected a configuration error for {vars:?}"),
        }
    }

    #[test]
    fn empty_environment_is_dev_mode_with_defaults() {
        let s = parse(&[]).unwrap();
        assert!(s.dev_mode());
        assert_eq!(s.listen.to_string(), "127.0.0.1:8000");
        assert_eq!(s.database_url, "qqbind.db");
        assert!(s.redis_url.is_none());
        assert!(s.secret_key_generated);
        assert!(s.secret_key.expose().len() >= 32);
        assert_eq!(s.openid_token_ttl, Duration::from_secs(600));
        assert!(!s.session_cookie_secure);
        assert!(s.rate_limits);
    }

    #[test]
    fn debug_output_holds_no_password_or_key() {
        let s = parse(&[
            ("DATABASE_URL", "postgres://qqbind:db-pass-9@db:5432/qqbind"),
            ("REDIS_URL", "redis://:redis-pass-9@cache:6379/2"),
            ("SECRET_KEY", "key-that-must-not-show-0123456789abcdef"),
        ])
        .unwrap();
        let shown = format!("{s:?}");
        for secret in ["db-pass-9", "redis-pass-9", "key-that-must-not-show"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(
            shown.contains("postgres://qqbind:***@db:5432/qqbind"),
            "{shown}"
        );
    }

    #[test]
    fn real_qq_requires_secret_key_and_secures_cookies() {
        let base = [
            ("QQ_CLIENT_ID", "101518219"),
            ("QQ_CLIENT_SECRET", "s3cret"),
            ("QQ_REDIRECT_URI", "https://shop.example/oauth_callback"),
        ];
        assert_eq!(err_var(&base), "SECRET_KEY");
        let mut with_key = base.to_vec();
        with_key.push(("SECRET_KEY", "0123456789abcdef0123456789abcdef"));
        // No SMS provider by default outside dev mode.
        assert_eq!(err_var(&with_key), "SMS_PROVIDER");
        with_key.push(("SMS_PROVIDER", "log"));
        let s = parse(&with_key).unwrap();
        assert!(!s.dev_mode());
        assert!(s.session_cookie_secure);
        match s.qq {
            QqMode::Real(app) => assert_eq!(app.graph_url.as_str(), "https://graph.qq.com/"),
            QqMode::Simulated => panic!("expected real QQ"),
        }
    }

    #[test]
    fn wechat_and_weibo_are_simulated_in_dev_mode_only_and_real_when_all_set() {
        let dev = parse(&[]).unwrap();
        assert!(matches!(dev.wechat, ProviderMode::Simulated));
        assert!(matches!(dev.weibo, ProviderMode::Simulated));
        assert!(!dev.qq_unionid);
        let prod = [
            ("QQ_CLIENT_ID", "101518219"),
            ("QQ_CLIENT_SECRET", "s3cret"),
            ("QQ_REDIRECT_URI", "https://shop.example/oauth_callback/"),
            ("SECRET_KEY", "0123456789abcdef0123456789abcdef"),
            ("SMS_PROVIDER", "log"),
        ];
        let s = parse(&prod).unwrap();
        assert!(
            matches!(s.wechat, ProviderMode::Off),
            "never simulated outside dev mode"
        );
        assert!(matches!(s.weibo, ProviderMode::Off));
        let mut all = prod.to_vec();
        all.extend([
            ("WECHAT_APP_ID", "wx0123456789abcdef"),
            ("WECHAT_APP_SECRET", "wx-secret"),
            (
                "WECHAT_REDIRECT_URI",
                "https://shop.example/oauth/wechat/callback/",
            ),
            ("WECHAT_MP_APP_ID", "wxmp23456789abcdef"),
            ("WECHAT_MP_APP_SECRET", "mp-secret"),
            ("WEIBO_CLIENT_ID", "3512345678"),
            ("WEIBO_CLIENT_SECRET", "wb-secret"),
            (
                "WEIBO_REDIRECT_URI",
                "https://shop.example/oauth/weibo/callback/",
            ),
            ("QQ_UNIONID", "on"),
        ]);
        let s = parse(&all).unwrap();
        assert!(s.qq_unionid);
        let ProviderMode::Real(wx) = &s.wechat else {
            panic!("real WeChat")
        };
        assert_eq!(wx.open_url.as_str(), "https://open.weixin.qq.com/");
        assert_eq!(wx.api_url.as_str(), "https://api.weixin.qq.com/");
        assert_eq!(
            wx.mp.as_ref().map(|m| m.app_id.as_str()),
            Some("wxmp23456789abcdef")
        );
        let ProviderMode::Real(wb) = &s.weibo else {
            panic!("real Weibo")
        };
        assert_eq!(wb.api_url.as_str(), "https://api.weibo.com/");
        let shown = format!("{s:?}");
        for secret in ["wx-secret", "mp-secret", "wb-secret"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert_eq!(err_var(&[("WEIBO_CLIENT_ID", "1")]), "WEIBO_CLIENT_SECRET");
        all.push(("WECHAT_API_URL", "ftp://x"));
        assert_eq!(err_var(&all), "WECHAT_API_URL");
    }

    #[test]
    fn each_bad_value_names_its_variable() {
        assert_eq!(err_var(&[("QQBIND_LISTEN", "nonsense")]), "QQBIND_LISTEN");
        assert_eq!(err_var(&[("SECRET_KEY", "short")]), "SECRET_KEY");
        assert_eq!(err_var(&[("REDIS_URL", "not a url")]), "REDIS_URL");
        assert_eq!(err_var(&[("REDIS_URL", "http://x")]), "REDIS_URL");
        assert_eq!(err_var(&[("OPENID_TOKEN_TTL", "-3")]), "OPENID_TOKEN_TTL");
        assert_eq!(
            err_var(&[("SESSION_COOKIE_SECURE", "maybe")]),
            "SESSION_COOKIE_SECURE"
        );
        assert_eq!(
            err_var(&[("SMS_PROVIDER", "carrier-pigeon")]),
            "SMS_PROVIDER"
        );
        assert_eq!(err_var(&[("RATE_LIMITS", "sometimes")]), "RATE_LIMITS");
        assert_eq!(
            err_var(&[("DATABASE_URL", "postgres://[x/y")]),
            "DATABASE_URL"
        );
        assert_eq!(err_var(&[("QQ_CLIENT_ID", "1")]), "QQ_CLIENT_SECRET");
        assert_eq!(
            err_var(&[("QQ_CLIENT_ID", "1"), ("QQ_CLIENT_SECRET", "s")]),
            "QQ_REDIRECT_URI"
        );
        assert_eq!(
            err_var(&[
                ("QQ_CLIENT_ID", "1"),
                ("QQ_CLIENT_SECRET", "s"),
                ("QQ_REDIRECT_URI", "ftp://x/"),
            ]),
            "QQ_REDIRECT_URI"
        );
    }

    #[test]
    fn sessions_end_after_two_idle_hours_or_fourteen_days_unless_configured() {
        let s = parse(&[]).unwrap();
        assert_eq!(s.session_idle_timeout, Duration::from_secs(7_200));
        assert_eq!(s.session_max_age, Duration::from_secs(14 * 86_400));
        let s = parse(&[("SESSION_IDLE_TIMEOUT", "60"), ("SESSION_MAX_AGE", "3600")]).unwrap();
        assert_eq!(s.session_idle_timeout, Duration::from_secs(60));
        assert_eq!(s.session_max_age, Duration::from_secs(3600));
        assert_eq!(
            err_var(&[("SESSION_IDLE_TIMEOUT", "0")]),
            "SESSION_IDLE_TIMEOUT"
        );
        assert_eq!(err_var(&[("SESSION_MAX_AGE", "soon")]), "SESSION_MAX_AGE");
    }

    #[test]
    fn secrets_do_not_show_in_debug_output() {
        let s = parse(&[("SECRET_KEY", "0123456789abcdef0123456789abcdef-very-secret")]).unwrap();
        assert!(!format!("{s:?}").contains("very-secret"));
    }

    #[test]
    fn cors_origins_are_origins_and_jwt_ttl_a_day_by_default() {
        let s = parse(&[(
            "CORS_ORIGINS",
            "https://SPA.example:443/, http://localhost:8080",
        )])
        .unwrap();
        assert_eq!(
            s.cors_origins,
            ["https://spa.example", "http://localhost:8080"]
        );
        assert_eq!(s.jwt_ttl, Duration::from_secs(86_400));
        assert!(parse(&[]).unwrap().cors_origins.is_empty());
        assert_eq!(
            parse(&[("JWT_TTL", "3600")]).unwrap().jwt_ttl,
            Duration::from_secs(3600)
        );
        for bad in [
            "https://spa.example/app",
            "ftp://spa.example",
            "https://spa.example/?x=1",
        ] {
            assert_eq!(
                parse(&[("CORS_ORIGINS", bad)]).unwrap_err().var,
                "CORS_ORIGINS",
                "{bad}"
            );
        }
        assert_eq!(parse(&[("JWT_TTL", "59")]).unwrap_err().var, "JWT_TTL");
    }
}
