//! Faults of the database: a held write lock is waited for (bounded), then a clear 503.

use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::Connection;

use crate::helpers::*;

async fn a_locked_database_answers_503_after_a_bounded_wait_then_recovers(kind: StoreKind) {
    let app = spawn_app_with(kind, |s| s.db_busy_timeout = Duration::from_millis(300)).await;
    app.create_user("13800138000", PASSWORD).await;
    let b = app.browser();
    let csrf = b.csrf_from("/login/").await;
    let fields = [
        ("username", "13800138000"),
        ("password", PASSWORD),
        ("csrf_token", csrf.as_str()),
    ];
    let login = || b.post_form("/login/", &fields);

    // Another process holds SQLite's write lock.
    let mut other = diesel::SqliteConnection::establish(&app.db_path.to_string_lossy()).unwrap();
    other.batch_execute("BEGIN IMMEDIATE").unwrap();

    let started = Instant::now();
    let r = login().await;
    assert_eq!(r.status(), 503);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("服务暂时不可用，请稍后再试"));
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "bounded: {:?}",
        started.elapsed()
    );
    // Reading still works meanwhile (WAL).
    assert_eq!(b.get("/login/").await.status(), 200);
    assert_eq!(b.get("/healthz").await.status(), 200);

    other.batch_execute("ROLLBACK").unwrap();
    assert_is_redirect_to(&login().await, "/");
}

crate::both_stores!(a_locked_database_answers_503_after_a_bounded_wait_then_recovers);
