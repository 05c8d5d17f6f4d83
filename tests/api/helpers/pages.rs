//! Reading pages and answers: values, messages, redirects, cookies.

use reqwest::redirect::Policy;

pub fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

pub fn between<'a>(s: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = s.find(start)? + start.len();
    let len = s[from..].find(end)?;
    Some(&s[from..from + len])
}

/// The `value` of the `<input name="…">` in `page`, whatever the attribute order.
pub fn input_value(page: &str, name: &str) -> Option<String> {
    let needle = format!("name=\"{name}\"");
    page.split("<input").skip(1).find_map(|rest| {
        let tag = &rest[..rest.find('>')?];
        tag.contains(&needle)
            .then(|| between(tag, "value=\"", "\"").unwrap_or("").to_owned())
    })
}

/// The message shown in the slot with this id (e.g. `sms-code-error`).
pub fn slot_message(page: &str, id: &str) -> Option<String> {
    between(page, &format!("id=\"{id}\" role=\"alert\">"), "<").map(str::to_owned)
}

/// A 503 with the page's "service unavailable" message.
pub async fn assert_unavailable(r: reqwest::Response) {
    assert_eq!(r.status(), 503);
    let page = r.text().await.unwrap();
    assert!(page.contains("服务暂时不可用，请稍后再试"), "{page}");
}

/// A copy of a session cookie, sent to `path` from a client of its own.
pub async fn replay_cookie(base: &str, cookie: &str, path: &str) -> reqwest::StatusCode {
    get_with_cookie(base, cookie, path).await.status()
}

pub fn assert_is_redirect_to(r: &reqwest::Response, location: &str) {
    assert_eq!(r.status(), 302, "expected a redirect to {location}");
    assert_eq!(r.headers()["location"].to_str().unwrap(), location);
}

/// The `Set-Cookie` header for `name`, if the response sets it.
pub fn set_cookie(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

pub const OPENID: &str = "4F65D2442D41B0D1639FD7FC14123B11";
pub const OPENID_2: &str = "0A1B2C3D4E5F60718293A4B5C6D7E8F9";

/// The session cookie as the server wrote it, decrypted: its keys and their JSON values.
pub fn session_state(secret: &str, cookie: &str) -> std::collections::HashMap<String, String> {
    use actix_web::cookie::{Cookie, CookieJar, Key};
    let sent = cookie
        .split("; ")
        .find(|c| c.starts_with("qqbind_session="))
        .expect("a session cookie");
    let mut jar = CookieJar::new();
    jar.add_original(Cookie::parse_encoded(sent.to_owned()).unwrap());
    let plain = jar
        .private(&Key::derive_from(secret.as_bytes()))
        .get("qqbind_session")
        .expect("a cookie this server encrypted");
    serde_json::from_str(plain.value()).unwrap()
}

/// `state` encrypted as the server encrypts a session cookie.
pub fn session_cookie(secret: &str, state: &std::collections::HashMap<String, String>) -> String {
    use actix_web::cookie::{Cookie, CookieJar, Key};
    let mut jar = CookieJar::new();
    jar.private_mut(&Key::derive_from(secret.as_bytes()))
        .add(Cookie::new(
            "qqbind_session",
            serde_json::to_string(state).unwrap(),
        ));
    format!(
        "qqbind_session={}",
        jar.get("qqbind_session").unwrap().value()
    )
}

/// A form sent from the cookie `cookie` (no cookie jar: the test says which cookie the
/// browser kept).
pub async fn post_with_cookie(
    base: &str,
    cookie: &str,
    path: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{base}{path}"))
        .header("cookie", cookie)
        .form(form)
        .send()
        .await
        .unwrap()
}

/// The session cookie a browser holds after answer `r` to a request sent with `sent`.
pub fn kept_cookie(r: &reqwest::Response, sent: &str) -> String {
    match set_cookie(r, "qqbind_session") {
        Some(c) => c.split(';').next().unwrap().to_owned(),
        None => sent.to_owned(),
    }
}

/// `GET path` with the cookie `cookie` (no cookie jar: the test says which cookie the
/// browser holds), redirects not followed.
pub async fn get_with_cookie(base: &str, cookie: &str, path: &str) -> reqwest::Response {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
        .get(format!("{base}{path}"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
}

/// The `state` in a `GET /qq/login/` answer (200, its `login_url`).
pub async fn state_of(r: reqwest::Response) -> String {
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    let url = url::Url::parse(body["login_url"].as_str().unwrap()).unwrap();
    url.query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .unwrap()
}
