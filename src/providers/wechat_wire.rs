//! WeChat's body formats (`providers.md` §A): JSON with HTTP 200 whatever happened, an
//! error as `{"errcode":N,"errmsg":"…"}` (N may be negative), `/` escaped as `\/`, the
//! body UTF-8 whatever the Content-Type says. Parsed from bytes, never by a charset.

use serde::Deserialize;

use super::WireError;

/// A code → token exchange (`/sns/oauth2/access_token`). `Debug` hides the token.
#[derive(Clone, PartialEq, Eq)]
pub struct WxToken {
    pub access_token: String,
    pub openid: String,
    pub unionid: Option<String>,
    pub scope: Vec<String>,
    pub expires_in: Option<i64>,
    /// A 公众号 snapshot-mode visitor: its ids are not a real person's.
    pub snapshot: bool,
}

impl std::fmt::Debug for WxToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WxToken")
            .field("access_token", &"***")
            .field("openid", &self.openid)
            .field("unionid", &self.unionid)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// `/sns/userinfo`, the fields qqbind keeps.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WxUser {
    pub openid: String,
    pub unionid: Option<String>,
    pub nickname: String,
    pub headimgurl: String,
}

#[derive(Deserialize)]
struct Envelope {
    errcode: Option<i64>,
    #[serde(default)]
    errmsg: String,
}

#[derive(Deserialize)]
struct TokenBody {
    access_token: Option<String>,
    openid: Option<String>,
    unionid: Option<String>,
    scope: Option<String>,
    expires_in: Option<serde_json::Value>,
    is_snapshotuser: Option<i64>,
}

#[derive(Deserialize)]
struct UserBody {
    openid: Option<String>,
    unionid: Option<String>,
    #[serde(default)]
    nickname: String,
    #[serde(default)]
    headimgurl: String,
}

/// WeChat's error when the body carries a non-zero `errcode`.
fn check(body: &[u8]) -> Result<(), WireError> {
    let env: Envelope =
        serde_json::from_slice(body).map_err(|_| WireError::Malformed("not JSON"))?;
    match env.errcode {
        Some(code) if code != 0 => Err(WireError::Refused {
            code,
            description: env.errmsg,
        }),
        _ => Ok(()),
    }
}

fn present(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.trim().is_empty())
}

pub fn parse_token(body: &[u8]) -> Result<WxToken, WireError> {
    check(body)?;
    let t: TokenBody =
        serde_json::from_slice(body).map_err(|_| WireError::Malformed("token body"))?;
    let access_token =
        present(t.access_token).ok_or(WireError::Malformed("token body without access_token"))?;
    let openid = present(t.openid).ok_or(WireError::Malformed("token body without openid"))?;
    let expires_in = match t.expires_in {
        Some(serde_json::Value::Number(n)) => n.as_i64(),
        Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    };
    Ok(WxToken {
        access_token,
        openid,
        unionid: present(t.unionid),
        scope: t
            .scope
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        expires_in,
        snapshot: t.is_snapshotuser == Some(1),
    })
}

