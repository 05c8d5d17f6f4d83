//! `tb_consent`: which version of 《用户协议》 and 《隐私政策》 each account accepted, when,
//! from where.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::audit::Origin;
use super::schema::tb_consent as t;
use super::AnyConnection;

pub const TERMS: &str = "terms";
pub const PRIVACY: &str = "privacy";

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = t)]
pub struct Consent {
    pub id: i32,
    pub user_id: i32,
    pub document: String,
    pub version: String,
    #[diesel(deserialize_as = super::time::SqlTime)]
    pub accepted_at: NaiveDateTime,
    pub ip: String,
    pub user_agent: String,
    pub context: String,
}

#[derive(Insertable)]
#[diesel(table_name = t)]
struct NewConsent<'a> {
    user_id: i32,
    document: &'a str,
    version: &'a str,
    accepted_at: NaiveDateTime,
    ip: &'a str,
    user_agent: &'a str,
    context: &'a str,
}

/// Records that `user_id` accepted both documents at these versions, in `context`
/// (`register`, `bind`, `link`, `interstitial`, `api`).
pub fn accept_both(
    conn: &mut AnyConnection,
    user_id: i32,
    (terms, privacy): (&str, &str),
    context: &str,
    origin: &Origin,
    at: NaiveDateTime,
) -> QueryResult<()> {
    for (document, version) in [(TERMS, terms), (PRIVACY, privacy)] {
        diesel::insert_into(t::table)
            .values(NewConsent {
                user_id,
                document,
                version,
                accepted_at: at,
                ip: &origin.ip,
                user_agent: &origin.user_agent,
                context,
            })
            .execute(conn)?;
    }
    Ok(())
}

/// The version of `document` the account accepted last, if any.
pub fn latest(
    conn: &mut AnyConnection,
    user_id: i32,
    document: &str,
) -> QueryResult<Option<String>> {
    // Asked at a login when its account's consent is not yet known to be current: on the
    // backend's own connection, prepared once (see `identities::login_of`).
    crate::per_backend!(conn, |c| t::table
        .filter(t::user_id.eq(user_id))
        .filter(t::document.eq(document))
        .order(t::id.desc())
        .select(t::version)
        .first(c)
        .optional())
}

/// Whether the account's consent is current: for each document, the version it
/// accepted last is the one in force. An account with no record of a document (one the
/// command line made) is not asked.
pub fn is_current(
    conn: &mut AnyConnection,
    user_id: i32,
    versions: (&str, &str),
) -> QueryResult<bool> {
    Ok(owed(conn, user_id, versions)? == (false, false))
}

/// Which of 《用户协议》 and 《隐私政策》 the account accepted in an earlier version than
/// the one in force, and so owes its consent to.
pub fn owed(
    conn: &mut AnyConnection,
    user_id: i32,
    (terms, privacy): (&str, &str),
) -> QueryResult<(bool, bool)> {
    let owes = |v: Option<String>, current: &str| v.is_some_and(|v| v != current);
    Ok((
        owes(latest(conn, user_id, TERMS)?, terms),
        owes(latest(conn, user_id, PRIVACY)?, privacy),
    ))
}

/// Every consent of the account, oldest first.
pub fn of_user(conn: &mut AnyConnection, user_id: i32) -> QueryResult<Vec<Consent>> {
    t::table
        .filter(t::user_id.eq(user_id))
        .order(t::id.asc())
        .select(Consent::as_select())
        .load(conn)
}

pub fn delete_of_user(conn: &mut AnyConnection, user_id: i32) -> QueryResult<usize> {
    diesel::delete(t::table.filter(t::user_id.eq(user_id))).execute(conn)
}
