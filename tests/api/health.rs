//! `GET /healthz` (spec section 9).

use crate::helpers::*;

async fn healthz_is_200_when_database_and_store_answer(kind: Setup) {
    let app = spawn_app(kind).await;
    let r = app.browser().get("/healthz").await;
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["status"], "ok");
    assert_eq!(v["database"], "ok");
    assert_eq!(v["code_store"], "ok");
    assert_eq!(
        v["code_store_kind"],
        if kind.store == StoreKind::Redis {
            "redis"
        } else {
            "memory"
        }
    );
}

crate::all_setups!(healthz_is_200_when_database_and_store_answer);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_is_503_naming_the_store_when_redis_is_down_and_codes_fail_fast() {
    if !Setup::REDIS.runs_here() {
        return;
    }
    let mut app = spawn_app(Setup::REDIS).await;
    app.create_user("13800138000", PASSWORD).await;
    let logged_in = app.logged_in("13800138000", PASSWORD).await;
    app.redis.as_mut().unwrap().stop();
    let b = app.browser();
    let r = b.get("/healthz").await;
    assert_eq!(r.status(), 503);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["database"], "ok");
    assert_eq!(v["code_store"], "down");
    // The code routes answer 503 instead of hanging or failing with a 500.
    let r = b
        .get(&format!("/image_codes/{}/", uuid::Uuid::new_v4()))
        .await;
    assert_eq!(r.status(), 503);
    let r = b
        .get(&format!(
            "/sms_codes/13800138000/?image_code=abcd&image_code_id={}",
            uuid::Uuid::new_v4()
        ))
        .await;
    assert_eq!(r.status(), 503);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["errmsg"], "服务暂时不可用，请稍后再试");
    let r = b
        .get(&format!(
            "/api/sms_codes/13800138000/?image_code=abcd&image_code_id={}",
            uuid::Uuid::new_v4()
        ))
        .await;
    assert_eq!(r.status(), 503);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["code"], "5000");
    let r = b.get("/qq/authorize/?next=/").await;
    assert_eq!(r.status(), 503, "a QQ login needs its state stored");
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("服务暂时不可用，请稍后再试"));

    // Pages keep working, and the user centre (read-only: its session is trusted on
    // its own facts meanwhile). What protects accounts fails closed: a password login
    // is refused, not let through unlimited, and so is a change.
    assert_eq!(b.get("/login/").await.status(), 200);
    assert_eq!(b.get("/register/").await.status(), 200);
    assert_unavailable(b.post_login("13800138000", PASSWORD).await).await;
    assert!(!b.is_logged_in().await);
    assert_eq!(logged_in.get("/info/").await.status(), 200);
    let csrf = logged_in.csrf_from("/info/").await;
    let r = logged_in
        .post_form(
            "/info/qq/unbind/",
            &[("csrf_token", &csrf), ("confirm", "yes")],
        )
        .await;
    assert_eq!(
        r.status(),
        503,
        "a change needs a session the store vouches for"
    );

    // Logout still works, and leaves no live copy: the store cannot be told, so every
    // session of the account ends (its epoch is raised).
    let copy = logged_in.cookie_header();
    let r = logged_in
        .post_form("/logout/", &[("csrf_token", &csrf)])
        .await;
    assert_is_redirect_to(&r, "/login/");
    assert!(!logged_in.is_logged_in().await);
    assert_eq!(
        replay_cookie(&app.base, &copy, "/info/").await,
        302,
        "the logged-out copy is not logged in"
    );
    let user = app.user_by_mobile("13800138000").await.unwrap();
    assert_eq!(user.session_epoch, 1);
}
