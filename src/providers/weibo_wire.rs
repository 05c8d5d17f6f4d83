//! Weibo's body formats (`providers.md` §B): JSON; an error as a top-level `error` key
//! (`{"error","error_code","request"[,"error_uri","error_description"]}`) with a 4xx
//! status or not; numbers that arrive as strings and strings that arrive as numbers
//! (`expires_in`, `uid`, `appkey`, `error_code`); UIDs past 2³², kept as strings.

use serde::Deserialize;
use serde_json::Value;

use super::WireError;

/// `/oauth2/access_token`. `Debug` hides the token.
#[derive(Clone, PartialEq, Eq)]
pub struct WbToken {
    pub access_token: String,
    pub uid: String,
    pub expires_in: Option<i64>,
}

impl std::fmt::Debug for WbToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WbToken")
            .field("access_token", &"***")
            .field("uid", &self.uid)
            .finish_non_exhaustive()
    }
}

/// `/oauth2/get_token_info`: whose token it is, for which application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WbTokenInfo {
    pub uid: String,
    pub appkey: String,
    pub expire_in: Option<i64>,
}

/// `/2/users/show.json`, the fields qqbind keeps.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WbUser {
    pub uid: String,
    pub screen_name: String,
    /// The best avatar given: `avatar_hd`, else `avatar_large`, else `profile_image_url`.
    pub avatar_url: String,
}

/// A number or a string of digits, as text (`"6972314674"`, `6972314674`).
fn id_text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) if n.is_u64() || n.is_i64() => Some(n.to_string()),
        _ => None,
    }
}

