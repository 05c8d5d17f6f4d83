//! `tb_oauth_qq`: which account a QQ openid is bound to.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::tb_oauth_qq;
use super::{AnyConnection, MultiBackend};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = tb_oauth_qq)]
pub struct QqBinding {
    pub id: i32,
    pub user_id: i32,
    pub openid: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = tb_oauth_qq)]
pub struct NewQqBinding<'a> {
    pub user_id: i32,
    pub openid: &'a str,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

pub fn find_by_openid(conn: &mut AnyConnection, openid: &str) -> QueryResult<Option<QqBinding>> {
    tb_oauth_qq::table
        .filter(tb_oauth_qq::openid.eq(openid))
        .select(QqBinding::as_select())
        .first(conn)
        .optional()
}

/// The account `openid` is bound to, if any (one query).
pub fn user_of(conn: &mut AnyConnection, openid: &str) -> QueryResult<Option<super::users::User>> {
    use super::schema::tb_users;
    use super::users::User;
    tb_oauth_qq::table
        .inner_join(tb_users::table)
        .filter(tb_oauth_qq::openid.eq(openid))
        .select(User::as_select())
        .first(conn)
        .optional()
}

pub fn find_by_user(conn: &mut AnyConnection, user_id: i32) -> QueryResult<Option<QqBinding>> {
    tb_oauth_qq::table
        .filter(tb_oauth_qq::user_id.eq(user_id))
        .select(QqBinding::as_select())
        .first(conn)
        .optional()
}

pub fn insert(conn: &mut AnyConnection, new: &NewQqBinding<'_>) -> QueryResult<QqBinding> {
    crate::per_backend!(conn, |c| diesel::insert_into(tb_oauth_qq::table)
        .values(new)
        .returning(QqBinding::as_returning())
        .get_result(c))
}

pub fn count(conn: &mut AnyConnection) -> QueryResult<i64> {
    tb_oauth_qq::table.count().get_result(conn)
}

/// Removes `user_id`'s binding; returns it when there was one.
pub fn delete_by_user(conn: &mut AnyConnection, user_id: i32) -> QueryResult<Option<QqBinding>> {
    let mine = tb_oauth_qq::table.filter(tb_oauth_qq::user_id.eq(user_id));
    crate::per_backend!(conn, |c| diesel::delete(mine)
        .returning(QqBinding::as_returning())
        .get_result(c)
        .optional())
}

/// Bindings whose openid starts with `prefix` (all when empty).
fn matching(prefix: &str) -> tb_oauth_qq::BoxedQuery<'static, MultiBackend> {
    let query = tb_oauth_qq::table.into_boxed();
    if prefix.is_empty() {
        return query;
    }
    query.filter(
        tb_oauth_qq::openid
            .ge(prefix.to_owned())
            .and(tb_oauth_qq::openid.lt(super::users::prefix_end(prefix))),
    )
}

/// One page of the bindings matching `prefix`, newest first, with their account.
pub fn search(
    conn: &mut AnyConnection,
    prefix: &str,
    offset: i64,
    limit: i64,
) -> QueryResult<Vec<(QqBinding, super::users::User)>> {
    use super::schema::tb_users;
    use super::users::User;
    let ids: Vec<i32> = matching(prefix)
        .select(tb_oauth_qq::id)
        .order(tb_oauth_qq::id.desc())
        .offset(offset)
        .limit(limit)
        .load(conn)?;
    tb_oauth_qq::table
        .inner_join(tb_users::table)
        .filter(tb_oauth_qq::id.eq_any(ids))
        .select((QqBinding::as_select(), User::as_select()))
        .order(tb_oauth_qq::id.desc())
        .load(conn)
}

/// How many bindings [`search`] pages through for `prefix`.
pub fn search_count(conn: &mut AnyConnection, prefix: &str) -> QueryResult<i64> {
    matching(prefix).count().get_result(conn)
}
