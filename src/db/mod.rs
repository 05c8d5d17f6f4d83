//! The relational store: SQLite or PostgreSQL through diesel and an r2d2 pool, each
//! with its own migrations, embedded and run at start.
//!
//! The backend comes from `DATABASE_URL`'s scheme ([`Backend::of`]). Every query runs
//! off the async executor via [`run`] (or [`write`]), inside its own pooled
//! [`AnyConnection`]; transactions ([`transaction`]) live entirely inside the closure.

pub mod admin;
pub mod audit;
pub mod consent;
pub mod events;
pub mod identities;
pub mod login_history;
pub mod schema;
pub mod users;

mod any;
pub mod time;

use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool, PooledConnection};
use diesel::result::Error as DieselError;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

pub use any::{AnyConnection, MultiBackend};

pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

pub type DbPool = Pool<ConnectionManager<AnyConnection>>;
pub type DbConn = PooledConnection<ConnectionManager<AnyConnection>>;

pub use crate::config::{display_url, Backend, DB_BUSY_TIMEOUT as BUSY_TIMEOUT};

impl Backend {
    pub fn of_conn(conn: &AnyConnection) -> Self {
        match conn {
            AnyConnection::Sqlite(_) => Self::Sqlite,
            AnyConnection::Postgresql(_) => Self::Postgres,
        }
    }
}