fn number(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn text(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// The body as a JSON object, or Weibo's error when it holds a top-level `error` key.
fn object(body: &[u8]) -> Result<Value, WireError> {
    let v: Value = serde_json::from_slice(body).map_err(|_| WireError::Malformed("not JSON"))?;
    if !v.is_object() {
        return Err(WireError::Malformed("not a JSON object"));
    }
    if let Some(error) = v.get("error") {
        let description = match v.get("error_description").and_then(Value::as_str) {
            Some(d) => d.to_owned(),
            None => error.as_str().unwrap_or_default().to_owned(),
        };
        return Err(WireError::Refused {
            code: number(v.get("error_code")).unwrap_or(-1),
            description,
        });
    }
    Ok(v)
}

pub fn parse_token(body: &[u8]) -> Result<WbToken, WireError> {
    let v = object(body)?;
    #[derive(Deserialize)]
    struct T {
        access_token: String,
    }
    let t: T = serde_json::from_value(v.clone())
        .map_err(|_| WireError::Malformed("token body without access_token"))?;
    if t.access_token.trim().is_empty() {
        return Err(WireError::Malformed("token body without access_token"));
    }
    Ok(WbToken {
        access_token: t.access_token,
        uid: id_text(v.get("uid")).ok_or(WireError::Malformed("token body without uid"))?,
        expires_in: number(v.get("expires_in")),
    })
}

pub fn parse_token_info(body: &[u8]) -> Result<WbTokenInfo, WireError> {
    let v = object(body)?;
    Ok(WbTokenInfo {
        uid: id_text(v.get("uid")).ok_or(WireError::Malformed("token info without uid"))?,
        appkey: id_text(v.get("appkey"))
            .ok_or(WireError::Malformed("token info without appkey"))?,
        expire_in: number(v.get("expire_in")),
    })
}

pub fn parse_user(body: &[u8]) -> Result<WbUser, WireError> {
    let v = object(body)?;
    let uid = id_text(v.get("idstr"))
        .or_else(|| id_text(v.get("id")))
        .ok_or(WireError::Malformed("user without id"))?;
    let avatar_url = ["avatar_hd", "avatar_large", "profile_image_url"]
        .iter()
        .map(|k| text(&v, k))
        .find(|u| !u.is_empty())
        .unwrap_or_default();
    let screen_name = match text(&v, "screen_name") {
        s if s.is_empty() => text(&v, "name"),
        s => s,
    };
    Ok(WbUser {
        uid,
        screen_name,
        avatar_url,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_bodies_real_and_documented() {
        let t = parse_token(br#"{"access_token":"2.00SYHrbHGD8YEEadf1c7b02cDjFsJE","remind_in":"157679999","expires_in":157679999,"uid":"6972314674","scope":"follow_app_official_microblog","isRealName":"true"}"#).unwrap();
        assert_eq!(
            (t.uid.as_str(), t.expires_in),
            ("6972314674", Some(157_679_999))
        );
        assert!(!format!("{t:?}").contains("2.00SYH"));
        let t = parse_token(br#"{"access_token":"ACCESS_TOKEN","expires_in":"7200","remind_in":"7200","uid":"1404376560"}"#).unwrap();
        assert_eq!((t.uid.as_str(), t.expires_in), ("1404376560", Some(7200)));
        let t = parse_token(br#"{"access_token":"a","expires_in":1234,"uid":5529945701}"#).unwrap();
        assert_eq!(t.uid, "5529945701");
    }

    #[test]
    fn every_error_envelope_is_weibos_code() {
        for (body, code) in [
            (&br#"{"error":"invalid_grant","error_code":21325,"request":"/oauth2/access_token","error_uri":"/oauth2/access_token","error_description":"invalid authorization code:1e6f0dcfc9050a084781f6c4d7432d51"}"#[..], 21325),
            (br#"{"error":"invalid_client","error_code":21324,"request":"/oauth2/access_token","error_uri":"/oauth2/access_token","error_description":"client_secret error."}"#, 21324),
            (br#"{"error":"redirect_uri_mismatch","error_code":21322,"request":"/oauth2/access_token"}"#, 21322),
            (br#"{"error":"HTTP method is not suported for this request","error_code":10021,"request":"/oauth2/access_token"}"#, 10021),
            (br#"{"error":"Source paramter (appkey) is missing","error_code":"10006","request":"/2/users/show.json"}"#, 10006),
            (br#"{"error":"invalid_request"}"#, -1),
        ] {
            assert!(matches!(parse_token(body), Err(WireError::Refused { code: c, .. }) if c == code), "{body:?}");
        }
        for (body, code) in [
            (&br#"{"error":"invalid_access_token","error_code":21332,"request":"/2/users/show.json"}"#[..], 21332),
            (br#"{"error":"expired_token","error_code":21327,"request":"/2/users/show.json"}"#, 21327),
            (br#"{"error":"applications over the unaudited use restrictions!","error_code":21321,"request":"/2/users/show.json"}"#, 21321),
            (br#"{"error":"User does not exists!","error_code":20003,"request":"/2/users/show.json"}"#, 20003),
            (br#"{"error":"User requests out of rate limit!","error_code":10023,"request":"/2/users/show.json"}"#, 10023),
        ] {
            assert!(matches!(parse_user(body), Err(WireError::Refused { code: c, .. }) if c == code), "{body:?}");
        }
    }

    #[test]
    fn token_info_with_numbers_or_strings() {
        let i = parse_token_info(br#"{"uid":1073880650,"appkey":1352222456,"scope":null,"create_at":1352267591,"expire_in":157679471}"#).unwrap();
        assert_eq!(
            (i.uid.as_str(), i.appkey.as_str(), i.expire_in),
            ("1073880650", "1352222456", Some(157_679_471))
        );
        let i = parse_token_info(br#"{"uid":"1073880650","appkey":"1352222456","scope":"all","create_at":"1352267591","expire_in":"10"}"#).unwrap();
        assert_eq!(
            (i.uid.as_str(), i.appkey.as_str(), i.expire_in),
            ("1073880650", "1352222456", Some(10))
        );
        assert!(matches!(
            parse_token_info(br#"{"uid":1}"#),
            Err(WireError::Malformed(_))
        ));
    }

    #[test]
    fn users_show_picks_the_best_avatar_and_keeps_cjk() {
        let u = parse_user(br#"{"id":3195025850,"idstr":"3195025850","screen_name":"pennersr","name":"pennersr","province":"11","city":"1","location":"\u5317\u4eac \u4e1c\u57ce\u533a","profile_image_url":"http://tp3.sinaimg.cn/3195025850/50/0/0","avatar_large":"http://tp3.sinaimg.cn/3195025850/180/0/0","gender":"f","verified_type":-1,"lang":"zh-cn"}"#).unwrap();
        assert_eq!(u.uid, "3195025850");
        assert_eq!(u.screen_name, "pennersr");
        assert_eq!(u.avatar_url, "http://tp3.sinaimg.cn/3195025850/180/0/0");
        let u = parse_user(r#"{"id":5529945701,"screen_name":"微博用户","avatar_hd":"https://tvax3.sinaimg.cn/x.jpg"}"#.as_bytes()).unwrap();
        assert_eq!(
            (
                u.uid.as_str(),
                u.screen_name.as_str(),
                u.avatar_url.as_str()
            ),
            ("5529945701", "微博用户", "https://tvax3.sinaimg.cn/x.jpg")
        );
    }

    #[test]
    fn bodies_that_are_not_weibos() {
        for body in [
            &b""[..],
            b"<html>21322</html>",
            b"[]",
            b"{}",
            br#"{"access_token":"","uid":"1"}"#,
            br#"{"access_token":"a"}"#,
            br#"{"access_token":"a","uid":true}"#,
        ] {
            assert!(
                matches!(parse_token(body), Err(WireError::Malformed(_))),
                "{body:?}"
            );
        }
        assert!(matches!(
            parse_user(br#"{"screen_name":"x"}"#),
            Err(WireError::Malformed(_))
        ));
    }
}
