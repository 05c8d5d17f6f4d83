//! `tb_login_history`: each login of an account (how, when, from where), kept
//! `LOGIN_HISTORY_DAYS`.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::tb_login_history as t;
use super::AnyConnection;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = t)]
pub struct Login {
    pub id: i32,
    pub user_id: i32,
    pub method: String,
    pub at: NaiveDateTime,
    pub ip: String,
    pub user_agent: String,
}

#[derive(Insertable)]
#[diesel(table_name = t)]
struct NewLogin<'a> {
    user_id: i32,
    method: &'a str,
    at: NaiveDateTime,
    ip: &'a str,
    user_agent: &'a str,
}

pub fn record(
    conn: &mut AnyConnection,
    user_id: i32,
    method: &str,
    at: NaiveDateTime,
    ip: &str,
    user_agent: &str,
) -> QueryResult<()> {
    let user_agent: String = user_agent
        .chars()
        .filter(|c| !c.is_control())
        .take(256)
        .collect();
    diesel::insert_into(t::table)
        .values(NewLogin {
            user_id,
            method,
            at,
            ip,
            user_agent: &user_agent,
        })
        .execute(conn)
        .map(|_| ())
}

/// One login to write in a batch.
pub struct Row<'a> {
    pub user_id: i32,
    pub method: &'a str,
    pub at: NaiveDateTime,
    pub ip: &'a str,
    pub user_agent: &'a str,
}

/// Writes many logins (a batch of the app's login log; the caller holds a transaction).
/// PostgreSQL takes them in multi-row inserts (a round trip each). SQLite takes them a
/// row at a time on its own connection, the statement prepared once and found again in
/// the connection's cache: diesel runs a SQLite multi-row insert as a statement per row
/// anyway, through the multi-backend connection, built anew each time
/// (`diesel::sql_query` would be prepared again at every row).
pub fn record_many(conn: &mut AnyConnection, rows: &[Row<'_>]) -> QueryResult<()> {
    fn new<'a>(r: &Row<'a>) -> NewLogin<'a> {
        NewLogin {
            user_id: r.user_id,
            method: r.method,
            at: r.at,
            ip: r.ip,
            user_agent: r.user_agent,
        }
    }
    match conn {
        AnyConnection::Sqlite(c) => {
            for r in rows {
                diesel::insert_into(t::table).values(new(r)).execute(c)?;
            }
        }
        AnyConnection::Postgresql(c) => {
            for chunk in rows.chunks(500) {
                let values: Vec<NewLogin<'_>> = chunk.iter().map(new).collect();
                diesel::insert_into(t::table).values(&values).execute(c)?;
            }
        }
    }
    Ok(())
}

/// The account's newest `limit` logins, newest first.
pub fn recent(conn: &mut AnyConnection, user_id: i32, limit: i64) -> QueryResult<Vec<Login>> {
    t::table
        .filter(t::user_id.eq(user_id))
        .order(t::id.desc())
        .limit(limit)
        .select(Login::as_select())
        .load(conn)
}

/// Drops the logins from before `before`; how many went.
pub fn prune(conn: &mut AnyConnection, before: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(t::table.filter(t::at.lt(before))).execute(conn)
}

pub fn delete_of_user(conn: &mut AnyConnection, user_id: i32) -> QueryResult<usize> {
    diesel::delete(t::table.filter(t::user_id.eq(user_id))).execute(conn)
}

/// Logins per day and method since `since` (the dashboard), oldest day first.
pub fn per_day(
    conn: &mut AnyConnection,
    since: NaiveDateTime,
) -> QueryResult<Vec<(NaiveDateTime, String)>> {
    t::table
        .filter(t::at.ge(since))
        .select((t::at, t::method))
        .order(t::at.asc())
        .load(conn)
}
