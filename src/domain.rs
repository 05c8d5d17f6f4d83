//! Values parsed at the edge: once a handler holds one of these, it is valid.

use std::fmt;
use std::sync::OnceLock;

use regex::Regex;

fn regex(cell: &'static OnceLock<Regex>, pattern: &str) -> &'static Regex {
    // The patterns are literals in this file; a typo would fail every test at once.
    #[allow(clippy::expect_used)]
    cell.get_or_init(|| Regex::new(pattern).expect("valid literal regex"))
}

/// A mainland China mobile number: `^1[3-9]\d{9}$`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mobile(String);

impl Mobile {
    pub fn parse(raw: &str) -> Option<Self> {
        static RE: OnceLock<Regex> = OnceLock::new();
        regex(&RE, r"^1[3-9][0-9]{9}$")
            .is_match(raw)
            .then(|| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `138****5678`: for pages that should not show the whole number.
    pub fn masked(&self) -> String {
        format!("{}****{}", &self.0[..3], &self.0[7..])
    }
}

impl fmt::Display for Mobile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A password as the seeds allow it: `^[0-9A-Za-z]{8,20}$`. Never printed.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub fn parse(raw: &str) -> Option<Self> {
        static RE: OnceLock<Regex> = OnceLock::new();
        regex(&RE, r"^[0-9A-Za-z]{8,20}$")
            .is_match(raw)
            .then(|| Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Letters and digits both: what an operator account must have.
    pub fn is_strong(&self) -> bool {
        self.0.bytes().any(|b| b.is_ascii_digit())
            && self.0.bytes().any(|b| b.is_ascii_alphabetic())
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

/// A registered username: `^[a-zA-Z0-9_-]{5,20}$` (the Meiduo register page), and not
/// shaped like a mobile number: the login form reads such a name as a mobile, so an
/// account named after someone else's number could never log in by its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

/// Why a username was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UsernameError {
    #[error("请输入5-20个字符的用户名")]
    Shape,
    #[error("用户名不能是手机号")]
    LooksLikeMobile,
}

impl Username {
    pub fn parse(raw: &str) -> Result<Self, UsernameError> {
        static RE: OnceLock<Regex> = OnceLock::new();
        if !regex(&RE, r"^[a-zA-Z0-9_-]{5,20}$").is_match(raw) {
            return Err(UsernameError::Shape);
        }
        if Mobile::parse(raw).is_some() {
            return Err(UsernameError::LooksLikeMobile);
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An openid (or unionid, or Weibo uid): 1–64 characters of `[0-9A-Za-z_-]` (QQ,
/// WeChat and Weibo all keep within that).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenId(String);

impl OpenId {
    pub fn parse(raw: &str) -> Option<Self> {
        let ok = (1..=64).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        ok.then(|| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first and last four characters, for pages and logs.
    pub fn masked(&self) -> String {
        mask_middle(&self.0)
    }
}

impl fmt::Display for OpenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A provider of external identities: who vouches for the person logging in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    Qq,
    Wechat,
    Weibo,
}

impl Default for Provider {
    /// QQ: what a session or token that names no provider was made by.
    fn default() -> Self {
        Self::Qq
    }
}

impl Provider {
    pub fn is_qq(&self) -> bool {
        *self == Self::Qq
    }

    /// Every provider, in the order pages list them.
    pub const ALL: [Provider; 3] = [Provider::Qq, Provider::Wechat, Provider::Weibo];

    /// The name in routes, the database and metrics: `qq`, `wechat`, `weibo`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Qq => "qq",
            Self::Wechat => "wechat",
            Self::Weibo => "weibo",
        }
    }

    /// The name a customer knows it by: `QQ`, `微信`, `微博`.
    pub fn label(self) -> &'static str {
        match self {
            Self::Qq => "QQ",
            Self::Wechat => "微信",
            Self::Weibo => "微博",
        }
    }

    /// What the provider calls its id of a person, as pages show it: Weibo's is a `uid`.
    pub fn id_name(self) -> &'static str {
        match self {
            Self::Qq | Self::Wechat => "openid",
            Self::Weibo => "uid",
        }
    }

    /// The name in English, as the log says it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Qq => "QQ",
            Self::Wechat => "WeChat",
            Self::Weibo => "Weibo",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == raw)
    }

    /// `QQ`, `QQ或微信`, `QQ、微信或微博`: any one of `providers`, as a sentence says it.
    pub fn any_of(providers: &[Provider]) -> String {
        let labels: Vec<&str> = providers.iter().map(|p| p.label()).collect();
        match labels.split_last() {
            None => String::new(),
            Some((last, [])) => (*last).to_owned(),
            Some((last, rest)) => format!("{}或{last}", rest.join("、")),
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who a provider says the person is: its openid for our application, and the unionid
/// that is the same across the applications of one provider account, when it gives one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalId {
    pub provider: Provider,
    pub openid: OpenId,
    pub unionid: Option<OpenId>,
}

impl ExternalId {
    pub fn qq(openid: OpenId) -> Self {
        Self {
            provider: Provider::Qq,
            openid,
            unionid: None,
        }
    }

    /// The signed token's payload: a bare openid for QQ without a unionid (as tokens
    /// always were), else `provider:openid[:unionid]` (an id never holds a `:`).
    pub fn to_payload(&self) -> String {
        match (self.provider, &self.unionid) {
            (Provider::Qq, None) => self.openid.as_str().to_owned(),
            (p, None) => format!("{}:{}", p.as_str(), self.openid),
            (p, Some(u)) => format!("{}:{}:{}", p.as_str(), self.openid, u),
        }
    }

    pub fn from_payload(raw: &str) -> Option<Self> {
        let mut parts = raw.split(':');
        let first = parts.next()?;
        let Some(second) = parts.next() else {
            return OpenId::parse(first).map(Self::qq);
        };
        let provider = Provider::parse(first)?;
        let openid = OpenId::parse(second)?;
        let unionid = match parts.next() {
            Some(u) => Some(OpenId::parse(u)?),
            None => None,
        };
        if parts.next().is_some() {
            return None;
        }
        Some(Self {
            provider,
            openid,
            unionid,
        })
    }
}

/// A User-Agent as the history and the audit log keep it: without control characters,
/// at most 256 characters. Borrowed when it is already so (nearly always).
pub fn clean_user_agent(raw: &str) -> std::borrow::Cow<'_, str> {
    if raw.len() <= 256 && !raw.chars().any(char::is_control) {
        std::borrow::Cow::Borrowed(raw)
    } else {
        raw.chars().filter(|c| !c.is_control()).take(256).collect()
    }
}

/// A nickname as an account keeps it (from QQ, or typed into the API): trimmed, without
/// control characters, at most 32 characters.
pub fn clean_nickname(raw: &str) -> String {
    raw.trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(32)
        .collect()
}

/// An avatar URL as an account keeps it: http(s) and at most 300 bytes, else none.
pub fn clean_avatar_url(raw: Option<&str>) -> String {
    raw.filter(|u| u.len() <= 300 && (u.starts_with("https://") || u.starts_with("http://")))
        .unwrap_or_default()
        .to_owned()
}

/// `4F65****3B11`; short values are masked whole.
pub fn mask_middle(s: &str) -> String {
    if s.len() <= 8 || !s.is_ascii() {
        return "****".to_owned();
    }
    format!("{}****{}", &s[..4], &s[s.len() - 4..])
}

/// Where to go after login: a local path only, else `/` (no open redirects).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextPath(String);

impl NextPath {
    pub fn sanitise(raw: Option<&str>) -> Self {
        match raw {
            Some(p) if Self::is_local(p) => Self(p.to_owned()),
            _ => Self::root(),
        }
    }

    pub const MAX_LEN: usize = 256;

    pub fn root() -> Self {
        Self("/".to_owned())
    }

    /// One leading `/`, not `//`, no backslash, no control characters, no scheme.
    fn is_local(p: &str) -> bool {
        p.starts_with('/')
            && !p.starts_with("//")
            && !p.contains('\\')
            && !p.chars().any(char::is_control)
            // Kept in the code store with a started login and in the session cookie with
            // a pending bind (a cookie must stay under 4 KB).
            && p.len() <= Self::MAX_LEN
            // "/x:y" is harmless, but a path segment cannot start a scheme anyway;
            // refuse percent-encoded slashes and backslashes that a browser may decode.
            && !p.to_ascii_lowercase().starts_with("/%2f")
            && !p.to_ascii_lowercase().starts_with("/%5c")
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_agent_is_kept_without_control_characters_and_at_most_256_characters() {
        let clean = "Mozilla/5.0 (iPhone) 微信 🙂";
        assert!(matches!(clean_user_agent(clean), std::borrow::Cow::Borrowed(c) if c == clean));
        assert_eq!(clean_user_agent("a\u{0}b\r\nc\u{7f}"), "abc");
        let long = "微".repeat(300);
        assert_eq!(clean_user_agent(&long), "微".repeat(256));
        assert_eq!(clean_user_agent(&"a".repeat(256)), "a".repeat(256));
    }

    #[test]
    fn mobiles_follow_the_seed_pattern() {
        for ok in ["13800138000", "19912345678", "15000000000"] {
            assert!(Mobile::parse(ok).is_some(), "{ok}");
        }
        for bad in [
            "",
            "12800138000",
            "1380013800",
            "138001380000",
            "1380013800a",
            " 13800138000",
            "１3800138000",
        ] {
            assert!(Mobile::parse(bad).is_none(), "{bad}");
        }
        assert_eq!(
            Mobile::parse("13812345678").unwrap().masked(),
            "138****5678"
        );
    }

    #[test]
    fn passwords_are_8_to_20_letters_or_digits() {
        assert!(Password::parse("abcd1234").is_some());
        assert!(Password::parse("A1234567890123456789").is_some());
        for bad in [
            "",
            "short1",
            "abcdefghijklmnopqrstu",
            "pass word1",
            "pässword1",
            "abcd-1234",
        ] {
            assert!(Password::parse(bad).is_none(), "{bad}");
        }
        assert_eq!(
            format!("{:?}", Password::parse("abcd1234").unwrap()),
            "Password(***)"
        );
    }

    #[test]
    fn usernames_follow_the_register_page() {
        for ok in ["alice", "bob_the-builder", "A1234567890123456789", "13800"] {
            assert_eq!(Username::parse(ok).unwrap().as_str(), ok);
        }
        for bad in [
            "",
            "abcd",
            "a".repeat(21).as_str(),
            "张三丰啊啊",
            "al ice",
            "al.ice",
        ] {
            assert_eq!(Username::parse(bad), Err(UsernameError::Shape), "{bad}");
        }
        assert_eq!(
            Username::parse("13800138000"),
            Err(UsernameError::LooksLikeMobile)
        );
    }

    #[test]
    fn openids_are_up_to_64_safe_characters() {
        assert!(OpenId::parse("4F65D2442D41B0D1639FD7FC14123B11").is_some());
        assert!(OpenId::parse(&"a".repeat(64)).is_some());
        assert!(OpenId::parse(&"a".repeat(65)).is_none());
        assert!(OpenId::parse("").is_none());
        assert!(OpenId::parse("abc def").is_none());
        assert!(OpenId::parse("abc<script>").is_none());
        assert_eq!(
            OpenId::parse("4F65D2442D41B0D1639FD7FC14123B11")
                .unwrap()
                .masked(),
            "4F65****3B11"
        );
    }

    #[test]
    fn an_external_id_survives_its_payload_and_qqs_stays_a_bare_openid() {
        let qq = ExternalId::qq(OpenId::parse("4F65D2442D41B0D1639FD7FC14123B11").unwrap());
        assert_eq!(qq.to_payload(), "4F65D2442D41B0D1639FD7FC14123B11");
        let wx = ExternalId {
            provider: Provider::Wechat,
            openid: OpenId::parse("ohS-VwAJ9GEXlplngwybJ3Z-ZHrI").unwrap(),
            unionid: OpenId::parse("ohHrhwKnD9TOunEW0eKTS45vS5Qo"),
        };
        let wb = ExternalId {
            provider: Provider::Weibo,
            openid: OpenId::parse("6972314674").unwrap(),
            unionid: None,
        };
        for id in [&qq, &wx, &wb] {
            assert_eq!(
                ExternalId::from_payload(&id.to_payload()).as_ref(),
                Some(id)
            );
        }
        for bad in ["", "qq:", "mail:abc", "wechat:a:b:c", "wechat:a b", ":abc"] {
            assert_eq!(ExternalId::from_payload(bad), None, "{bad}");
        }
        assert_eq!(Provider::parse("wechat"), Some(Provider::Wechat));
        assert_eq!(Provider::parse("WeChat"), None);
    }

    #[test]
    fn next_keeps_local_paths_only() {
        for ok in ["/", "/info/", "/goods/1.html?x=1#top", "/a:b"] {
            assert_eq!(NextPath::sanitise(Some(ok)).as_str(), ok);
        }
        for bad in [
            "",
            "//evil.example/",
            "http://evil.example/",
            "https:/evil.example",
            "javascript:alert(1)",
            "/\\evil.example",
            "\\\\evil.example",
            "evil.example",
            "/%2F%2Fevil.example",
            "/%5cevil.example",
            "/\nLocation: x",
            &format!("/{}", "a".repeat(NextPath::MAX_LEN)),
        ] {
            assert_eq!(NextPath::sanitise(Some(bad)).as_str(), "/", "{bad:?}");
        }
        assert_eq!(NextPath::sanitise(None).as_str(), "/");
    }
}