/// The database failed us: unreachable, busy past its timeout, or a query error.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database pool: {0}")]
    Pool(#[from] diesel::r2d2::PoolError),
    #[error("database query: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("database connection: {0}")]
    Connect(#[from] diesel::r2d2::Error),
    #[error("database migrations: {0}")]
    Migration(String),
    #[error("blocking task failed")]
    Blocking,
}

#[derive(Debug)]
struct SessionSettings {
    busy_timeout: Duration,
}

impl CustomizeConnection<AnyConnection, diesel::r2d2::Error> for SessionSettings {
    fn on_acquire(&self, conn: &mut AnyConnection) -> Result<(), diesel::r2d2::Error> {
        let ms = self.busy_timeout.as_millis();
        let sql = match conn {
            // WAL lets readers run beside the writer; busy_timeout makes a writer retry
            // for the lock (bounded), then fail, instead of failing at once; foreign keys
            // are off by default.
            AnyConnection::Sqlite(_) => format!(
                "PRAGMA busy_timeout = {ms}; PRAGMA journal_mode = WAL; \
                 PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;"
            ),
            // The same bound on waiting for a lock; timestamps are UTC either way.
            AnyConnection::Postgresql(_) => {
                format!("SET lock_timeout = {ms}; SET TIME ZONE 'UTC';")
            }
        };
        conn.batch_execute(&sql)
            .map_err(diesel::r2d2::Error::QueryError)
    }
}

/// A pool over `url`: a SQLite file (created when missing) or a PostgreSQL database.
pub fn build_pool(url: &str) -> Result<DbPool, DbError> {
    build_pool_with(url, BUSY_TIMEOUT)
}

/// [`build_pool`] with another bound on waiting for a lock.
pub fn build_pool_with(url: &str, busy_timeout: Duration) -> Result<DbPool, DbError> {
    build_pool_reporting(url, busy_timeout, Box::new(LogConnectErrors))
}

/// A connection the pool could not open (it tries again): one error line saying so. The
/// database's own words name no password (libpq's, SQLite's).
#[derive(Debug)]
struct LogConnectErrors;

impl diesel::r2d2::HandleError<diesel::r2d2::Error> for LogConnectErrors {
    fn handle_error(&self, error: diesel::r2d2::Error) {
        tracing::error!(%error, "cannot open a database connection");
    }
}

/// [`build_pool_with`], its connection errors told to `errors`.
fn build_pool_reporting(
    url: &str,
    busy_timeout: Duration,
    errors: Box<dyn diesel::r2d2::HandleError<diesel::r2d2::Error>>,
) -> Result<DbPool, DbError> {
    let manager = ConnectionManager::<AnyConnection>::new(url);
    let settings = SessionSettings { busy_timeout };
    let backend = Backend::of(url);
    if backend == Backend::Sqlite {
        // A new file turns to WAL on one connection first: the pool opens its connections
        // in parallel, and two of them switching the same new file at once could deadlock,
        // one failing at once with "database is locked" (an error line at a first start,
        // then a retry). Once the file is in WAL mode, the pool's own switch only reads it.
        use diesel::r2d2::ManageConnection;
        settings.on_acquire(&mut manager.connect()?)?;
    }
    Ok(Pool::builder()
        .max_size(8)
        .connection_timeout(Duration::from_secs(3))
        // A PostgreSQL connection can die with its server or the network: each checkout
        // pings it first. A SQLite file cannot go away under an open handle, and the ping
        // (a `SELECT 1` parsed anew each time) cost a tenth of a QQ login's database time.
        .test_on_check_out(backend == Backend::Postgres)
        .connection_customizer(Box::new(settings))
        .error_handler(errors)
        .build(manager)?)
}

/// Why a PostgreSQL `url` cannot be connected to, in libpq's words (a certificate that
/// does not verify, a refused password…): the pool only says it timed out. None for
/// SQLite, or when a connection can be made now. libpq's messages hold no password.
pub fn connect_error(url: &str) -> Option<String> {
    use diesel::Connection;
    if Backend::of(url) != Backend::Postgres {
        return None;
    }
    // Bounded as the pool is: a server that never answers must not hold the start.
    let mut bounded = url::Url::parse(url).ok()?;
    if !bounded.query_pairs().any(|(k, _)| k == "connect_timeout") {
        bounded
            .query_pairs_mut()
            .append_pair("connect_timeout", "3");
    }
    diesel::PgConnection::establish(bounded.as_str())
        .err()
        .map(|e| e.to_string().trim().to_owned())
}

/// Applies pending migrations (the backend's own set); returns how many ran.
pub fn run_migrations(pool: &DbPool) -> Result<usize, DbError> {
    let mut conn = pool.get()?;
    let migration = |e: Box<dyn std::error::Error + Send + Sync>| DbError::Migration(e.to_string());
    let applied = match &mut *conn {
        AnyConnection::Sqlite(c) => c
            .run_pending_migrations(SQLITE_MIGRATIONS)
            .map_err(migration)?
            .len(),
        AnyConnection::Postgresql(c) => {
            // Instances that start together take turns: the second finds nothing to do.
            c.batch_execute("SELECT pg_advisory_lock(7208150311)")?;
            let applied = c
                .run_pending_migrations(POSTGRES_MIGRATIONS)
                .map(|v| v.len());
            c.batch_execute("SELECT pg_advisory_unlock(7208150311)")?;
            applied.map_err(migration)?
        }
    };
    Ok(applied)
}

/// Runs `f` with a pooled connection on the blocking thread pool.
async fn run<T, F>(pool: &DbPool, f: F) -> Result<T, DbError>
where
    F: FnOnce(&mut AnyConnection) -> Result<T, DbError> + Send + 'static,
    T: Send + 'static,
{
    let pool = pool.clone();
    crate::telemetry::spawn_blocking(move || {
        let mut conn = pool.get()?;
        f(&mut conn)
    })
    .await
    .map_err(|_| DbError::Blocking)?
}

/// Reads of one row by a unique key (the account behind a QQ openid, the logged-in
/// user), the reads every login and every logged-in page makes.
///
/// On SQLite they run in place, on the request's own thread: such a read takes a few
/// tens of microseconds, less than handing it to the blocking pool and back (two thread
/// wake-ups), which was an eighth of a QQ login's CPU time (measured with
/// `cargo bench --bench login_flow`: the returning QQ login went from 0.58–0.72 of the
/// floor server's flows/s to 0.71–0.74 with in-place reads alone; `docs/performance.md`).
/// It does not stall the thread:
/// its connection comes from a small pool of its own only when one is free at once, it
/// never waits for a lock (in WAL mode readers do not wait for the writer, and these
/// connections have `busy_timeout = 0`), and it cannot write (`query_only`). When no
/// connection is free, or SQLite answers "locked" (a file where WAL could not be set up,
/// whose readers wait out a writer's commit; a recovery after a crash), the read goes
/// through [`run`] like any other and waits there, bounded by the busy timeout. On
/// PostgreSQL (a network round trip) it always goes through [`run`].
#[derive(Clone)]
struct PointReader {
    pool: DbPool,
    in_place: Option<DbPool>,
}

#[derive(Debug)]
struct InPlaceSettings;

impl CustomizeConnection<AnyConnection, diesel::r2d2::Error> for InPlaceSettings {
    fn on_acquire(&self, conn: &mut AnyConnection) -> Result<(), diesel::r2d2::Error> {
        conn.batch_execute("PRAGMA busy_timeout = 0; PRAGMA query_only = 1;")
            .map_err(diesel::r2d2::Error::QueryError)
    }
}

impl PointReader {
    /// Reads for the database `pool` serves, at `url`.
    fn new(pool: DbPool, url: &str) -> Result<Self, DbError> {
        let in_place = match Backend::of(url) {
            // One connection per thread that may read in place (actix runs a worker per
            // core), since an in-place read holds its connection only while it runs.
            Backend::Sqlite => Some(
                Pool::builder()
                    .max_size(std::thread::available_parallelism().map_or(2, |n| n.get()) as u32)
                    .test_on_check_out(false)
                    .connection_customizer(Box::new(InPlaceSettings))
                    .error_handler(Box::new(LogConnectErrors))
                    .build(ConnectionManager::<AnyConnection>::new(url))?,
            ),
            Backend::Postgres => None,
        };
        Ok(Self { pool, in_place })
    }

    /// Runs `f`, a read of one row by a unique key, in place when it can (see above),
    /// else on the blocking pool.
    async fn read<T, F>(&self, f: F) -> Result<T, DbError>
    where
        F: Fn(&mut AnyConnection) -> Result<T, DieselError> + Send + 'static,
        T: Send + 'static,
    {
        if let Some(mut conn) = self.in_place.as_ref().and_then(Pool::try_get) {
            match f(&mut conn) {
                Err(e) if is_locked(&e) => {}
                done => return Ok(done?),
            }
        }
        run(&self.pool, move |c| Ok(f(c)?)).await
    }
}

/// SQLite's "database is locked" (SQLITE_BUSY) or "database table is locked".
fn is_locked(e: &DieselError) -> bool {
    matches!(e, DieselError::DatabaseError(_, info) if info.message().contains("is locked"))
}

/// A lock held elsewhere outlasted the busy timeout: SQLite's "locked", PostgreSQL's
/// `lock_timeout` ("canceling statement due to lock timeout"). The work was not done
/// and may be tried again: a 503, not the user's mistake.
pub fn is_lock_timeout(e: &DieselError) -> bool {
    is_locked(e)
        || matches!(e, DieselError::DatabaseError(_, info) if info.message().contains("lock timeout"))
}

/// The one database handle. How a query gets its connection says what it may do:
/// [`Db::read_one`] (one row by a unique key, in place on SQLite: the one exception to
/// "no diesel on the executor", see `PointReader`), [`Db::read`] (on the blocking pool,
/// on a connection that cannot write while it runs) and [`Db::write`] (on the blocking
/// pool, after this process's writer turn). A write cannot go around the writer lock: a
/// read's connection refuses it (SQLite `query_only`, a PostgreSQL `READ ONLY`
/// transaction).
#[derive(Clone)]
pub struct Db {
    pool: DbPool,
    point: PointReader,
}

impl Db {
    /// The handle over `pool`, the database at `url`.
    pub fn new(pool: DbPool, url: &str) -> Result<Self, DbError> {
        let point = PointReader::new(pool.clone(), url)?;
        Ok(Self { pool, point })
    }

    /// The pool itself: for migrations and the command line (which run on their own
    /// thread, one at a time).
    pub fn pool(&self) -> &DbPool {
        &self.pool
    }

    /// A read of one row by a unique key (see `PointReader`).
    pub async fn read_one<T, F>(&self, f: F) -> Result<T, DbError>
    where
        F: Fn(&mut AnyConnection) -> Result<T, DieselError> + Send + 'static,
        T: Send + 'static,
    {
        self.point.read(f).await
    }

    /// Reads, on the blocking pool; an attempt to write in `f` fails.
    pub async fn read<T, F>(&self, f: F) -> Result<T, DbError>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, DbError> + Send + 'static,
        T: Send + 'static,
    {
        run(&self.pool, move |c| read_only(c, f)).await
    }

    /// Work that writes, on the blocking pool, after this process's writer turn.
    pub async fn write<T, F>(&self, f: F) -> Result<T, DbError>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, DbError> + Send + 'static,
        T: Send + 'static,
    {
        write(&self.pool, f).await
    }
}

/// Runs `f` on `c` with writes refused: SQLite's `query_only` for the duration, or a
/// PostgreSQL `READ ONLY` transaction.
fn read_only<T>(
    c: &mut AnyConnection,
    f: impl FnOnce(&mut AnyConnection) -> Result<T, DbError>,
) -> Result<T, DbError> {
    let (begin, end_ok, end_err) = match c {
        AnyConnection::Sqlite(_) => (
            "PRAGMA query_only = 1",
            "PRAGMA query_only = 0",
            "PRAGMA query_only = 0",
        ),
        AnyConnection::Postgresql(_) => ("BEGIN READ ONLY", "COMMIT", "ROLLBACK"),
    };
    c.batch_execute(begin)?;
    match f(c) {
        Ok(value) => {
            c.batch_execute(end_ok)?;
            Ok(value)
        }
        Err(e) => {
            if let Err(end) = c.batch_execute(end_err) {
                tracing::warn!(error = %end, "could not end a read-only spell");
            }
            Err(e)
        }
    }
}

/// SQLite writers of this process take turns here before they ask SQLite for its write
/// lock: SQLite's own busy handler makes a waiting writer sleep (1 ms, 2 ms, 5 ms … up to
/// 100 ms a try), which under load costs far more than the write itself. Another process
/// on the same file still meets the busy timeout. PostgreSQL writers need no such turn.
static WRITER: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// [`run`] for work that writes: after this process's writer turn.
async fn write<T, F>(pool: &DbPool, f: F) -> Result<T, DbError>
where
    F: FnOnce(&mut AnyConnection) -> Result<T, DbError> + Send + 'static,
    T: Send + 'static,
{
    run(pool, move |c| {
        let _turn = matches!(c, AnyConnection::Sqlite(_))
            .then(|| WRITER.lock().unwrap_or_else(|p| p.into_inner()));
        f(c)
    })
    .await
}

/// Runs `f` in a transaction, with the same guarantees on both backends: all of it or
/// none, and a racing writer is refused by the unique constraints, never half-applied.
/// SQLite begins IMMEDIATE (the write lock up front: two writers queue instead of
/// deadlocking on a lock upgrade); PostgreSQL begins READ COMMITTED, where row locks and
/// the unique indexes settle races.
pub fn transaction<T, E, F>(conn: &mut AnyConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut AnyConnection) -> Result<T, E>,
    E: From<DieselError>,
{
    type Tm = AnyConnection;
    match conn {
        AnyConnection::Sqlite(c) => {
            AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?
        }
        AnyConnection::Postgresql(_) => <Tm as TransactionManager<Tm>>::begin_transaction(conn)?,
    }
    match f(conn) {
        Ok(value) => {
            <Tm as TransactionManager<Tm>>::commit_transaction(conn)?;
            Ok(value)
        }
        Err(e) => match <Tm as TransactionManager<Tm>>::rollback_transaction(conn) {
            Ok(()) | Err(DieselError::BrokenTransactionManager) => Err(e),
            Err(rollback) => Err(rollback.into()),
        },
    }
}

/// Runs `$body` with `$c` bound to the backend's own connection, for what diesel's
/// multi-backend cannot express (RETURNING, multi-row inserts, SQL only one backend
/// speaks), and for the hot reads, whose statements the backend's own connection caches
/// by type instead of writing their SQL out again on every call. The body is compiled
/// once per backend.
#[macro_export]
macro_rules! per_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::AnyConnection::Sqlite($c) => $body,
            $crate::db::AnyConnection::Postgresql($c) => $body,
        }
    };
}

