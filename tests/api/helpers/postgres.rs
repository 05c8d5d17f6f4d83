//! A database of its own on the test PostgreSQL cluster.

use qqbind::db::Backend;
use url::Url;

// ---------------------------------------------------------------- PostgreSQL fixture

/// Where the PostgreSQL tests make their databases: a superuser URL (`.ci/run` starts a
/// throw-away cluster and sets it).
pub const POSTGRES_ENV: &str = "QQBIND_TEST_POSTGRES";

/// A database of its own on the test cluster: a fresh schema, which the URL's
/// `search_path` makes the only one the app sees (ten times faster to make than a
/// `CREATE DATABASE`). Dropped, with everything in it, on drop.
pub struct PgDatabase {
    admin_url: String,
    schema: String,
    pub url: String,
}

impl PgDatabase {
    pub fn create() -> Self {
        let admin_url = std::env::var(POSTGRES_ENV).unwrap_or_else(|_| {
            panic!(
                "{POSTGRES_ENV} is not set: run `bash .ci/run` (it starts a throw-away \
                 PostgreSQL), or set it to a superuser URL such as \
                 postgres://qqbind:secret@127.0.0.1:5432/postgres"
            )
        });
        let schema = format!("qqbind_t_{}", uuid::Uuid::new_v4().simple());
        Self::admin(&admin_url, &format!("CREATE SCHEMA {schema}"));
        let mut url = Url::parse(&admin_url).unwrap();
        url.query_pairs_mut()
            .append_pair("options", &format!("-csearch_path={schema}"));
        Self {
            admin_url,
            schema,
            url: url.to_string(),
        }
    }

    fn admin(url: &str, sql: &str) {
        use diesel::connection::SimpleConnection;
        use diesel::Connection;
        diesel::PgConnection::establish(url)
            .unwrap_or_else(|e| panic!("{POSTGRES_ENV}: cannot connect: {e}"))
            .batch_execute(sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            Self::admin(
                &self.admin_url,
                &format!("DROP SCHEMA {} CASCADE", self.schema),
            );
        }
    }
}

/// A fresh database of `backend`: a SQLite file in `dir`, or a PostgreSQL database.
pub fn fresh_database(backend: Backend, dir: &std::path::Path) -> (String, Option<PgDatabase>) {
    match backend {
        Backend::Sqlite => (dir.join("qqbind.db").to_string_lossy().into_owned(), None),
        Backend::Postgres => {
            let pg = PgDatabase::create();
            (pg.url.clone(), Some(pg))
        }
    }
}
