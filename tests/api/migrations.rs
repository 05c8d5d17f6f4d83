//! The migration from `tb_oauth_qq` to `tb_oauth_identity` (issue 16) loses no binding,
//! on SQLite and PostgreSQL: the old table is seeded at migration 3, and every row is
//! checked after migration 4 (and again after reverting it).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_migrations::MigrationHarness;
use qqbind::db::schema::tb_oauth_identity as t;
use qqbind::db::Backend;

use crate::helpers::fresh_database;

const BINDINGS: usize = 40;

fn bound_at(i: usize) -> String {
    format!(
        "2026-11-{:02} 08:{:02}:{:02}",
        1 + i % 28,
        i % 60,
        (i * 7) % 60
    )
}

fn openid(i: usize) -> String {
    format!("{i:032X}")
}

/// Seeds users 1..=BINDINGS+5 and a QQ binding for the first BINDINGS, in the schema of
/// migration 3, and runs migration 4; then reverts it.
macro_rules! migrate_and_check {
    ($conn:expr, $migrations:expr) => {{
        let conn = $conn;
        for _ in 0..3 {
            conn.run_next_migration($migrations).unwrap();
        }
        for i in 0..BINDINGS + 5 {
            diesel::sql_query(format!(
                "INSERT INTO tb_users (username, mobile, password, date_joined) VALUES ('user{i}', '138{i:08}', '$2b$04$x', '{}')",
                bound_at(i)
            ))
            .execute(conn)
            .unwrap();
        }
        // Bindings made out of user order, as they are in life.
        for i in (0..BINDINGS).rev() {
            diesel::sql_query(format!(
                "INSERT INTO tb_oauth_qq (user_id, openid, created_at, updated_at) VALUES ({}, '{}', '{}', '{}')",
                i + 1,
                openid(i),
                bound_at(i),
                bound_at(i + 1)
            ))
            .execute(conn)
            .unwrap();
        }
        conn.run_next_migration($migrations).unwrap();
        let rows: Vec<(String, String, Option<String>, i32, NaiveDateTime, Option<NaiveDateTime>)> =
            t::table
                .select((t::provider, t::openid, t::unionid, t::user_id, t::bound_at, t::last_login_at))
                .order(t::user_id)
                .load(conn)
                .unwrap();
        assert_eq!(rows.len(), BINDINGS, "every binding moved");
        for (i, row) in rows.iter().enumerate() {
            let at = NaiveDateTime::parse_from_str(&bound_at(i), "%Y-%m-%d %H:%M:%S").unwrap();
            assert_eq!(
                row,
                &("qq".to_owned(), openid(i), None, i as i32 + 1, at, None),
                "binding {i}"
            );
        }
        // The new rules hold on the moved rows: one QQ per account, one account per QQ.
        let dup = diesel::sql_query(format!(
            "INSERT INTO tb_oauth_identity (provider, openid, user_id, bound_at) VALUES ('qq', '{}', {}, '2026-12-01 00:00:00')",
            openid(BINDINGS + 1),
            1
        ))
        .execute(conn);
        assert!(dup.is_err(), "UNIQUE (provider, user_id)");
        let wechat = diesel::sql_query(format!(
            "INSERT INTO tb_oauth_identity (provider, openid, user_id, bound_at) VALUES ('wechat', '{}', 1, '2026-12-01 00:00:00')",
            openid(0)
        ))
        .execute(conn);
        assert!(wechat.is_ok(), "the same id under another provider is another identity");
        let bad = diesel::sql_query(
            "INSERT INTO tb_oauth_identity (provider, openid, user_id, bound_at) VALUES ('github', 'x', 2, '2026-12-01 00:00:00')",
        )
        .execute(conn);
        assert!(bad.is_err(), "CHECK provider");

        // Reverting gives the QQ bindings back to the old table.
        conn.revert_last_migration($migrations).unwrap();
        #[derive(QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let back: Count = diesel::sql_query("SELECT COUNT(*) AS n FROM tb_oauth_qq")
            .get_result(conn)
            .unwrap();
        assert_eq!(back.n, BINDINGS as i64);
    }};
}

fn the_identity_migration_keeps_every_qq_binding(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let (url, _pg) = fresh_database(backend, dir.path());
    match backend {
        Backend::Sqlite => migrate_and_check!(
            &mut SqliteConnection::establish(&url).unwrap(),
            qqbind::db::SQLITE_MIGRATIONS
        ),
        Backend::Postgres => migrate_and_check!(
            &mut PgConnection::establish(&url).unwrap(),
            qqbind::db::POSTGRES_MIGRATIONS
        ),
    }
}

crate::both_backends!(the_identity_migration_keeps_every_qq_binding);