/// Whether `text` could be stored at all: PostgreSQL's text cannot hold NUL, so no value
/// with one is stored on either backend, and a look-up for one finds nothing (instead of
/// a query error on PostgreSQL).
pub fn storable(text: &str) -> bool {
    !text.contains('\0')
}

/// The end of the range of strings that start with `prefix` (a prefix search an index
/// answers: `>= prefix AND < prefix_end(prefix)`).
pub fn prefix_end(prefix: &str) -> String {
    format!("{prefix}\u{10FFFF}")
}

/// Now, as stored in the database (UTC, second precision is enough for people).
pub fn now() -> chrono::NaiveDateTime {
    chrono::Utc::now().naive_utc()
}

/// A migrated SQLite file in `dir` holding one account, `u1`, joined at `joined`: its
/// URL, a pool over it, and the account (for unit tests of what is stored).
#[cfg(test)]
pub(crate) fn test_file_with_user(
    dir: &std::path::Path,
    joined: chrono::NaiveDateTime,
) -> (String, DbPool, users::User) {
    let url = dir.join("unit.db").to_string_lossy().into_owned();
    let pool = build_pool(&url).unwrap();
    run_migrations(&pool).unwrap();
    let user = users::insert(
        &mut pool.get().unwrap(),
        &users::NewUser {
            username: "u1",
            mobile: "13800138000",
            password: "!",
            nickname: "",
            avatar_url: "",
            is_staff: false,
            is_active: true,
            date_joined: joined,
        },
    )
    .unwrap();
    (url, pool, user)
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::{Connection, RunQueryDsl};

    /// Counts the connections a pool could not open.
    #[derive(Debug, Clone, Default)]
    struct CountErrors(std::sync::Arc<std::sync::atomic::AtomicUsize>);

    impl diesel::r2d2::HandleError<diesel::r2d2::Error> for CountErrors {
        fn handle_error(&self, _: diesel::r2d2::Error) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// A pool over a new SQLite file opens every connection at the first try, and leaves
    /// the file in WAL mode. Its connections used to switch the new file to WAL in
    /// parallel, and two of them could deadlock: "database is locked", logged as an error
    /// at a first start.
    #[test]
    fn a_pool_over_a_new_file_opens_every_connection_first_time() {
        let dir = tempfile::tempdir().unwrap();
        let errors = CountErrors::default();
        for i in 0..60 {
            let url = dir.path().join(format!("new{i}.db"));
            let url = url.to_string_lossy();
            let pool = build_pool_reporting(&url, BUSY_TIMEOUT, Box::new(errors.clone())).unwrap();
            assert_eq!(pool.state().connections, 8);
            let mode = diesel::sql_query("SELECT journal_mode AS text FROM pragma_journal_mode")
                .get_result::<TextRow>(&mut pool.get().unwrap())
                .unwrap()
                .text;
            assert_eq!(mode, "wal");
        }
        assert_eq!(errors.0.load(std::sync::atomic::Ordering::Relaxed), 0);
    }

    /// The bundled SQLite is built with the options `.cargo/config.toml` gives it
    /// (`LIBSQLITE3_FLAGS`): multi-thread mode, no global memory statistics, no shared
    /// cache. A build that lost them (the file moved, a workspace around the crate) is
    /// found here rather than by a rise in `benches/login_instructions.sh`.
    #[test]
    fn sqlite_is_built_with_the_options_of_the_cargo_config() {
        let mut conn = diesel::SqliteConnection::establish(":memory:").unwrap();
        let options: Vec<String> =
            diesel::sql_query("SELECT compile_options AS text FROM pragma_compile_options")
                .load::<TextRow>(&mut conn)
                .unwrap()
                .into_iter()
                .map(|o| o.text)
                .collect();
        for wanted in [
            "THREADSAFE=2",
            "DEFAULT_MEMSTATUS=0",
            "OMIT_SHARED_CACHE",
            "USE_ALLOCA",
        ] {
            assert!(
                options.iter().any(|o| o == wanted),
                "{wanted} not in {options:?}"
            );
        }
    }

    /// A row of one text column, `text` (a pragma's answer, read as a table).
    #[derive(diesel::QueryableByName)]
    struct TextRow {
        #[diesel(sql_type = diesel::sql_types::Text)]
        text: String,
    }

    /// `Db::read` cannot write, and gives its connection back able to: every write after
    /// it, on whichever pooled connection, goes through.
    #[tokio::test]
    async fn a_read_cannot_write_and_every_connection_stays_writable() {
        let dir = tempfile::tempdir().unwrap();
        let url = dir.path().join("w.db").to_string_lossy().into_owned();
        let pool = build_pool(&url).unwrap();
        pool.get()
            .unwrap()
            .batch_execute("CREATE TABLE t (x INTEGER NOT NULL)")
            .unwrap();
        let db = Db::new(pool, &url).unwrap();
        for _ in 0..10 {
            let refused = db
                .read(|c| Ok(c.batch_execute("INSERT INTO t VALUES (1)")?))
                .await
                .unwrap_err();
            assert!(refused.to_string().contains("readonly"), "{refused}");
        }
        for i in 0..20 {
            db.write(move |c| Ok(c.batch_execute(&format!("INSERT INTO t VALUES ({i})"))?))
                .await
                .unwrap();
        }
        let n = db
            .read(|c| {
                Ok(
                    diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
                        "(SELECT COUNT(*) FROM t)",
                    ))
                    .get_result::<i64>(c)?,
                )
            })
            .await
            .unwrap();
        assert_eq!(n, 20);
    }

    /// A pool like the app's, without WAL: readers wait while a writer holds the file.
    #[derive(Debug)]
    struct RollbackJournal;

    impl CustomizeConnection<AnyConnection, diesel::r2d2::Error> for RollbackJournal {
        fn on_acquire(&self, conn: &mut AnyConnection) -> Result<(), diesel::r2d2::Error> {
            conn.batch_execute("PRAGMA journal_mode = DELETE; PRAGMA busy_timeout = 5000;")
                .map_err(diesel::r2d2::Error::QueryError)
        }
    }

    fn rollback_journal_file(dir: &tempfile::TempDir) -> (String, DbPool) {
        let url = dir.path().join("q.db").to_string_lossy().into_owned();
        let pool = Pool::builder()
            .max_size(2)
            .connection_customizer(Box::new(RollbackJournal))
            .build(ConnectionManager::<AnyConnection>::new(&url))
            .unwrap();
        pool.get()
            .unwrap()
            .batch_execute("CREATE TABLE t (x INTEGER NOT NULL); INSERT INTO t VALUES (7);")
            .unwrap();
        (url, pool)
    }

    fn read_x(c: &mut AnyConnection) -> Result<i32, DieselError> {
        diesel::dsl::sql::<diesel::sql_types::Integer>("SELECT x FROM t").get_result(c)
    }

    #[tokio::test]
    async fn a_point_read_that_meets_a_lock_waits_for_it_on_the_pool() {
        let dir = tempfile::tempdir().unwrap();
        let (url, pool) = rollback_journal_file(&dir);
        let reader = PointReader::new(pool, &url).unwrap();
        assert_eq!(reader.read(read_x).await.unwrap(), 7);

        // Another process writes, and holds the file through its commit.
        let mut writer = diesel::SqliteConnection::establish(&url).unwrap();
        writer
            .batch_execute("BEGIN EXCLUSIVE; UPDATE t SET x = 8;")
            .unwrap();
        let in_place = reader.in_place.as_ref().unwrap();
        let locked = read_x(&mut in_place.get().unwrap()).unwrap_err();
        assert!(is_locked(&locked), "{locked}");
        let commit = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            writer.batch_execute("COMMIT").unwrap();
        });

        // Not an error: the read waited for the commit, and saw it.
        assert_eq!(reader.read(read_x).await.unwrap(), 8);
        commit.join().unwrap();
    }

    #[tokio::test]
    async fn a_point_read_cannot_write() {
        let dir = tempfile::tempdir().unwrap();
        let (url, pool) = rollback_journal_file(&dir);
        let reader = PointReader::new(pool.clone(), &url).unwrap();
        let refused = reader
            .read(|c| diesel::sql_query("UPDATE t SET x = 9").execute(c))
            .await
            .unwrap_err();
        assert!(refused.to_string().contains("readonly"), "{refused}");
        assert_eq!(run(&pool, |c| Ok(read_x(c)?)).await.unwrap(), 7);
    }

    #[test]
    fn the_scheme_picks_the_backend() {
        for url in [
            "postgres://u:p@db:5432/qqbind",
            "postgresql://db/qqbind",
            "POSTGRES://db/qqbind",
        ] {
            assert_eq!(Backend::of(url), Backend::Postgres, "{url}");
        }
        for url in [
            "qqbind.db",
            "/var/lib/qqbind/qqbind.db",
            "file:q.db",
            "sqlite://q.db",
        ] {
            assert_eq!(Backend::of(url), Backend::Sqlite, "{url}");
        }
    }

    #[test]
    fn a_database_password_never_reaches_a_message() {
        assert_eq!(
            display_url("postgres://qqbind:s3cret@db:5432/qqbind"),
            "postgres://qqbind:***@db:5432/qqbind"
        );
        assert_eq!(
            display_url("postgres://db/qqbind?user=q&password=s3cret"),
            "postgres://… (a password in the query string)"
        );
        assert!(!display_url("postgres://q:s3cret@[db/x").contains("s3cret"));
        assert_eq!(display_url("postgres://db/qqbind"), "postgres://db/qqbind");
        assert_eq!(display_url("qqbind.db"), "qqbind.db");
    }
}
