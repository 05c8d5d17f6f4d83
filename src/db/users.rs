//! `tb_users`.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::tb_users;
use super::{AnyConnection, MultiBackend};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = tb_users)]
pub struct User {
    pub id: i32,
    pub username: String,
    pub mobile: String,
    /// The bcrypt hash.
    pub password: String,
    pub nickname: String,
    pub avatar_url: String,
    pub is_staff: bool,
    pub is_active: bool,
    #[diesel(deserialize_as = super::time::SqlTime)]
    pub date_joined: NaiveDateTime,
    #[diesel(deserialize_as = super::time::SqlOptTime)]
    pub last_login: Option<NaiveDateTime>,
    /// Sessions and API tokens minted under an older epoch are refused.
    pub session_epoch: i32,
    /// Staff may also export, change mobiles and make staff.
    pub is_superuser: bool,
    /// Why an operator disabled the account ('' when enabled or never said).
    pub disabled_reason: String,
    /// The owner asked to close the account (注销): it is erased once the cooling-off
    /// period has passed, unless a login cancels it first.
    #[diesel(deserialize_as = super::time::SqlOptTime)]
    pub delete_requested_at: Option<NaiveDateTime>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = tb_users)]
pub struct NewUser<'a> {
    pub username: &'a str,
    pub mobile: &'a str,
    pub password: &'a str,
    pub nickname: &'a str,
    pub avatar_url: &'a str,
    pub is_staff: bool,
    pub is_active: bool,
    pub date_joined: NaiveDateTime,
}

impl User {
    /// Whether the account is a closed one (see [`anonymise`]).
    pub fn is_closed(&self) -> bool {
        self.password == "!" && self.username == format!("closed_{}", self.id)
    }

    /// Whether the account can log in with a password at all: an account whose hash is
    /// no bcrypt hash (`!` — imported without one) has only its identities and SMS.
    pub fn has_usable_password(&self) -> bool {
        self.password.starts_with("$2")
    }
}

/// The account, its row locked until the transaction ends (PostgreSQL; SQLite's write
/// transactions already run one at a time): changes that check and then write what an
/// account holds are serialised.
pub fn lock(conn: &mut AnyConnection, id: i32) -> QueryResult<Option<User>> {
    match conn {
        AnyConnection::Postgresql(c) => tb_users::table
            .find(id)
            .select(User::as_select())
            .for_update()
            .first(c)
            .optional(),
        AnyConnection::Sqlite(_) => find_by_id(conn, id),
    }
}

/// The account `id`: every logged-in request asks, so it runs on the backend's own
/// connection, whose statement cache keeps it by type (see `identities::login_of`).
pub fn find_by_id(conn: &mut AnyConnection, id: i32) -> QueryResult<Option<User>> {
    crate::per_backend!(conn, |c| tb_users::table
        .find(id)
        .select(User::as_select())
        .first(c)
        .optional())
}

pub fn find_by_mobile(conn: &mut AnyConnection, mobile: &str) -> QueryResult<Option<User>> {
    if !super::storable(mobile) {
        return Ok(None);
    }
    tb_users::table
        .filter(tb_users::mobile.eq(mobile))
        .select(User::as_select())
        .first(conn)
        .optional()
}

pub fn find_by_username(conn: &mut AnyConnection, username: &str) -> QueryResult<Option<User>> {
    if !super::storable(username) {
        return Ok(None);
    }
    tb_users::table
        .filter(tb_users::username.eq(username))
        .select(User::as_select())
        .first(conn)
        .optional()
}

/// The user whose username or mobile is `login` (the login form accepts either): a
/// mobile-shaped `login` is a mobile (registration refuses such usernames).
pub fn find_by_login(conn: &mut AnyConnection, login: &str) -> QueryResult<Option<User>> {
    if crate::domain::Mobile::parse(login).is_some() {
        if let Some(u) = find_by_mobile(conn, login)? {
            return Ok(Some(u));
        }
    }
    find_by_username(conn, login)
}

pub fn insert(conn: &mut AnyConnection, new: &NewUser<'_>) -> QueryResult<User> {
    crate::per_backend!(conn, |c| diesel::insert_into(tb_users::table)
        .values(new)
        .returning(User::as_returning())
        .get_result(c))
}

