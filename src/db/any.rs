//! The one connection type over both backends (diesel's `MultiConnection`).

#![allow(missing_docs)]

/// A SQLite or PostgreSQL connection; queries written once run on either.
#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    Postgresql(diesel::PgConnection),
    Sqlite(diesel::SqliteConnection),
}
