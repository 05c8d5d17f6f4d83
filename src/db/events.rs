//! `tb_event_counts`: how often something happened each day (logins started, bind forms
//! shown, binds refused by row, SMS sent...), for the operators' dashboard. Counted in
//! memory and added here every few seconds, so the numbers hold across instances and
//! restarts.

use chrono::NaiveDate;
use diesel::prelude::*;

use super::schema::tb_event_counts as t;
use super::AnyConnection;

/// Adds `n` to `(day, event)`.
pub fn add(conn: &mut AnyConnection, day: NaiveDate, event: &str, n: i64) -> QueryResult<()> {
    crate::per_backend!(conn, |c| diesel::insert_into(t::table)
        .values((t::day.eq(day), t::event.eq(event), t::n.eq(n)))
        .on_conflict((t::day, t::event))
        .do_update()
        .set(t::n.eq(t::n + n))
        .execute(c))
    .map(|_| ())
}

/// Every count from `since` on: (day, event, n).
pub fn since(
    conn: &mut AnyConnection,
    since: NaiveDate,
) -> QueryResult<Vec<(NaiveDate, String, i64)>> {
    t::table
        .filter(t::day.ge(since))
        .select((t::day, t::event, t::n))
        .order((t::day.asc(), t::event.asc()))
        .load(conn)
}
