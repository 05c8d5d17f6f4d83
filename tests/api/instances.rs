//! Two qqbind instances behind one load balancer: one database (PostgreSQL, or one
//! SQLite file), one Redis, one SECRET_KEY. Each step of a customer's journey goes to the other instance than the step
//! before, and the journey completes: nothing that matters lives in one process.

use qqbind::startup::Application;

use qqbind::db::Backend;

use crate::helpers::*;

/// A second instance beside `app`: same settings (database, Redis, key, QQ), own port.
async fn second_instance(app: &TestApp) -> String {
    let settings = test_settings(
        &app.database_url,
        Some(app.redis.as_ref().unwrap().url()),
        &app.qq.url,
    );
    let other = Application::build(settings).await.expect("second instance");
    let base = format!("http://127.0.0.1:{}", other.port());
    tokio::spawn(other.run_until_stopped());
    base
}

async fn every_step_on_the_other_instance_still_completes_the_journey(db: Backend) {
    if !Setup::REDIS.on(db).runs_here() {
        return;
    }
    let app = spawn_app(Setup::REDIS.on(db)).await;
    let b_base = second_instance(&app).await;
    let a = app.browser();
    // The same browser (one cookie jar) pointed at the other instance.
    let b = Browser {
        base: b_base,
        ..a.clone()
    };

    // A: start the QQ login. B: QQ sends the browser back.
    let state = a.start_qq_login("/info/").await;
    let r = b.callback(&format!("code-{OPENID}"), &state).await;
    assert_eq!(r.status(), 200, "B knows A's state");
    let page = r.text().await.unwrap();
    let form = BindForm {
        csrf_token: input_value(&page, "csrf_token").unwrap(),
        access_token: input_value(&page, "access_token").unwrap(),
        image_code_id: input_value(&page, "image_code_id").unwrap(),
    };

    // A: the captcha picture. B: the SMS code with it. (The outbox is per process: the
    // code is read from the shared store, as a phone would receive it.)
    let r = a
        .get(&format!("/image_codes/{}/", form.image_code_id))
        .await;
    assert_eq!(r.status(), 200);
    let text = app
        .codes()
        .get(&qqbind::codes::keys::image(&form.image_code_id))
        .await
        .unwrap()
        .unwrap();
    let r = b
        .get(&format!(
            "/sms_codes/13800138000/?image_code={text}&image_code_id={}",
            form.image_code_id
        ))
        .await;
    assert_eq!(r.status(), 200, "B checks A's captcha");
    let sms = app
        .codes()
        .get(&qqbind::codes::keys::sms("13800138000"))
        .await
        .unwrap()
        .unwrap();

    // A: the bind. B: the user centre.
    let r = a.post_bind(&form, "13800138000", PASSWORD, &sms).await;
    assert_is_redirect_to(&r, "/info/");
    let r = b.get("/info/").await;
    assert_eq!(r.status(), 200, "B knows A's session");
    assert!(r.text().await.unwrap().contains("已绑定QQ"));

    // B: log out. A: the old cookie, replayed, is not logged in.
    let old_cookie = a.cookie_header();
    let csrf = b.csrf_from("/info/").await;
    let r = b.post_form("/logout/", &[("csrf_token", &csrf)]).await;
    assert_is_redirect_to(&r, "/login/");
    let replay = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}/info/", app.base))
        .header("cookie", old_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 302, "A honours B's logout");

    // The abuse limits count across instances too.
    let user = app.user_by_mobile("13800138000").await.unwrap();
    for (i, browser) in [&a, &b].iter().cycle().take(5).enumerate() {
        let csrf = browser.csrf_from("/login/").await;
        let r = browser
            .post_form(
                "/login/",
                &[
                    ("username", user.username.as_str()),
                    ("password", "wrongpass1"),
                    ("csrf_token", &csrf),
                ],
            )
            .await;
        assert_eq!(r.status(), 400, "attempt {i}");
    }
    let csrf = a.csrf_from("/login/").await;
    let r = a
        .post_form(
            "/login/",
            &[
                ("username", user.username.as_str()),
                ("password", PASSWORD),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(
        r.status(),
        429,
        "5 failures spread over A and B lock the account"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_postgres_and_redis() {
    every_step_on_the_other_instance_still_completes_the_journey(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_sqlite_file_and_redis() {
    every_step_on_the_other_instance_still_completes_the_journey(Backend::Sqlite).await;
}
