//! QQ Connect's body formats, quirks included (`qq-connect.md`).
//!
//! The token endpoint answers `a=b&c=d` by default, JSON with `fmt=json`, and errors as
//! JSONP (`callback( {...} );`) or `code=…&msg=…`, all with HTTP 200. `/me` answers
//! JSONP with spaces and a trailing newline; QQ's own error sample has a trailing comma.

use std::borrow::Cow;

use serde_json::Value;

/// A successful code → token exchange. `Debug` hides the tokens.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenGrant {
    pub access_token: String,
    pub expires_in: Option<u64>,
    pub refresh_token: Option<String>,
}

impl std::fmt::Debug for TokenGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenGrant")
            .field("access_token", &"***")
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Me {
    pub client_id: String,
    pub openid: String,
    pub unionid: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserInfo {
    pub nickname: Option<String>,
    pub avatar_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// QQ said no: its error code and description.
    #[error("QQ error {code}: {description}")]
    Qq { code: i64, description: String },
    #[error("unexpected body from QQ: {0}")]
    Malformed(&'static str),
}

/// Parses the body of `/oauth2.0/token`, in any of its formats.
pub fn parse_token_body(body: &str) -> Result<TokenGrant, WireError> {
    let body = body.trim();
    if looks_like_json(body) {
        let v = parse_json_or_jsonp(body)?;
        check_error(&v)?;
        let access_token = string_field(&v, "access_token")
            .ok_or(WireError::Malformed("token body without access_token"))?;
        return Ok(TokenGrant {
            access_token,
            expires_in: number_field(&v, "expires_in"),
            refresh_token: string_field(&v, "refresh_token"),
        });
    }
    let mut access_token = None;
    let mut expires_in = None;
    let mut refresh_token = None;
    let mut code = None;
    let mut msg = None;
    // The first of a repeated key counts, as in a query string read into pairs.
    for (key, value) in url::form_urlencoded::parse(body.as_bytes()) {
        let slot = match &*key {
            "access_token" => &mut access_token,
            "expires_in" => &mut expires_in,
            "refresh_token" => &mut refresh_token,
            "code" => &mut code,
            "msg" => &mut msg,
            _ => continue,
        };
        slot.get_or_insert(value);
    }
    match access_token.filter(|t| !t.is_empty()) {
        Some(access_token) => Ok(TokenGrant {
            access_token: access_token.into_owned(),
            expires_in: expires_in.and_then(|s| s.parse().ok()),
            refresh_token: refresh_token.map(Cow::into_owned),
        }),
        None => match code {
            Some(code) => Err(WireError::Qq {
                code: code.parse().unwrap_or(-1),
                description: msg.map(Cow::into_owned).unwrap_or_default(),
            }),
            None => Err(WireError::Malformed("token body without access_token")),
        },
    }
}

/// Parses the body of `/oauth2.0/me`.
pub fn parse_me_body(body: &str) -> Result<Me, WireError> {
    let v = parse_json_or_jsonp(body.trim())?;
    check_error(&v)?;
    Ok(Me {
        client_id: string_field(&v, "client_id")
            .ok_or(WireError::Malformed("me body without client_id"))?,
        openid: string_field(&v, "openid").ok_or(WireError::Malformed("me body without openid"))?,
        unionid: string_field(&v, "unionid"),
    })
}

/// Parses the body of `/user/get_user_info` (JSON served as text/html; `ret` ≠ 0 is an error).
pub fn parse_user_info(body: &str) -> Result<UserInfo, WireError> {
    let v = parse_json_or_jsonp(body.trim())?;
    check_error(&v)?;
    let ret = v.get("ret").and_then(as_i64).unwrap_or(0);
    if ret != 0 {
        return Err(WireError::Qq {
            code: ret,
            description: string_field(&v, "msg").unwrap_or_default(),
        });
    }
    let avatar_url = [
        "figureurl_qq_2",
        "figureurl_qq_1",
        "figureurl_2",
        "figureurl_1",
    ]
    .iter()
    .find_map(|k| string_field(&v, k).filter(|s| !s.is_empty()));
    Ok(UserInfo {
        nickname: string_field(&v, "nickname").filter(|s| !s.is_empty()),
        avatar_url,
    })
}

fn looks_like_json(body: &str) -> bool {
    body.starts_with('{') || body.starts_with("callback")
}

/// Strips `callback( … );` (any spacing, optional `;`, trailing newline) and parses the
/// object leniently (a trailing comma before `}` or `]` is accepted).
fn parse_json_or_jsonp(body: &str) -> Result<Value, WireError> {
    let inner = unwrap_jsonp(body).ok_or(WireError::Malformed("not JSON or JSONP"))?;
    let v: Value = serde_json::from_str(&drop_trailing_commas(inner))
        .map_err(|_| WireError::Malformed("invalid JSON"))?;
    if v.is_object() {
        Ok(v)
    } else {
        Err(WireError::Malformed("JSON is not an object"))
    }
}

fn unwrap_jsonp(body: &str) -> Option<&str> {
    let body = body.trim();
    let Some(rest) = body.strip_prefix("callback") else {
        return Some(body);
    };
    let rest = rest.trim_start().strip_prefix('(')?;
    let rest = rest.trim_end();
    let rest = rest.strip_suffix(';').unwrap_or(rest).trim_end();
    Some(rest.strip_suffix(')')?.trim())
}

/// Removes commas that directly precede `}` or `]`, outside strings; borrows the text
/// when it has none (QQ's bodies nearly never do).
fn drop_trailing_commas(s: &str) -> Cow<'_, str> {
    // JSON's structure is ASCII, and no byte of a multi-byte UTF-8 character is ASCII,
    // so the text can be scanned byte by byte and cut only at ASCII commas.
    let bytes = s.as_bytes();
    let mut trailing = Vec::new();
    let mut in_string = false;
    let mut escaped = false;
    for (i, &b) in bytes.iter().enumerate() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
        } else if b == b'"' {
            in_string = true;
        } else if b == b',' {
            let next = bytes[i + 1..].iter().find(|b| !b.is_ascii_whitespace());
            if matches!(next, Some(b'}' | b']')) {
                trailing.push(i);
            }
        }
    }
    if trailing.is_empty() {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut from = 0;
    for i in trailing {
        out.push_str(&s[from..i]);
        from = i + 1;
    }
    out.push_str(&s[from..]);
    Cow::Owned(out)
}

