//! The relational store: SQLite through diesel and an r2d2 pool, migrations embedded.
//!
//! Every query runs off the async executor via [`run`], inside its own pooled
//! connection; transactions live entirely inside the closure.

pub mod audit;
pub mod qq_bindings;
pub mod schema;
pub mod users;

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool, PooledConnection};
use diesel::sqlite::SqliteConnection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

pub type DbPool = Pool<ConnectionManager<SqliteConnection>>;
pub type DbConn = PooledConnection<ConnectionManager<SqliteConnection>>;

/// The database failed us: unreachable, busy past its timeout, or a query error.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database pool: {0}")]
    Pool(#[from] diesel::r2d2::PoolError),
    #[error("database query: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("database migrations: {0}")]
    Migration(String),
    #[error("blocking task failed")]
    Blocking,
}

/// How long a writer waits for SQLite's write lock (SQLite retries within it), by default.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug)]
struct SqlitePragmas {
    busy_timeout: Duration,
}

impl CustomizeConnection<SqliteConnection, diesel::r2d2::Error> for SqlitePragmas {
    fn on_acquire(&self, conn: &mut SqliteConnection) -> Result<(), diesel::r2d2::Error> {
        // WAL lets readers run beside the writer; busy_timeout makes a writer retry for
        // the lock (bounded), then fail (a 503), instead of failing at once; foreign keys
        // are off by default.
        conn.batch_execute(&format!(
            "PRAGMA busy_timeout = {}; PRAGMA journal_mode = WAL; \
             PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
            self.busy_timeout.as_millis()
        ))
        .map_err(diesel::r2d2::Error::QueryError)
    }
}

/// A pool over the SQLite file `url` (created when missing).
pub fn build_pool(url: &str) -> Result<DbPool, DbError> {
    build_pool_with(url, BUSY_TIMEOUT)
}

/// [`build_pool`] with another bound on waiting for the write lock.
pub fn build_pool_with(url: &str, busy_timeout: Duration) -> Result<DbPool, DbError> {
    let manager = ConnectionManager::<SqliteConnection>::new(url);
    Ok(Pool::builder()
        .max_size(8)
        .connection_timeout(Duration::from_secs(3))
        .connection_customizer(Box::new(SqlitePragmas { busy_timeout }))
        .build(manager)?)
}

/// Applies pending migrations; returns how many ran.
pub fn run_migrations(pool: &DbPool) -> Result<usize, DbError> {
    let mut conn = pool.get()?;
    let applied = conn
        .run_pending_migrations(MIGRATIONS)
        .map_err(|e| DbError::Migration(e.to_string()))?;
    Ok(applied.len())
}

/// Runs `f` with a pooled connection on the blocking thread pool.
pub async fn run<T, F>(pool: &DbPool, f: F) -> Result<T, DbError>
where
    F: FnOnce(&mut SqliteConnection) -> Result<T, DbError> + Send + 'static,
    T: Send + 'static,
{
    let pool = pool.clone();
    let span = tracing::Span::current();
    actix_web::web::block(move || {
        let _entered = span.enter();
        let mut conn = pool.get()?;
        f(&mut conn)
    })
    .await
    .map_err(|_| DbError::Blocking)?
}

/// Writers of this process take turns here before they ask SQLite for its write lock:
/// SQLite's own busy handler makes a waiting writer sleep (1 ms, 2 ms, 5 ms … up to
/// 100 ms a try), which under load costs far more than the write itself. Another process
/// on the same file still meets the busy timeout.
static WRITER: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// [`run`] for work that writes.
pub async fn write<T, F>(pool: &DbPool, f: F) -> Result<T, DbError>
where
    F: FnOnce(&mut SqliteConnection) -> Result<T, DbError> + Send + 'static,
    T: Send + 'static,
{
    run(pool, move |c| {
        let _turn = WRITER.lock().unwrap_or_else(|p| p.into_inner());
        f(c)
    })
    .await
}

/// Now, as stored in the database (UTC, second precision is enough for people).
pub fn now() -> chrono::NaiveDateTime {
    chrono::Utc::now().naive_utc()
}