pub fn parse_user(body: &[u8]) -> Result<WxUser, WireError> {
    check(body)?;
    let u: UserBody =
        serde_json::from_slice(body).map_err(|_| WireError::Malformed("userinfo body"))?;
    Ok(WxUser {
        openid: present(u.openid).ok_or(WireError::Malformed("userinfo without openid"))?,
        unionid: present(u.unionid),
        nickname: u.nickname,
        headimgurl: u.headimgurl,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_token_body() {
        let t = parse_token(br#"{"access_token":"ACCESS_TOKEN","expires_in":7200,"refresh_token":"REFRESH_TOKEN","openid":"OPENID","scope":"SCOPE","unionid":"o6_bmasdasdsad6_2sgVt7hMZOPfL"}"#).unwrap();
        assert_eq!(t.access_token, "ACCESS_TOKEN");
        assert_eq!(t.openid, "OPENID");
        assert_eq!(t.unionid.as_deref(), Some("o6_bmasdasdsad6_2sgVt7hMZOPfL"));
        assert_eq!(t.scope, ["SCOPE"]);
        assert_eq!(t.expires_in, Some(7200));
        assert!(!t.snapshot);
        assert!(!format!("{t:?}").contains("ACCESS_TOKEN"));
    }

    #[test]
    fn a_token_without_unionid_with_several_scopes_or_a_snapshot_user() {
        let t = parse_token(br#"{"access_token":"t","expires_in":"7200","openid":"ohS-VwAJ9GEXlplngwybJ3Z-ZHrI","scope":"snsapi_login,,snsapi_userinfo","unionid":""}"#).unwrap();
        assert_eq!(t.unionid, None);
        assert_eq!(t.scope, ["snsapi_login", "snsapi_userinfo"]);
        assert_eq!(t.expires_in, Some(7200));
        let t = parse_token(br#"{"access_token":"t","expires_in":7200,"openid":"o1","scope":"snsapi_userinfo","is_snapshotuser":1}"#).unwrap();
        assert!(t.snapshot);
    }

    #[test]
    fn every_error_shape_is_wechats_code() {
        for (body, code) in [
            (&br#"{"errcode":40029,"errmsg":"invalid code"}"#[..], 40029),
            (br#"{"errcode":40029,"errmsg":"invalid code, hints: [ req_id: jGkksa0933ssz5 ]"}"#, 40029),
            (br#"{"errcode":40163,"errmsg":"code been used, rid: 6206378a-793424c0-2e4091cc"}"#, 40163),
            (br#"{"errcode":40125,"errmsg":"invalid appsecret, view more at http:\/\/t.cn\/RAEkdVq, hints: [ req_id: Scg6za0214th22 ]"}"#, 40125),
            (br#"{"errcode":-1,"errmsg":"system error, rid: 6326ffdf-41c7c0d8-5a6bb364"}"#, -1),
            (br#"{"errcode":42003,"errmsg":"code expired"}"#, 42003),
            (br#"{"errcode":45011,"errmsg":"api minute-quota reach limit mustslower retry next minute"}"#, 45011),
            (br#"{"errcode":40013,"errmsg":"invalid appid"}"#, 40013),
            (br#"{"errcode":41008,"errmsg":"missing code"}"#, 41008),
        ] {
            match parse_token(body) {
                Err(WireError::Refused { code: c, .. }) => assert_eq!(c, code),
                other => panic!("{other:?}"),
            }
        }
        for (body, code) in [
            (&br#"{"errcode":40001,"errmsg":"invalid credential, access_token is invalid or not latest"}"#[..], 40001),
            (br#"{"errcode":42001,"errmsg":"access_token expired"}"#, 42001),
            (br#"{"errcode":40003,"errmsg":"invalid openid"}"#, 40003),
            (br#"{"errcode":48001,"errmsg":"api unauthorized"}"#, 48001),
        ] {
            assert!(matches!(parse_user(body), Err(WireError::Refused { code: c, .. }) if c == code));
        }
    }

    #[test]
    fn bodies_that_are_not_a_token() {
        for body in [
            &b""[..],
            b"<html>redirect_uri \xe5\x8f\x82\xe6\x95\xb0\xe9\x94\x99\xe8\xaf\xaf</html>",
            b"{}",
            br#"{"access_token":"t"}"#,
            br#"{"openid":"o"}"#,
            br#"{"access_token":"","openid":"o"}"#,
            br#"{"errcode":0,"errmsg":"ok"}"#,
            br#"[1,2]"#,
            br#"{"access_token":7,"openid":"o"}"#,
        ] {
            assert!(
                matches!(parse_token(body), Err(WireError::Malformed(_))),
                "{body:?}"
            );
        }
    }

    #[test]
    fn the_post_2021_userinfo_with_emoji_and_escaped_slashes() {
        let body = r#"{"openid":"ohS-VwAJ9GEXlplngwybJ3Z-ZHrI","nickname":"飞翔的企鹅🐧","sex":0,"language":"","city":"","province":"","country":"","headimgurl":"https:\/\/thirdwx.qlogo.cn\/mmopen\/vi_32\/Q0j4\/132","privilege":[],"unionid":"ohHrhwKnD9TOunEW0eKTS45vS5Qo"}"#;
        let u = parse_user(body.as_bytes()).unwrap();
        assert_eq!(u.nickname, "飞翔的企鹅🐧");
        assert_eq!(
            u.headimgurl,
            "https://thirdwx.qlogo.cn/mmopen/vi_32/Q0j4/132"
        );
        assert_eq!(u.unionid.as_deref(), Some("ohHrhwKnD9TOunEW0eKTS45vS5Qo"));
        let old = parse_user(br#"{"openid":"o1","nickname":"a","sex":1,"headimgurl":"","privilege":["chinaunicom"],"language":"zh_CN"}"#).unwrap();
        assert_eq!((old.unionid, old.headimgurl.as_str()), (None, ""));
        assert!(matches!(
            parse_user(br#"{"nickname":"x"}"#),
            Err(WireError::Malformed(_))
        ));
    }
}
