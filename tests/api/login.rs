//! `/login/`, `/logout/`, `/info/` (spec section 6, the parts of the core flow).

use crate::helpers::*;
use sha2::Digest;

const MOBILE: &str = "13800138000";

async fn login(
    b: &Browser,
    next: &str,
    username: &str,
    password: &str,
    remembered: bool,
) -> reqwest::Response {
    let csrf = b.csrf_from("/login/").await;
    let mut fields = vec![
        ("username", username),
        ("password", password),
        ("csrf_token", csrf.as_str()),
    ];
    if remembered {
        fields.push(("remembered", "1"));
    }
    b.post_form(&format!("/login/?next={}", urlencode(next)), &fields)
        .await
}

async fn the_login_page_has_the_qq_button_and_a_csrf_token(kind: Setup) {
    let app = spawn_app(kind).await;
    let b = app.browser();
    let r = b.get("/login/?next=/info/").await;
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert!(page.contains("QQ登录"));
    assert!(
        page.contains("href=\"/qq/authorize/?next=%2Finfo%2F\""),
        "QQ button keeps next"
    );
    assert!(input_value(&page, "csrf_token").is_some());
    assert!(page.contains("记住登录"));
}

async fn login_by_username_or_mobile(kind: Setup) {
    let app = spawn_app(kind).await;
    let user = app.create_user(MOBILE, "rightpass1").await;
    for name in [user.username.as_str(), MOBILE] {
        let b = app.browser();
        let r = login(&b, "/info/", name, "rightpass1", false).await;
        assert_is_redirect_to(&r, "/info/");
        let cookie = set_cookie(&r, "username").unwrap();
        assert!(cookie.contains("Max-Age=1296000"));
        let session = set_cookie(&r, "qqbind_session").unwrap();
        assert!(
            !session.contains("Max-Age"),
            "ends with the browser: {session}"
        );
        assert!(b.is_logged_in().await);
    }
}

async fn remembered_login_lasts_14_days(kind: Setup) {
    let app = spawn_app(kind).await;
    app.create_user(MOBILE, "rightpass1").await;
    let b = app.browser();
    let r = login(&b, "/", MOBILE, "rightpass1", true).await;
    assert_eq!(r.status(), 302);
    let session = set_cookie(&r, "qqbind_session").unwrap();
    assert!(session.contains("Max-Age=1209600"), "{session}");
}

async fn a_wrong_password_or_unknown_user_says_the_same(kind: Setup) {
    let app = spawn_app(kind).await;
    app.create_user(MOBILE, "rightpass1").await;
    let b = app.browser();
    for (name, pw) in [
        (MOBILE, "wrongpass1"),
        ("13999999999", "rightpass1"),
        ("nobody", "x"),
        // No stored name holds a NUL (PostgreSQL's text cannot): unknown, not an error.
        ("nul\0name", "rightpass1"),
    ] {
        let r = login(&b, "/", name, pw, false).await;
        assert_eq!(r.status(), 400);
        let page = r.text().await.unwrap();
        assert_eq!(
            slot_message(&page, "account-error").as_deref(),
            Some("用户名或密码错误")
        );
        // Shown back as typed, less the control characters.
        let shown = name.replace('\0', "");
        assert_eq!(input_value(&page, "username"), Some(shown));
        assert!(!page.contains('\0'));
        assert!(!b.is_logged_in().await);
    }
}

async fn login_without_csrf_is_forbidden(kind: Setup) {
    let app = spawn_app(kind).await;
    app.create_user(MOBILE, "rightpass1").await;
    let b = app.browser();
    b.get("/login/").await;
    let r = b
        .post_form(
            "/login/",
            &[("username", MOBILE), ("password", "rightpass1")],
        )
        .await;
    assert_eq!(r.status(), 403);
    assert!(!b.is_logged_in().await);
}

async fn login_never_redirects_off_site(kind: Setup) {
    let app = spawn_app(kind).await;
    app.create_user(MOBILE, "rightpass1").await;
    let r = login(
        &app.browser(),
        "//evil.example/",
        MOBILE,
        "rightpass1",
        false,
    )
    .await;
    assert_is_redirect_to(&r, "/");
}

async fn the_user_centre_needs_a_login(kind: Setup) {
    let app = spawn_app(kind).await;
    let r = app.browser().get("/info/").await;
    assert_is_redirect_to(&r, "/login/?next=/info/");
}

