//! `tb_oauth_identity`: which account each external identity (a QQ, WeChat or Weibo
//! openid) is bound to. One account per identity, one identity of each provider per
//! account.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::tb_oauth_identity as t;
use super::users::User;
use super::{AnyConnection, MultiBackend};
use crate::domain::Provider;

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = t)]
pub struct Identity {
    pub id: i32,
    pub provider: String,
    pub openid: String,
    pub unionid: Option<String>,
    pub user_id: i32,
    pub nickname: String,
    pub avatar_url: String,
    #[diesel(deserialize_as = super::time::SqlTime)]
    pub bound_at: NaiveDateTime,
    #[diesel(deserialize_as = super::time::SqlOptTime)]
    pub last_login_at: Option<NaiveDateTime>,
}

impl Identity {
    /// The provider, as a value (rows hold only the three the table's check allows).
    pub fn provider(&self) -> Option<Provider> {
        Provider::parse(&self.provider)
    }

    /// The provider's name for pages (`QQ`, `微信`, `微博`).
    pub fn provider_label(&self) -> &'static str {
        self.provider().map_or("?", Provider::label)
    }

    /// What its provider calls the id it holds: `openid`, or Weibo's `uid`.
    pub fn id_name(&self) -> &'static str {
        self.provider().map_or("openid", Provider::id_name)
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = t)]
pub struct NewIdentity<'a> {
    pub provider: &'a str,
    pub openid: &'a str,
    pub unionid: Option<&'a str>,
    pub user_id: i32,
    pub nickname: &'a str,
    pub avatar_url: &'a str,
    pub bound_at: NaiveDateTime,
    pub last_login_at: Option<NaiveDateTime>,
}

pub fn find(
    conn: &mut AnyConnection,
    provider: Provider,
    openid: &str,
) -> QueryResult<Option<Identity>> {
    t::table
        .filter(t::provider.eq(provider.as_str()))
        .filter(t::openid.eq(openid))
        .select(Identity::as_select())
        .first(conn)
        .optional()
}

/// The account `(provider, openid)` is bound to, if any (one query).
pub fn user_of(
    conn: &mut AnyConnection,
    provider: Provider,
    openid: &str,
) -> QueryResult<Option<User>> {
    Ok(login_of(conn, provider, openid)?.map(|(_, user)| user))
}

/// What a returning login needs of its identity: the row, the unionid it may lack, and
/// when it last logged in (noted at most once a minute).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = t)]
pub struct Returning {
    pub id: i32,
    pub unionid: Option<String>,
    #[diesel(deserialize_as = super::time::SqlOptTime)]
    pub last_login_at: Option<NaiveDateTime>,
}

/// The identity `(provider, openid)` with its account (one query): a returning login.
///
/// Run on the backend's own connection: its statement is prepared once and kept by
/// type, where the multi-backend connection writes the SQL out again on every call to
/// find it in the cache (an eighth of a returning QQ login's instructions; see
/// `docs/performance.md`). Of the identity only what the login uses is read: each
/// column costs its decoding (a timestamp, SQLite's text, is parsed) on every login.
pub fn login_of(
    conn: &mut AnyConnection,
    provider: Provider,
    openid: &str,
) -> QueryResult<Option<(Returning, User)>> {
    use super::schema::tb_users;
    crate::per_backend!(conn, |c| t::table
        .inner_join(tb_users::table)
        .filter(t::provider.eq(provider.as_str()))
        .filter(t::openid.eq(openid))
        .select((Returning::as_select(), User::as_select()))
        .first(c)
        .optional())
}

/// The identity of `provider` bound to `user_id`, if any.
pub fn of_user(
    conn: &mut AnyConnection,
    provider: Provider,
    user_id: i32,
) -> QueryResult<Option<Identity>> {
    t::table
        .filter(t::provider.eq(provider.as_str()))
        .filter(t::user_id.eq(user_id))
        .select(Identity::as_select())
        .first(conn)
        .optional()
}

/// Every identity bound to `user_id`, oldest first.
pub fn all_of_user(conn: &mut AnyConnection, user_id: i32) -> QueryResult<Vec<Identity>> {
    t::table
        .filter(t::user_id.eq(user_id))
        .select(Identity::as_select())
        .order(t::id.asc())
        .load(conn)
}

/// Every identity bound to one of `user_ids`.
pub fn of_users(conn: &mut AnyConnection, user_ids: &[i32]) -> QueryResult<Vec<Identity>> {
    t::table
        .filter(t::user_id.eq_any(user_ids))
        .select(Identity::as_select())
        .order(t::id.asc())
        .load(conn)
}