/// `last_login` is kept to the minute: a login within this many seconds of the recorded
/// one writes nothing, so a storm of logins is a storm of reads, not of writes.
pub const LAST_LOGIN_RESOLUTION_SECS: i64 = 60;

/// Whether a login at `now` should be recorded over `last` (see
/// [`LAST_LOGIN_RESOLUTION_SECS`]); a `last` in the future (a clock step back) is.
pub fn login_is_news(last: Option<NaiveDateTime>, now: NaiveDateTime) -> bool {
    last.is_none_or(|t| t > now || (now - t).num_seconds() >= LAST_LOGIN_RESOLUTION_SECS)
}

pub fn touch_last_login(conn: &mut AnyConnection, id: i32, at: NaiveDateTime) -> QueryResult<()> {
    diesel::update(tb_users::table.find(id))
        .set(tb_users::last_login.eq(Some(at)))
        .execute(conn)
        .map(|_| ())
}

/// Fills in the QQ nickname and avatar where the account has none yet.
pub fn adopt_profile(
    conn: &mut AnyConnection,
    id: i32,
    nickname: &str,
    avatar_url: &str,
) -> QueryResult<()> {
    if !nickname.is_empty() {
        diesel::update(tb_users::table.find(id).filter(tb_users::nickname.eq("")))
            .set(tb_users::nickname.eq(nickname))
            .execute(conn)?;
    }
    if !avatar_url.is_empty() {
        diesel::update(tb_users::table.find(id).filter(tb_users::avatar_url.eq("")))
            .set(tb_users::avatar_url.eq(avatar_url))
            .execute(conn)?;
    }
    Ok(())
}

pub fn count(conn: &mut AnyConnection) -> QueryResult<i64> {
    tb_users::table.count().get_result(conn)
}

/// Enables or disables an account; `false` when it already was so. Disabling raises
/// the account's `session_epoch`: its sessions and API tokens end and stay ended after
/// it is enabled again.
pub fn set_active(conn: &mut AnyConnection, id: i32, active: bool) -> QueryResult<bool> {
    let target = tb_users::table
        .find(id)
        .filter(tb_users::is_active.eq(!active));
    let n = if active {
        diesel::update(target)
            .set(tb_users::is_active.eq(true))
            .execute(conn)?
    } else {
        diesel::update(target)
            .set((
                tb_users::is_active.eq(false),
                tb_users::session_epoch.eq(tb_users::session_epoch + 1),
            ))
            .execute(conn)?
    };
    Ok(n == 1)
}

/// Sets the account's bcrypt hash.
pub fn set_password(conn: &mut AnyConnection, id: i32, hash: &str) -> QueryResult<()> {
    diesel::update(tb_users::table.find(id))
        .set(tb_users::password.eq(hash))
        .execute(conn)
        .map(|_| ())
}

/// Ends every session and API token of the account (those minted before now).
/// Marks (or with `None` clears) the owner's request to close the account; rows changed.
pub fn set_delete_requested(
    conn: &mut AnyConnection,
    id: i32,
    at: Option<NaiveDateTime>,
) -> QueryResult<usize> {
    let target = tb_users::table.find(id);
    match at {
        Some(_) => diesel::update(target)
            .set(tb_users::delete_requested_at.eq(at))
            .execute(conn),
        None => diesel::update(target.filter(tb_users::delete_requested_at.is_not_null()))
            .set(tb_users::delete_requested_at.eq(None::<NaiveDateTime>))
            .execute(conn),
    }
}

/// When each account made since `since` joined (the dashboard's sign-ups).
pub fn joined_since(
    conn: &mut AnyConnection,
    since: NaiveDateTime,
) -> QueryResult<Vec<NaiveDateTime>> {
    tb_users::table
        .filter(tb_users::date_joined.ge(since))
        .select(tb_users::date_joined)
        .load(conn)
}

/// The accounts whose closing was asked for before `before`.
pub fn closing_due(conn: &mut AnyConnection, before: NaiveDateTime) -> QueryResult<Vec<i32>> {
    tb_users::table
        .filter(tb_users::delete_requested_at.lt(before))
        .select(tb_users::id)
        .load(conn)
}