async fn logout_ends_the_session_even_for_a_copied_cookie(kind: Setup) {
    let app = spawn_app(kind).await;
    app.create_user(MOBILE, "rightpass1").await;
    let b = app.browser();
    assert_eq!(
        login(&b, "/", MOBILE, "rightpass1", false).await.status(),
        302
    );
    let stolen = b.cookie_header();
    let csrf = b.csrf_from("/info/").await;

    // Without the CSRF token: refused, still logged in.
    assert_eq!(b.post_form("/logout/", &[]).await.status(), 403);
    assert!(b.is_logged_in().await);

    let r = b.post_form("/logout/", &[("csrf_token", &csrf)]).await;
    assert_is_redirect_to(&r, "/login/");
    let removal = set_cookie(&r, "username").unwrap();
    assert!(removal.contains("Max-Age=0"), "{removal}");
    assert!(!b.is_logged_in().await);

    let replay = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}/info/", app.base))
        .header("cookie", stolen)
        .send()
        .await
        .unwrap();
    assert_eq!(
        replay.status(),
        302,
        "a replayed old cookie is not logged in"
    );
}

/// A login is one session key now (`login`); a cookie written before, with the login's
/// facts a key each, is still logged in, and is rewritten to the one key. One that lacks
/// a fact is not logged in, as before.
async fn a_session_written_before_the_one_login_key_stays_logged_in(kind: Setup) {
    let app = spawn_app(kind).await;
    app.create_user(MOBILE, "rightpass1").await;
    let b = app.logged_in(MOBILE, "rightpass1").await;
    let secret = app.state.settings.secret_key.expose().to_owned();
    let mut state = session_state(&secret, &b.cookie_header());
    assert!(!state.contains_key("uid"), "{state:?}");
    let (uid, iat, seen, epoch): (i32, i64, i64, i32) =
        serde_json::from_str(&state.remove("login").expect("the one login key")).unwrap();
    for (k, v) in [
        ("uid", uid.to_string()),
        ("iat", iat.to_string()),
        ("seen", seen.to_string()),
        ("epoch", epoch.to_string()),
    ] {
        state.insert(k.to_owned(), v);
    }
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let get_info = |cookie: String| {
        client
            .get(format!("{}/info/", app.base))
            .header("cookie", cookie)
            .send()
    };

    let r = get_info(session_cookie(&secret, &state)).await.unwrap();
    assert_eq!(r.status(), 200, "the old cookie is still logged in");
    let rewritten = set_cookie(&r, "qqbind_session").expect("the session rewritten");
    let now = session_state(&secret, rewritten.split(';').next().unwrap());
    assert!(now.contains_key("login"), "{now:?}");
    for old in ["uid", "iat", "seen", "epoch"] {
        assert!(!now.contains_key(old), "{old} left in {now:?}");
    }

    state.remove("iat");
    let r = get_info(session_cookie(&secret, &state)).await.unwrap();
    assert_is_redirect_to(&r, "/login/?next=/info/");
}

/// Right after a login, two tabs opened at the same instant (the user centre and the
/// password page) both go out with the cookie the login set. Whichever answer's cookie
/// the browser keeps, both tabs' forms are accepted. (A CSRF seed made by the first page
/// with a form raced: each tab made its own, and the tab whose cookie was not kept got
/// 403.)
async fn two_tabs_opened_at_once_after_a_login_both_post(kind: Setup) {
    let app = spawn_app(kind).await;
    app.create_user(MOBILE, "rightpass1").await;
    let b = app.logged_in(MOBILE, "rightpass1").await;
    let after_login = b.cookie_header();
    let (info, password) = tokio::join!(
        get_with_cookie(&app.base, &after_login, "/info/"),
        get_with_cookie(&app.base, &after_login, "/info/password/"),
    );
    assert_eq!(
        (info.status().as_u16(), password.status().as_u16()),
        (200, 200)
    );
    let kept_after_info = kept_cookie(&info, &after_login);
    let kept_after_password = kept_cookie(&password, &after_login);
    let info_token = input_value(&info.text().await.unwrap(), "csrf_token").unwrap();
    let password_token = input_value(&password.text().await.unwrap(), "csrf_token").unwrap();

    // The password tab's form, the user centre's cookie kept: checked, not refused.
    let r = post_with_cookie(
        &app.base,
        &kept_after_info,
        "/info/password/",
        &[
            ("old_password", "wrongpass1"),
            ("password", "newpass2026"),
            ("password2", "newpass2026"),
            ("csrf_token", &password_token),
        ],
    )
    .await;
    assert_eq!(r.status(), 400);
    let page = r.text().await.unwrap();
    assert_eq!(
        slot_message(&page, "old_password-error").as_deref(),
        Some("原密码错误")
    );
    // The user centre's logout, the password tab's cookie kept.
    let r = post_with_cookie(
        &app.base,
        &kept_after_password,
        "/logout/",
        &[("csrf_token", &info_token)],
    )
    .await;
    assert_is_redirect_to(&r, "/login/");
    assert!(!b.is_logged_in().await, "logged out");
}

