//! The customer's own account: `/info/password/` and `/info/export/`.

use serde_json::Value;

use crate::helpers::*;

const MOBILE: &str = "13800138000";
const NEW: &str = "newpass2026";

async fn post_change(b: &Browser, old: &str, new: &str, new2: &str) -> reqwest::Response {
    let csrf = b.csrf_from("/info/password/").await;
    b.post_form(
        "/info/password/",
        &[
            ("old_password", old),
            ("password", new),
            ("password2", new2),
            ("csrf_token", &csrf),
        ],
    )
    .await
}

async fn a_password_change_keeps_this_session_and_ends_the_others(kind: Setup) {
    let app = spawn_app(kind).await;
    let user = app.create_user(MOBILE, PASSWORD).await;
    let here = app.logged_in(MOBILE, PASSWORD).await;
    let elsewhere = app.logged_in(MOBILE, PASSWORD).await;
    let r = post_change(&here, PASSWORD, NEW, NEW).await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/info/");
    let info = here.get("/info/").await;
    assert_eq!(info.status(), 200, "this browser stays logged in");
    assert!(info.text().await.unwrap().contains("密码已修改"));
    assert!(!elsewhere.is_logged_in().await, "the other session ended");
    assert_eq!(app.browser().post_login(MOBILE, NEW).await.status(), 302);
    assert_eq!(
        app.browser().post_login(MOBILE, PASSWORD).await.status(),
        400
    );
    assert!(app
        .audit_actions(user.id)
        .await
        .contains(&"password_changed".to_owned()));
}

async fn every_refusal_is_a_400_by_field_and_changes_nothing(kind: Setup) {
    let app = spawn_app(kind).await;
    let user = app.create_user(MOBILE, PASSWORD).await;
    let b = app.logged_in(MOBILE, PASSWORD).await;
    for (old, new, new2, slot, message) in [
        ("", NEW, NEW, "form-error", "缺少必传参数"),
        ("wrongpass1", NEW, NEW, "old_password-error", "原密码错误"),
        (
            PASSWORD,
            "short",
            "short",
            "password-error",
            "请输入8-20位的密码",
        ),
        (
            PASSWORD,
            NEW,
            "newpass2027",
            "password2-error",
            "两次密码不一致",
        ),
        (
            PASSWORD,
            PASSWORD,
            PASSWORD,
            "password-error",
            "新密码不能与原密码相同",
        ),
    ] {
        let r = post_change(&b, old, new, new2).await;
        assert_eq!(r.status(), 400, "{message}");
        let page = r.text().await.unwrap();
        assert_eq!(slot_message(&page, slot).as_deref(), Some(message));
        assert!(
            !page.contains(NEW) && !page.contains(PASSWORD),
            "never echoed"
        );
    }
    // No CSRF token: 403. Anonymous: to the login page.
    let r = b
        .post_form(
            "/info/password/",
            &[
                ("old_password", PASSWORD),
                ("password", NEW),
                ("password2", NEW),
            ],
        )
        .await;
    assert_eq!(r.status(), 403);
    assert_eq!(app.browser().get("/info/password/").await.status(), 302);
    assert_eq!(app.user(user.id).await.password, user.password);
    assert!(b.is_logged_in().await);
}

async fn wrong_old_passwords_are_limited_as_logins(kind: Setup) {
    let app = spawn_app(kind).await;
    app.create_user(MOBILE, PASSWORD).await;
    let b = app.logged_in(MOBILE, PASSWORD).await;
    let csrf = b.csrf_from("/info/password/").await;
    // A stolen session guessing the old password, many at once: at most the login limit
    // (5 per account and network) is checked.
    let answers = futures::future::join_all((0..20).map(|i| {
        let (b, csrf) = (b.clone(), csrf.clone());
        async move {
            let guess = format!("guess{i:04}x");
            b.post_form(
                "/info/password/",
                &[
                    ("old_password", guess.as_str()),
                    ("password", NEW),
                    ("password2", NEW),
                    ("csrf_token", &csrf),
                ],
            )
            .await
            .status()
            .as_u16()
        }
    }))
    .await;
    let checked = answers.iter().filter(|s| **s == 400).count();
    assert!(checked <= 5, "{answers:?}");
    assert!(
        answers.iter().all(|s| *s == 400 || *s == 429),
        "{answers:?}"
    );
    assert_eq!(
        post_change(&b, PASSWORD, NEW, NEW).await.status(),
        429,
        "locked for the window"
    );
}

async fn the_data_file_holds_the_account_and_no_secret(kind: Setup) {
    let app = spawn_app(kind).await;
    app.bind_new_account(OPENID, MOBILE).await;
    let user = app.user_by_mobile(MOBILE).await.unwrap();
    let b = app.logged_in(MOBILE, PASSWORD).await;
    let r = b.get("/info/export/").await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-disposition"],
        format!("attachment; filename=\"qqbind-my-data-{}.json\"", user.id).as_str()
    );
    let text = r.text().await.unwrap();
    let data: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(data["account"]["id"], user.id);
    assert_eq!(data["account"]["mobile"], MOBILE);
    assert_eq!(data["account"]["username"], MOBILE);
    assert_eq!(data["identities"][0]["provider"], "qq");
    assert_eq!(data["identities"][0]["openid"], OPENID);
    let actions: Vec<&str> = data["audit_log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"user_created_by_qq") && actions.contains(&"qq_bind"),
        "{actions:?}"
    );
    assert!(!text.contains(&user.password), "no password hash");
    assert!(!text.contains("$2b$") && !text.contains("$2y$"));
    assert_eq!(
        app.browser().get("/info/export/").await.status(),
        302,
        "login required"
    );
}

crate::all_setups!(
    a_password_change_keeps_this_session_and_ends_the_others,
    every_refusal_is_a_400_by_field_and_changes_nothing,
    wrong_old_passwords_are_limited_as_logins,
    the_data_file_holds_the_account_and_no_secret,
);
