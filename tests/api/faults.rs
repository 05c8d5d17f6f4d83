//! Faults of the database: a held lock is waited for (bounded), then a clear 503.

use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::Connection;

use qqbind::db::Backend;

use crate::helpers::*;

/// Another client holds the lock a login's write needs: SQLite's write lock (another
/// process on the file), or on PostgreSQL the account's row.
pub enum HeldLock {
    Sqlite(diesel::SqliteConnection),
    Postgres(diesel::PgConnection),
}

impl HeldLock {
    pub fn take(app: &TestApp, mobile: &str) -> Self {
        match app.setup.db {
            Backend::Sqlite => {
                let mut c = diesel::SqliteConnection::establish(&app.database_url).unwrap();
                c.batch_execute("BEGIN IMMEDIATE").unwrap();
                Self::Sqlite(c)
            }
            Backend::Postgres => {
                let mut c = diesel::PgConnection::establish(&app.database_url).unwrap();
                c.batch_execute(&format!(
                    "BEGIN; SELECT id FROM tb_users WHERE mobile = '{mobile}' FOR UPDATE;"
                ))
                .unwrap();
                Self::Postgres(c)
            }
        }
    }

    pub fn release(self) {
        match self {
            Self::Sqlite(mut c) => c.batch_execute("ROLLBACK").unwrap(),
            Self::Postgres(mut c) => c.batch_execute("ROLLBACK").unwrap(),
        }
    }
}

async fn a_locked_database_answers_503_after_a_bounded_wait_then_recovers(kind: Setup) {
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

    let held = HeldLock::take(&app, "13800138000");

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
    // Reading still works meanwhile (SQLite's WAL; PostgreSQL's MVCC).
    assert_eq!(b.get("/login/").await.status(), 200);
    assert_eq!(b.get("/healthz").await.status(), 200);

    held.release();
    assert_is_redirect_to(&login().await, "/");
}

crate::all_setups!(a_locked_database_answers_503_after_a_bounded_wait_then_recovers);

/// Redis stalls (every client paused for 6 s): the code routes give a fast 503, one
/// request pays the 2 s timeout at most, and everything else keeps working.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_redis_gives_fast_503s_on_code_routes_and_nothing_else_waits() {
    if !Setup::REDIS.runs_here() {
        return;
    }
    let app = spawn_app(Setup::REDIS).await;
    app.create_user("13800138000", PASSWORD).await;
    let logged_in = app.logged_in("13800138000", PASSWORD).await;
    let redis = ::redis::Client::open(app.redis.as_ref().unwrap().url()).unwrap();
    let mut conn = redis.get_multiplexed_async_connection().await.unwrap();
    let _: () = ::redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(6000)
        .arg("ALL")
        .query_async(&mut conn)
        .await
        .unwrap();
    let b = app.browser();
    let timed = |what: &'static str, started: Instant, limit: Duration| {
        let took = started.elapsed();
        assert!(took < limit, "{what} took {took:?}");
    };

    let t = Instant::now();
    let r = b
        .get(&format!("/image_codes/{}/", uuid::Uuid::new_v4()))
        .await;
    assert_eq!(r.status(), 503);
    timed("the first code route", t, Duration::from_millis(2_800));

    let t = Instant::now();
    let r = b
        .get(&format!(
            "/sms_codes/13800138000/?image_code=abcd&image_code_id={}",
            uuid::Uuid::new_v4()
        ))
        .await;
    assert_eq!(r.status(), 503);
    timed("the next one", t, Duration::from_millis(500));

    let t = Instant::now();
    assert_eq!(logged_in.get("/info/").await.status(), 200);
    // The data file lists the devices, which are in the store: no file rather than a
    // file that leaves them out.
    assert_eq!(logged_in.get("/info/export/").await.status(), 503);
    assert_eq!(b.get("/login/").await.status(), 200);
    // A password login cannot be limited now: refused at once, not let through.
    let r = b.post_login("13800138000", PASSWORD).await;
    assert_eq!(r.status(), 503);
    timed(
        "pages and a refused password login",
        t,
        Duration::from_millis(1_000),
    );

    // Redis back: so are the codes.
    let started = Instant::now();
    loop {
        let r = b
            .get(&format!("/image_codes/{}/", uuid::Uuid::new_v4()))
            .await;
        if r.status() == 200 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "codes never came back"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