fn check_error(v: &Value) -> Result<(), WireError> {
    match v.get("error") {
        None | Some(Value::Null) => Ok(()),
        Some(code) => Err(WireError::Qq {
            code: as_i64(code).unwrap_or(-1),
            description: string_field(v, "error_description").unwrap_or_default(),
        }),
    }
}

fn as_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn string_field(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A number QQ may send as a JSON number or as a string (`"expires_in":"7776000"`).
fn number_field(v: &Value, key: &str) -> Option<u64> {
    match v.get(key)? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "FE04************************CCE2";

    #[test]
    fn token_default_query_string_format() {
        let g = parse_token_body(
            "access_token=FE04************************CCE2&expires_in=7776000&refresh_token=88E4************************BE14",
        )
        .unwrap();
        assert_eq!(g.access_token, TOKEN);
        assert_eq!(g.expires_in, Some(7_776_000));
        assert_eq!(
            g.refresh_token.as_deref(),
            Some("88E4************************BE14")
        );
    }

    #[test]
    fn token_json_format_with_expires_in_as_a_string() {
        let g = parse_token_body(
            r#"{"access_token":"FE04************************CCE2","expires_in":"5184000","refresh_token":"88E4"}"#,
        )
        .unwrap();
        assert_eq!(g.access_token, TOKEN);
        assert_eq!(g.expires_in, Some(5_184_000));
        let g = parse_token_body(r#"{"access_token":"T","expires_in":7776000}"#).unwrap();
        assert_eq!(g.expires_in, Some(7_776_000));
    }

    #[test]
    fn token_jsonp_error() {
        let e = parse_token_body(
            "callback( {\"error\":100020,\"error_description\":\"code is reused error\"} );\n",
        )
        .unwrap_err();
        assert_eq!(
            e,
            WireError::Qq {
                code: 100020,
                description: "code is reused error".into()
            }
        );
    }

    #[test]
    fn token_plain_json_error() {
        let e = parse_token_body(
            r#"{"error":100019,"error_description":"code to access token error"}"#,
        )
        .unwrap_err();
        assert!(matches!(e, WireError::Qq { code: 100019, .. }));
    }

    #[test]
    fn token_code_msg_error() {
        let e = parse_token_body("code=100010&msg=redirect%20uri%20is%20illegal").unwrap_err();
        assert_eq!(
            e,
            WireError::Qq {
                code: 100010,
                description: "redirect uri is illegal".into()
            }
        );
    }

    #[test]
    fn token_garbage_is_malformed() {
        for body in [
            "",
            "<html>502 Bad Gateway</html>",
            "hello world",
            "{",
            "callback( nope );",
            "[1,2]",
            "access_token=&expires_in=1",
        ] {
            assert!(
                matches!(parse_token_body(body), Err(WireError::Malformed(_))),
                "{body:?}"
            );
        }
    }

    #[test]
    fn me_jsonp_with_spaces_and_newline() {
        let me = parse_me_body(
            "callback( {\"client_id\":\"101518219\",\"openid\":\"4F65D2442D41B0D1639FD7FC14123B11\"} );\n",
        )
        .unwrap();
        assert_eq!(me.client_id, "101518219");
        assert_eq!(me.openid, "4F65D2442D41B0D1639FD7FC14123B11");
        assert_eq!(me.unionid, None);
    }

    #[test]
    fn me_variants_without_spaces_semicolon_or_wrapper() {
        for body in [
            "callback({\"client_id\":\"1\",\"openid\":\"ABC\"})",
            "callback ({\"client_id\":\"1\",\"openid\":\"ABC\"});",
            "  callback(\n{\"client_id\":\"1\",\"openid\":\"ABC\"}\n);\r\n",
            "{\"client_id\":\"1\",\"openid\":\"ABC\"}",
        ] {
            assert_eq!(parse_me_body(body).unwrap().openid, "ABC", "{body:?}");
        }
    }

    #[test]
    fn me_with_unionid() {
        let me = parse_me_body(
            "callback( {\"client_id\":\"1\",\"openid\":\"ABC\",\"unionid\":\"UID\"} );\n",
        )
        .unwrap();
        assert_eq!(me.unionid.as_deref(), Some("UID"));
    }

    #[test]
    fn me_error_with_qqs_trailing_comma() {
        let e = parse_me_body(
            "callback( {\"error\":100016,\"error_description\":\"access token check failed\",} );\n",
        )
        .unwrap_err();
        assert_eq!(
            e,
            WireError::Qq {
                code: 100016,
                description: "access token check failed".into()
            }
        );
    }

    #[test]
    fn me_garbage_is_malformed() {
        for body in [
            "",
            "callback(",
            "callback( {\"openid\":\"A\"} );",
            "<html>",
            "null",
        ] {
            assert!(parse_me_body(body).is_err(), "{body:?}");
        }
    }

    #[test]
    fn trailing_comma_inside_a_string_is_kept() {
        let me = parse_me_body(r#"{"client_id":"1","openid":"A,}",}"#).unwrap();
        assert_eq!(me.openid, "A,}");
    }

    #[test]
    fn trailing_commas_go_around_escapes_and_chinese_text() {
        let info = parse_user_info(
            "{\"ret\":0,\"nickname\":\"小\\\"明,]\" , \"figureurl_qq_2\":\"http://q/100\",\n}",
        )
        .unwrap();
        assert_eq!(info.nickname.as_deref(), Some("小\"明,]"));
        assert_eq!(info.avatar_url.as_deref(), Some("http://q/100"));
        let e = parse_token_body(
            "callback( {\"error\":100019,\"error_description\":\"code换取失败\",\t\r\n} );",
        )
        .unwrap_err();
        assert_eq!(
            e,
            WireError::Qq {
                code: 100019,
                description: "code换取失败".into()
            }
        );
    }

    #[test]
    fn a_token_query_string_takes_the_first_of_a_repeated_key_and_decodes() {
        let g = parse_token_body("expires_in=60&access_token=A%2BB&x=1&access_token=C").unwrap();
        assert_eq!(g.access_token, "A+B");
        assert_eq!(g.expires_in, Some(60));
        assert_eq!(g.refresh_token, None);
    }

    #[test]
    fn user_info_success_and_errors() {
        let info = parse_user_info(
            r#"{"ret":0,"msg":"","nickname":"小明","gender":"男","figureurl":"http://qzapp.qlogo.cn/1","figureurl_1":"http://qzapp.qlogo.cn/50","figureurl_2":"http://qzapp.qlogo.cn/100","figureurl_qq_1":"http://thirdqq.qlogo.cn/40","figureurl_qq_2":"http://thirdqq.qlogo.cn/100","is_yellow_vip":"0","vip":"0"}"#,
        )
        .unwrap();
        assert_eq!(info.nickname.as_deref(), Some("小明"));
        assert_eq!(
            info.avatar_url.as_deref(),
            Some("http://thirdqq.qlogo.cn/100")
        );
        for (body, code) in [
            (r#"{"ret":-22,"msg":"openid is invalid"}"#, -22),
            (r#"{"ret":-23,"msg":"token is invalid"}"#, -23),
            (r#"{"ret":1002,"msg":"请先登录"}"#, 1002),
        ] {
            assert!(
                matches!(parse_user_info(body), Err(WireError::Qq { code: c, .. }) if c == code)
            );
        }
    }

    #[test]
    fn token_grant_debug_hides_the_token() {
        let g = parse_token_body("access_token=SECRETTOKEN&expires_in=1").unwrap();
        assert!(!format!("{g:?}").contains("SECRETTOKEN"));
    }
}