/// A page that only shows something leaves the session cookie as it is: no rewrite to
/// race another tab's answer (which would put back the cookie that answer replaced, a
/// notice or a pending login lost). A notice is removed once, when it is shown.
async fn looking_at_a_page_leaves_the_session_cookie_alone(kind: Setup) {
    let app = spawn_app(kind).await;
    app.create_user(MOBILE, "rightpass1").await;
    let b = app.logged_in(MOBILE, "rightpass1").await;
    for path in ["/", "/info/", "/info/password/", "/info/delete/", "/info/"] {
        let r = b.get(path).await;
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(set_cookie(&r, "qqbind_session"), None, "{path}");
    }

    let csrf = b.csrf_from("/info/").await;
    let r = b.post_form("/logout/", &[("csrf_token", &csrf)]).await;
    assert_is_redirect_to(&r, "/login/");
    let first = b.get("/login/").await;
    assert!(
        set_cookie(&first, "qqbind_session").is_some(),
        "the notice taken, the form's session made"
    );
    let again = b.get("/login/").await;
    assert_eq!(again.status(), 200);
    assert_eq!(set_cookie(&again, "qqbind_session"), None);
}

/// A cookie written before CSRF tokens were signed from the session's id carries a seed
/// of its own: a form open across the upgrade is still accepted, until the next login.
async fn a_session_with_a_csrf_seed_of_its_own_keeps_it_until_the_next_login(kind: Setup) {
    let app = spawn_app(kind).await;
    app.create_user(MOBILE, "rightpass1").await;
    let b = app.logged_in(MOBILE, "rightpass1").await;
    let secret = app.state.settings.secret_key.expose().to_owned();
    let mut state = session_state(&secret, &b.cookie_header());
    assert!(!state.contains_key("csrf"), "{state:?}");
    let seed = "0123456789abcdef0123456789abcdef";
    state.insert("csrf".to_owned(), serde_json::to_string(seed).unwrap());
    let old = session_cookie(&secret, &state);
    let old_token = app.state.signer.csrf_token(seed);

    let page = get_with_cookie(&app.base, &old, "/info/").await;
    let page = page.text().await.unwrap();
    assert_eq!(
        input_value(&page, "csrf_token").as_deref(),
        Some(old_token.as_str()),
        "pages of that session still carry its seed's token"
    );
    let r = post_with_cookie(&app.base, &old, "/logout/", &[("csrf_token", &old_token)]).await;
    assert_is_redirect_to(&r, "/login/");

    // The next login drops it: its tokens no longer pass.
    let b = app.logged_in(MOBILE, "rightpass1").await;
    assert!(!session_state(&secret, &b.cookie_header()).contains_key("csrf"));
    let r = b
        .post_form("/logout/", &[("csrf_token", old_token.as_str())])
        .await;
    assert_eq!(r.status(), 403);
    assert!(b.is_logged_in().await);
}

async fn unknown_pages_are_404_and_wrong_methods_are_4xx(kind: Setup) {
    let app = spawn_app(kind).await;
    let b = app.browser();
    let r = b.get("/no/such/page/").await;
    assert_eq!(r.status(), 404);
    assert!(r.text().await.unwrap().contains("您访问的页面不存在"));
    assert_eq!(
        b.get("/dev/qq/oauth2.0/authorize").await.status(),
        404,
        "no simulator with a real QQ"
    );
    let r = b
        .client
        .delete(format!("{}/login/", app.base))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error());
    let r = b.get("/qq/login/?next=%FF%FE").await;
    assert!(r.status().is_success() || r.status().is_client_error());
}