/// Another identity of `provider` with `unionid` (the same person through another
/// application of the same provider account), with its account.
pub fn with_unionid(
    conn: &mut AnyConnection,
    provider: Provider,
    unionid: &str,
) -> QueryResult<Option<(Identity, User)>> {
    use super::schema::tb_users;
    t::table
        .inner_join(tb_users::table)
        .filter(t::provider.eq(provider.as_str()))
        .filter(t::unionid.eq(unionid))
        .select((Identity::as_select(), User::as_select()))
        .order(t::id.asc())
        .first(conn)
        .optional()
}

pub fn insert(conn: &mut AnyConnection, new: &NewIdentity<'_>) -> QueryResult<Identity> {
    crate::per_backend!(conn, |c| diesel::insert_into(t::table)
        .values(new)
        .returning(Identity::as_returning())
        .get_result(c))
}

/// Keeps what a login brought: the unionid when the row has none yet, the time.
pub fn note_login(
    conn: &mut AnyConnection,
    id: i32,
    unionid: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    let row = t::table.filter(t::id.eq(id));
    if let Some(u) = unionid {
        let missing = t::table.filter(t::id.eq(id)).filter(t::unionid.is_null());
        crate::per_backend!(conn, |c| diesel::update(missing)
            .set(t::unionid.eq(Some(u)))
            .execute(c))?;
    }
    crate::per_backend!(conn, |c| diesel::update(row)
        .set(t::last_login_at.eq(Some(now)))
        .execute(c))
}

pub fn count(conn: &mut AnyConnection) -> QueryResult<i64> {
    t::table.count().get_result(conn)
}

/// Removes `user_id`'s identity of `provider`; returns it when there was one.
/// Releases every identity of the account (it is being closed).
pub fn delete_all_of_user(conn: &mut AnyConnection, user_id: i32) -> QueryResult<usize> {
    diesel::delete(t::table.filter(t::user_id.eq(user_id))).execute(conn)
}

pub fn delete_of_user(
    conn: &mut AnyConnection,
    provider: Provider,
    user_id: i32,
) -> QueryResult<Option<Identity>> {
    let mine = t::table
        .filter(t::provider.eq(provider.as_str()))
        .filter(t::user_id.eq(user_id));
    crate::per_backend!(conn, |c| diesel::delete(mine)
        .returning(Identity::as_returning())
        .get_result(c)
        .optional())
}

/// What the operators' identity list filters by.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub provider: Option<Provider>,
    /// An openid or unionid prefix (all when empty).
    pub prefix: String,
}

fn matching(filter: &Filter) -> t::BoxedQuery<'static, MultiBackend> {
    let mut query = t::table.into_boxed();
    if let Some(p) = filter.provider {
        query = query.filter(t::provider.eq(p.as_str()));
    }
    let prefix = filter.prefix.as_str();
    if prefix.is_empty() {
        return query;
    }
    // Case-insensitively: an operator types a QQ openid as it was read out.
    use diesel::dsl::sql;
    use diesel::sql_types::{Bool, Text};
    let pattern = format!("{}%", super::users::like_escaped(&prefix.to_lowercase()));
    query.filter(
        sql::<Bool>("(lower(openid) LIKE ")
            .bind::<Text, _>(pattern.clone())
            .sql(" ESCAPE '\\' OR lower(coalesce(unionid, '')) LIKE ")
            .bind::<Text, _>(pattern)
            .sql(" ESCAPE '\\')"),
    )
}

/// One batch of an identities export: those `filter` lets through with an id below
/// `before`, newest first, with their accounts.
pub fn export_batch(
    conn: &mut AnyConnection,
    filter: &Filter,
    before: Option<i32>,
    limit: i64,
) -> QueryResult<Vec<(Identity, User)>> {
    use super::schema::tb_users;
    let mut ids = matching(filter)
        .select(t::id)
        .order(t::id.desc())
        .limit(limit);
    if let Some(b) = before {
        ids = ids.filter(t::id.lt(b));
    }
    let ids: Vec<i32> = ids.load(conn)?;
    t::table
        .inner_join(tb_users::table)
        .filter(t::id.eq_any(ids))
        .select((Identity::as_select(), User::as_select()))
        .order(t::id.desc())
        .load(conn)
}

/// One page of the identities matching `filter`, newest first, with their account.
pub fn search(
    conn: &mut AnyConnection,
    filter: &Filter,
    offset: i64,
    limit: i64,
) -> QueryResult<Vec<(Identity, User)>> {
    use super::schema::tb_users;
    let ids: Vec<i32> = matching(filter)
        .select(t::id)
        .order(t::id.desc())
        .offset(offset)
        .limit(limit)
        .load(conn)?;
    t::table
        .inner_join(tb_users::table)
        .filter(t::id.eq_any(ids))
        .select((Identity::as_select(), User::as_select()))
        .order(t::id.desc())
        .load(conn)
}

/// How many identities [`search`] pages through for `filter`.
pub fn search_count(conn: &mut AnyConnection, filter: &Filter) -> QueryResult<i64> {
    matching(filter).count().get_result(conn)
}