/// What a closed account keeps: its id, and names no one can log in with and that free
/// the real ones (a mobile of 11 characters starting with 0, which no real one does).
pub fn anonymise(conn: &mut AnyConnection, id: i32) -> QueryResult<()> {
    diesel::update(tb_users::table.find(id))
        .set((
            tb_users::username.eq(format!("closed_{id}")),
            tb_users::mobile.eq(format!("0{:010}", id)),
            tb_users::password.eq("!"),
            tb_users::nickname.eq(""),
            tb_users::avatar_url.eq(""),
            tb_users::is_staff.eq(false),
            tb_users::is_superuser.eq(false),
            tb_users::is_active.eq(false),
            tb_users::disabled_reason.eq("账号已注销"),
            tb_users::delete_requested_at.eq(None::<NaiveDateTime>),
            tb_users::last_login.eq(None::<NaiveDateTime>),
            tb_users::session_epoch.eq(tb_users::session_epoch + 1),
        ))
        .execute(conn)
        .map(|_| ())
}

pub fn set_superuser(conn: &mut AnyConnection, id: i32, on: bool) -> QueryResult<()> {
    diesel::update(tb_users::table.find(id))
        .set(tb_users::is_superuser.eq(on))
        .execute(conn)
        .map(|_| ())
}

/// Makes the account staff (or not); rows changed.
pub fn set_staff(conn: &mut AnyConnection, id: i32, on: bool) -> QueryResult<usize> {
    diesel::update(tb_users::table.find(id).filter(tb_users::is_staff.eq(!on)))
        .set(tb_users::is_staff.eq(on))
        .execute(conn)
}

pub fn set_disabled_reason(conn: &mut AnyConnection, id: i32, reason: &str) -> QueryResult<()> {
    diesel::update(tb_users::table.find(id))
        .set(tb_users::disabled_reason.eq(reason))
        .execute(conn)
        .map(|_| ())
}

/// A new mobile for the account; its sessions end.
pub fn set_mobile(conn: &mut AnyConnection, id: i32, mobile: &str) -> QueryResult<usize> {
    diesel::update(tb_users::table.find(id))
        .set((
            tb_users::mobile.eq(mobile),
            tb_users::session_epoch.eq(tb_users::session_epoch + 1),
        ))
        .execute(conn)
}

pub fn raise_session_epoch(conn: &mut AnyConnection, id: i32) -> QueryResult<()> {
    diesel::update(tb_users::table.find(id))
        .set(tb_users::session_epoch.eq(tb_users::session_epoch + 1))
        .execute(conn)
        .map(|_| ())
}

/// The exclusive upper end of the strings that start with `prefix` (byte order): a
/// prefix search that the unique indexes on username, mobile and openid can answer.
use super::prefix_end;

/// What the operators' user list is narrowed by (each part optional).
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// A username or mobile prefix.
    pub q: String,
    /// The mobile's last digits (尾号).
    pub tail: String,
    /// Part of the nickname.
    pub nickname: String,
}

impl Filter {
    pub fn is_plain(&self) -> bool {
        self.tail.is_empty() && self.nickname.is_empty()
    }
}

/// `text` for a LIKE pattern: `%`, `_` and `\` taken literally.
pub fn like_escaped(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// Accounts the whole filter lets through.
fn matching_all(f: &Filter) -> tb_users::BoxedQuery<'static, MultiBackend> {
    use diesel::dsl::sql;
    use diesel::sql_types::{Bool, Text};
    let mut query = matching(&f.q);
    if !f.tail.is_empty() {
        query = query.filter(
            sql::<Bool>("mobile LIKE ")
                .bind::<Text, _>(format!("%{}", like_escaped(&f.tail)))
                .sql(" ESCAPE '\\'"),
        );
    }
    if !f.nickname.is_empty() {
        query = query.filter(
            sql::<Bool>("lower(nickname) LIKE ")
                .bind::<Text, _>(format!("%{}%", like_escaped(&f.nickname.to_lowercase())))
                .sql(" ESCAPE '\\'"),
        );
    }
    query
}

/// The accounts `f` lets through with an id below `before` (all: `None`), newest first,
/// at most `limit`: one batch of an export, which walks the list by id so that 100 000
/// rows never sit in memory.
pub fn export_batch(
    conn: &mut AnyConnection,
    f: &Filter,
    before: Option<i32>,
    limit: i64,
) -> QueryResult<Vec<User>> {
    let mut query = matching_all(f);
    if let Some(b) = before {
        query = query.filter(tb_users::id.lt(b));
    }
    query
        .select(User::as_select())
        .order(tb_users::id.desc())
        .limit(limit)
        .load(conn)
}

