//! How fast the operators' lists answer over a big user base.
//!
//! `cargo bench --bench admin_lists [-- USERS [REQUESTS]]` (defaults: 100000 users, 100
//! requests a page): seeds a fresh SQLite file with USERS accounts (every other one bound
//! to a QQ, two audit entries per bound account), starts qqbind on a loopback port, logs
//! in as an operator and times each page over HTTP, one request at a time. Then it
//! downloads each CSV export of the whole list (streamed) and prints its size, time and
//! this process's resident memory before, at its peak during, and after (the server and
//! the client share the process: flat memory means neither held the file).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use diesel::prelude::*;
use qqbind::config::Settings;
use qqbind::db::{self, schema};
use qqbind::startup::Application;

mod common;
use common::percentile;

fn openid(i: u64) -> String {
    // Deterministic, spread like QQ's 32 hex digits.
    let a = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let b = (i ^ 0xDEAD_BEEF).wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    format!("{a:016X}{b:016X}")
}

fn seed(pool: &db::DbPool, users: u64) {
    let mut any = pool.get().unwrap();
    let db::AnyConnection::Sqlite(conn) = &mut *any else {
        panic!("the benchmark runs on SQLite")
    };
    let hash = bcrypt::hash("abcd1234", 4).unwrap();
    let now = db::now();
    conn.immediate_transaction(|c| {
        for chunk in (0..users).collect::<Vec<_>>().chunks(1000) {
            let rows: Vec<_> = chunk
                .iter()
                .map(|i| {
                    (
                        schema::tb_users::username.eq(format!("user{i:06}")),
                        schema::tb_users::mobile.eq(format!("13{i:09}")),
                        schema::tb_users::password.eq(hash.clone()),
                        schema::tb_users::date_joined
                            .eq(now - chrono::Duration::seconds((users - i) as i64)),
                    )
                })
                .collect();
            diesel::insert_into(schema::tb_users::table)
                .values(&rows)
                .execute(c)?;
            let bound: Vec<_> = chunk
                .iter()
                .filter(|i| *i % 2 == 0)
                .map(|i| {
                    (
                        schema::tb_oauth_identity::provider.eq("qq"),
                        schema::tb_oauth_identity::user_id.eq(*i as i32 + 1),
                        schema::tb_oauth_identity::openid.eq(openid(*i)),
                        schema::tb_oauth_identity::bound_at.eq(now),
                    )
                })
                .collect();
            diesel::insert_into(schema::tb_oauth_identity::table)
                .values(&bound)
                .execute(c)?;
            let audit: Vec<_> = chunk
                .iter()
                .filter(|i| *i % 2 == 0)
                .flat_map(|i| {
                    ["user_created_by_qq", "qq_bind"].map(|action| {
                        (
                            schema::tb_audit_log::actor_id.eq(Some(*i as i32 + 1)),
                            schema::tb_audit_log::action.eq(action),
                            schema::tb_audit_log::target_user_id.eq(Some(*i as i32 + 1)),
                            schema::tb_audit_log::created_at.eq(now),
                        )
                    })
                })
                .collect();
            diesel::insert_into(schema::tb_audit_log::table)
                .values(&audit)
                .execute(c)?;
        }
        Ok::<_, diesel::result::Error>(())
    })
    .unwrap();
    let names = qqbind::accounts::superuser_names("operator", "19900000000").unwrap();
    qqbind::accounts::create_superuser(&mut any, &names.0, &names.1, "Operator2026", 4).unwrap();
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    let users: u64 = args.next().map_or(100_000, |a| a.parse().unwrap());
    let requests: usize = args.next().map_or(100, |a| a.parse().unwrap());

    let dir = tempfile::tempdir().unwrap();
    let db_path = dir.path().join("bench.db");
    let db_url = db_path.to_string_lossy().into_owned();
    let pool = db::build_pool(&db_url).unwrap();
    db::run_migrations(&pool).unwrap();
    let started = Instant::now();
    seed(&pool, users);
    let size = std::fs::metadata(&db_path).unwrap().len();
    println!(
        "seeded {users} users ({} bound, {} audit entries) in {:.1} s; database {:.1} MiB",
        users.div_ceil(2),
        users.div_ceil(2) * 2 + 1,
        started.elapsed().as_secs_f64(),
        size as f64 / 1048576.0
    );
    drop(pool);

    let settings = Settings::from_lookup(|name| match name {
        "DATABASE_URL" => Some(db_url.clone()),
        "QQBIND_LISTEN" => Some("127.0.0.1:0".to_owned()),
        _ => None,
    })
    .unwrap();
    let app = Application::build(settings).await.unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());

    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = common::password_login(&client, &base, "operator", "Operator2026").await;
    assert_eq!(r.status(), 302, "operator logs in");

    let last_page = users.div_ceil(50);
    let pages = [
        ("users, first page", "/admin/users/".to_owned()),
        (
            "users, last page",
            format!("/admin/users/?page={last_page}"),
        ),
        ("users, mobile prefix", "/admin/users/?q=1300001".to_owned()),
        (
            "users, exact mobile",
            "/admin/users/?q=13000054321".to_owned(),
        ),
        (
            "users, username prefix",
            "/admin/users/?q=user0999".to_owned(),
        ),
        ("users, prefix matching all", "/admin/users/?q=1".to_owned()),
        ("users, no match", "/admin/users/?q=nobody".to_owned()),
        ("one user", "/admin/users/4243/".to_owned()),
        ("bindings, first page", "/admin/bindings/".to_owned()),
        (
            "bindings, openid prefix",
            format!("/admin/bindings/?openid={}", &openid(4242)[..8]),
        ),
        ("audit, first page", "/admin/audit/".to_owned()),
        ("audit, by user", "/admin/audit/?user=user004242".to_owned()),
        (
            "audit, by action",
            "/admin/audit/?action=qq_bind".to_owned(),
        ),
        (
            "audit, by action, last page",
            format!(
                "/admin/audit/?action=qq_bind&page={}",
                users.div_ceil(2).div_ceil(50)
            ),
        ),
    ];
    println!("{requests} sequential requests a page, over HTTP on loopback:");
    println!(
        "{:<30} {:>9} {:>9} {:>9}",
        "page", "p50 ms", "p99 ms", "max ms"
    );
    for (name, path) in pages {
        let mut times = Vec::with_capacity(requests);
        for _ in 0..requests {
            let t = Instant::now();
            let r = client.get(format!("{base}{path}")).send().await.unwrap();
            assert_eq!(r.status(), 200, "{path}");
            let _ = r.bytes().await.unwrap();
            times.push(t.elapsed());
        }
        times.sort_unstable();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!(
            "{name:<30} {:>9.2} {:>9.2} {:>9.2}",
            ms(percentile(&times, 0.5)),
            ms(percentile(&times, 0.99)),
            ms(*times.last().unwrap())
        );
    }

    println!("CSV exports of the whole lists (streamed), resident memory of this process:");
    println!(
        "{:<10} {:>9} {:>10} {:>8} {:>11} {:>11} {:>11}",
        "export", "rows", "MiB", "s", "RSS before", "RSS peak", "RSS after"
    );
    for (name, path) in [
        ("users", "/admin/users/export.csv"),
        ("bindings", "/admin/bindings/export.csv"),
        ("audit", "/admin/audit/export.csv"),
    ] {
        let before = rss_kib();
        let mut peak = before;
        let t = Instant::now();
        let mut r = client.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let (mut bytes, mut lines) = (0usize, 0usize);
        while let Some(chunk) = r.chunk().await.unwrap() {
            bytes += chunk.len();
            lines += chunk.iter().filter(|b| **b == b'\n').count();
            peak = peak.max(rss_kib());
        }
        let took = t.elapsed();
        let after = rss_kib();
        println!(
            "{name:<10} {:>9} {:>10.1} {:>8.2} {:>8} MiB {:>8} MiB {:>8} MiB",
            lines - 1,
            bytes as f64 / 1048576.0,
            took.as_secs_f64(),
            before / 1024,
            peak / 1024,
            after / 1024
        );
    }
}

/// This process's resident memory (`VmRSS`), KiB.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_owned))
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}