async fn every_static_asset_a_page_references_is_served(kind: Setup) {
    let app = spawn_app(kind).await;
    let b = app.browser();
    let mut pages = vec![b.get("/login/").await.text().await.unwrap()];
    let state = b.start_qq_login("/").await;
    pages.push(
        b.callback(&format!("code-{OPENID}"), &state)
            .await
            .text()
            .await
            .unwrap(),
    );
    let mut seen = 0;
    for page in &pages {
        for attr in ["href=\"/static/", "src=\"/static/"] {
            for rest in page.split(attr).skip(1) {
                let path = format!("/static/{}", &rest[..rest.find('"').unwrap()]);
                let r = b.get(&path).await;
                assert_eq!(r.status(), 200, "{path}");
                seen += 1;
                // The stylesheet and the script are named by their content's version:
                // kept a year, since a new deploy's pages name a new URL.
                if path.contains(".css") || path.contains(".js") {
                    let cache = r.headers()["cache-control"].to_str().unwrap().to_owned();
                    let (_, v) = path
                        .split_once("?v=")
                        .unwrap_or_else(|| panic!("{path}: not versioned"));
                    let body = r.bytes().await.unwrap();
                    let digest = sha2::Sha256::digest(&body);
                    let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
                    assert_eq!(v, hex, "{path}: the version is the content's");
                    assert_eq!(cache, "public, max-age=31536000, immutable");
                    let (file, _) = path.split_once('?').unwrap();
                    let r = b.get(&format!("{file}?v=000000000000")).await;
                    assert_eq!(r.headers()["cache-control"], "public, max-age=3600");
                }
            }
        }
    }
    assert!(seen >= 4, "css, favicon, QQ icon and script are referenced");
    assert_eq!(b.get("/favicon.ico").await.status(), 200);
}

/// Moves `user_id`'s recorded `last_login` `seconds` into the past.
async fn age_last_login(app: &TestApp, user_id: i32, seconds: i64) -> chrono::NaiveDateTime {
    use diesel::prelude::*;
    use qqbind::db::schema::tb_users;
    let at = qqbind::db::now() - chrono::Duration::seconds(seconds);
    app.state
        .db
        .write(move |c| {
            diesel::update(tb_users::table.find(user_id))
                .set(tb_users::last_login.eq(Some(at)))
                .execute(c)?;
            Ok(())
        })
        .await
        .unwrap();
    app.user(user_id).await.last_login.unwrap()
}

/// `last_login` is kept to the minute, by password and by QQ: a login within a minute of
/// the recorded one writes nothing; an older one is replaced.
async fn last_login_is_recorded_to_the_minute(kind: Setup) {
    let app = spawn_app(kind).await;
    app.bind_new_account("A1B2C3D4E5F60718293A4B5C6D7E8F90", MOBILE)
        .await;
    let user = app.user_by_mobile(MOBILE).await.unwrap();
    let first = user.last_login.expect("binding logs in");

    let r = login(&app.browser(), "/", MOBILE, PASSWORD, false).await;
    assert_is_redirect_to(&r, "/");
    assert_eq!(
        app.user(user.id).await.last_login,
        Some(first),
        "within the minute"
    );

    for how in ["password", "QQ"] {
        let old = age_last_login(&app, user.id, 61).await;
        let b = app.browser();
        if how == "password" {
            assert_is_redirect_to(&login(&b, "/", MOBILE, PASSWORD, false).await, "/");
        } else {
            let state = b.start_qq_login("/").await;
            let r = b
                .callback("code-A1B2C3D4E5F60718293A4B5C6D7E8F90", &state)
                .await;
            assert_is_redirect_to(&r, "/");
        }
        let now = app.user(user.id).await.last_login.unwrap();
        assert!(now > old, "{how}: a minute-old last_login is replaced");
        // And at once again: nothing changes.
        let state = b.start_qq_login("/").await;
        let r = b
            .callback("code-A1B2C3D4E5F60718293A4B5C6D7E8F90", &state)
            .await;
        assert_is_redirect_to(&r, "/");
        assert_eq!(app.user(user.id).await.last_login, Some(now), "{how}");
    }
}

crate::all_setups!(
    last_login_is_recorded_to_the_minute,
    every_static_asset_a_page_references_is_served,
    the_login_page_has_the_qq_button_and_a_csrf_token,
    login_by_username_or_mobile,
    remembered_login_lasts_14_days,
    a_wrong_password_or_unknown_user_says_the_same,
    login_without_csrf_is_forbidden,
    login_never_redirects_off_site,
    the_user_centre_needs_a_login,
    logout_ends_the_session_even_for_a_copied_cookie,
    a_session_written_before_the_one_login_key_stays_logged_in,
    two_tabs_opened_at_once_after_a_login_both_post,
    looking_at_a_page_leaves_the_session_cookie_alone,
    a_session_with_a_csrf_seed_of_its_own_keeps_it_until_the_next_login,
    unknown_pages_are_404_and_wrong_methods_are_4xx,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_method_is_405() {
    let app = spawn_app(Setup::MEMORY).await;
    let b = app.browser();
    assert_eq!(b.get("/logout/").await.status(), 405);
    let r = b
        .client
        .post(format!("{}/info/", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    let r = b
        .client
        .put(format!("{}/oauth_callback/", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
}