/// Accounts whose username or mobile starts with `q` (all when `q` is empty).
fn matching(q: &str) -> tb_users::BoxedQuery<'static, MultiBackend> {
    let query = tb_users::table.into_boxed();
    if q.is_empty() {
        return query;
    }
    let end = prefix_end(q);
    query.filter(
        tb_users::username
            .ge(q.to_owned())
            .and(tb_users::username.lt(end.clone()))
            .or(tb_users::mobile
                .ge(q.to_owned())
                .and(tb_users::mobile.lt(end))),
    )
}

/// One page of the accounts matching `q` (see [`matching`]), newest first. `dense`: `q` matches more than [`SEARCH_COUNT_CAP`] accounts (a prefix like
/// "1"), so walking the table newest first finds a page sooner than sorting every match
/// the indexes give.
pub fn search(
    conn: &mut AnyConnection,
    f: &Filter,
    dense: bool,
    offset: i64,
    limit: i64,
) -> QueryResult<Vec<User>> {
    let q = f.q.as_str();
    // PostgreSQL's planner picks that walk itself, from its statistics.
    let sqlite = super::Backend::of_conn(conn) == super::Backend::Sqlite;
    let ids: Vec<i32> = if dense && sqlite && !q.is_empty() && f.is_plain() {
        use diesel::dsl::sql;
        use diesel::sql_types::{Bool, Text};
        let end = prefix_end(q);
        // SQLite's unary `+` keeps the planner off the indexes: a rowid walk, newest first,
        // that stops at the page's last match.
        tb_users::table
            .filter(
                sql::<Bool>("((+username >= ")
                    .bind::<Text, _>(q.to_owned())
                    .sql(" AND +username < ")
                    .bind::<Text, _>(end.clone())
                    .sql(") OR (+mobile >= ")
                    .bind::<Text, _>(q.to_owned())
                    .sql(" AND +mobile < ")
                    .bind::<Text, _>(end)
                    .sql("))"),
            )
            .select(tb_users::id)
            .order(tb_users::id.desc())
            .offset(offset)
            .limit(limit)
            .load(conn)?
    } else {
        matching_all(f)
            .select(tb_users::id)
            .order(tb_users::id.desc())
            .offset(offset)
            .limit(limit)
            .load(conn)?
    };
    tb_users::table
        .filter(tb_users::id.eq_any(&ids))
        .select(User::as_select())
        .order(tb_users::id.desc())
        .load(conn)
}

/// A search counts its matches up to this many: past it, the operator should narrow
/// the search rather than page (and counting every account a prefix like "1" matches
/// would cost a walk of two whole indexes).
pub const SEARCH_COUNT_CAP: i64 = 10_000;

/// How many accounts [`search`] pages through for `q`: exact for the whole list, at
/// most [`SEARCH_COUNT_CAP`] + 1 for a search.
pub fn search_count(conn: &mut AnyConnection, f: &Filter) -> QueryResult<i64> {
    if f.q.is_empty() && f.is_plain() {
        return tb_users::table.count().get_result(conn);
    }
    let ids: Vec<i32> = matching_all(f)
        .select(tb_users::id)
        .limit(SEARCH_COUNT_CAP + 1)
        .load(conn)?;
    Ok(ids.len() as i64)
}

/// Usernames by id, for showing who did what.
pub fn usernames(
    conn: &mut AnyConnection,
    ids: &[i32],
) -> QueryResult<std::collections::HashMap<i32, String>> {
    Ok(tb_users::table
        .filter(tb_users::id.eq_any(ids))
        .select((tb_users::id, tb_users::username))
        .load::<(i32, String)>(conn)?
        .into_iter()
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_login_is_kept_to_the_minute() {
        let now = chrono::DateTime::from_timestamp(1_795_000_000, 0)
            .map(|t| t.naive_utc())
            .unwrap_or_default();
        let ago = |s| now - chrono::Duration::seconds(s);
        assert!(login_is_news(None, now), "never logged in");
        assert!(!login_is_news(Some(ago(0)), now));
        assert!(!login_is_news(Some(ago(59)), now));
        assert!(login_is_news(Some(ago(60)), now));
        assert!(login_is_news(Some(ago(86_400)), now));
        assert!(
            login_is_news(Some(ago(-5)), now),
            "a clock that stepped back"
        );
    }
}
