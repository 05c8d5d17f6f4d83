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
    #[diesel(deserialize_as = super::time::SqlTime)]
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
    let user_agent = crate::domain::clean_user_agent(user_agent);
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
/// PostgreSQL takes them in multi-row inserts (a round trip each). SQLite takes them
/// in multi-row `INSERT … VALUES` statements of [`SQLITE_ROWS`] rows, prepared once a
/// statement: diesel runs a SQLite multi-row insert as a statement per row, each looked
/// up in the statement cache and bound anew (half of a row's cost). (A JSON array read
/// back with `json_each` was tried: its JSON functions cost as much again.)
pub fn record_many(conn: &mut AnyConnection, rows: &[Row<'_>]) -> QueryResult<()> {
    match conn {
        AnyConnection::Sqlite(c) => {
            use diesel::sql_types::{Integer, Text};
            // In account order (each account's own lines stay in time order): the
            // account index is then written front to back, not all over at every row.
            let mut rows: Vec<&Row<'_>> = rows.iter().collect();
            rows.sort_by_key(|r| r.user_id);
            let times: Vec<String> = rows.iter().map(|r| sqlite_time(r.at)).collect();
            for (chunk, times) in rows.chunks(SQLITE_ROWS).zip(times.chunks(SQLITE_ROWS)) {
                let mut sql = String::with_capacity(80 + 12 * chunk.len());
                sql.push_str(
                    "INSERT INTO tb_login_history (user_id, method, at, ip, user_agent) VALUES ",
                );
                for i in 0..chunk.len() {
                    sql.push_str(if i == 0 {
                        "(?,?,?,?,?)"
                    } else {
                        ",(?,?,?,?,?)"
                    });
                }
                let mut insert = diesel::sql_query(sql).into_boxed::<diesel::sqlite::Sqlite>();
                for (r, at) in chunk.iter().zip(times) {
                    insert = insert
                        .bind::<Integer, _>(r.user_id)
                        .bind::<Text, _>(r.method)
                        .bind::<Text, _>(at.as_str())
                        .bind::<Text, _>(r.ip)
                        .bind::<Text, _>(r.user_agent);
                }
                insert.execute(c)?;
            }
        }
        AnyConnection::Postgresql(c) => {
            for chunk in rows.chunks(500) {
                let values: Vec<NewLogin<'_>> = chunk
                    .iter()
                    .map(|r| NewLogin {
                        user_id: r.user_id,
                        method: r.method,
                        at: r.at,
                        ip: r.ip,
                        user_agent: r.user_agent,
                    })
                    .collect();
                diesel::insert_into(t::table).values(&values).execute(c)?;
            }
        }
    }
    Ok(())
}

/// Rows a SQLite statement of the login log takes (five parameters each, far below
/// SQLite's 32 766).
const SQLITE_ROWS: usize = 200;

/// `at` as diesel writes a SQLite timestamp (so it reads back as every other `at` does),
/// the format parsed once, not at every row.
fn sqlite_time(at: NaiveDateTime) -> String {
    use chrono::format::{Item, StrftimeItems};
    static AT: std::sync::LazyLock<Vec<Item<'static>>> = std::sync::LazyLock::new(|| {
        StrftimeItems::new("%Y-%m-%d %H:%M:%S%.f")
            .parse_to_owned()
            .unwrap_or_default()
    });
    at.format_with_items(AT.iter()).to_string()
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A SQLite batch reads back exactly as written: the times to the microsecond, and
    /// User-Agents with quotes, backslashes, Chinese and emoji.
    #[test]
    fn a_sqlite_batch_reads_back_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let at = chrono::NaiveDate::from_ymd_opt(2026, 12, 7)
            .unwrap()
            .and_hms_micro_opt(14, 3, 52, 123_456)
            .unwrap();
        let (_, pool, user) = crate::db::test_file_with_user(dir.path(), at);
        let mut conn = pool.get().unwrap();
        let agents = [
            r#"Mozilla/5.0 "quoted" \back\slash"#,
            "微信 MicroMessenger/8.0 🙂",
            "",
        ];
        let rows: Vec<Row<'_>> = agents
            .iter()
            .enumerate()
            .map(|(i, ua)| Row {
                user_id: user.id,
                method: if i == 0 { "password" } else { "qq" },
                at: at + chrono::Duration::seconds(i as i64),
                ip: "203.0.113.7",
                user_agent: ua,
            })
            .collect();
        record_many(&mut conn, &rows).unwrap();
        record_many(&mut conn, &[]).unwrap();
        let back = recent(&mut conn, user.id, 10).unwrap();
        assert_eq!(back.len(), 3);
        for (i, got) in back.iter().rev().enumerate() {
            assert_eq!(got.user_agent, agents[i]);
            assert_eq!(got.method, rows[i].method);
            assert_eq!(got.at, rows[i].at);
            assert_eq!(got.ip, "203.0.113.7");
        }
        // Read by the time index as the dashboard and the pruning read it.
        assert_eq!(per_day(&mut conn, at).unwrap().len(), 3);
        assert_eq!(
            prune(&mut conn, at + chrono::Duration::seconds(1)).unwrap(),
            1
        );
    }
}
