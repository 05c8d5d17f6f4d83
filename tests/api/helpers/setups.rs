//! What an app under test runs on, and the macros that run a test on each setup.

use qqbind::db::Backend;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    Memory,
    Redis,
}

/// What an app under test runs on: its code store and its database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setup {
    pub store: StoreKind,
    pub db: Backend,
}

impl Setup {
    /// Whether this machine can run `self` (PostgreSQL, Redis); when not, the test is
    /// skipped (see `crate::common`).
    pub fn runs_here(self) -> bool {
        use crate::common::{have, Need};
        (self.db != Backend::Postgres || have(Need::Postgres))
            && (self.store != StoreKind::Redis || have(Need::Redis))
    }

    /// The embedded defaults: SQLite and the in-process store.
    pub const MEMORY: Self = Self::new(StoreKind::Memory, Backend::Sqlite);
    /// SQLite and a real Redis.
    pub const REDIS: Self = Self::new(StoreKind::Redis, Backend::Sqlite);

    pub const fn new(store: StoreKind, db: Backend) -> Self {
        Self { store, db }
    }

    /// The same store on another database.
    pub const fn on(self, db: Backend) -> Self {
        Self { db, ..self }
    }
}

/// Generates one `#[tokio::test]` per setup (SQLite and PostgreSQL, each with the
/// in-process store and with Redis) for each `async fn name(kind: Setup)`.
#[macro_export]
macro_rules! all_setups {
    ($($name:ident),* $(,)?) => {
        $crate::all_setups!(@one sqlite_memory, Memory, Sqlite, $($name),*);
        $crate::all_setups!(@one sqlite_redis, Redis, Sqlite, $($name),*);
        $crate::all_setups!(@one postgres_memory, Memory, Postgres, $($name),*);
        $crate::all_setups!(@one postgres_redis, Redis, Postgres, $($name),*);
    };
    (@one $module:ident, $store:ident, $db:ident, $($name:ident),*) => {
        mod $module {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() {
                   let setup = $crate::helpers::Setup::new(
                       $crate::helpers::StoreKind::$store,
                       ::qqbind::db::Backend::$db,
                   );
                   if setup.runs_here() {
                       super::$name(setup).await
                   }
               } )*
        }
    };
}

/// Generates one `#[tokio::test]` per code store for each `async fn name(kind: StoreKind)`
/// (tests of the store alone, with no app and no database).
#[macro_export]
macro_rules! both_stores {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { super::$name($crate::helpers::StoreKind::Memory).await } )*
        }
        mod redis {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() {
                   if $crate::common::have($crate::common::Need::Redis) {
                       super::$name($crate::helpers::StoreKind::Redis).await
                   }
               } )*
        }
    };
}

/// Generates one `#[test]` per database for each `fn name(db: Backend)`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $name() { super::$name(::qqbind::db::Backend::Sqlite) } )*
        }
        mod postgres {
            $( #[test] fn $name() {
                if $crate::common::have($crate::common::Need::Postgres) {
                    super::$name(::qqbind::db::Backend::Postgres)
                }
            } )*
        }
    };
}
