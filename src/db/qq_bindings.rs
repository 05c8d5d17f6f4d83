//! `tb_oauth_qq`: which account a QQ openid is bound to.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::tb_oauth_qq;

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

pub fn find_by_openid(conn: &mut SqliteConnection, openid: &str) -> QueryResult<Option<QqBinding>> {
    tb_oauth_qq::table
        .filter(tb_oauth_qq::openid.eq(openid))
        .select(QqBinding::as_select())
        .first(conn)
        .optional()
}

pub fn find_by_user(conn: &mut SqliteConnection, user_id: i32) -> QueryResult<Option<QqBinding>> {
    tb_oauth_qq::table
        .filter(tb_oauth_qq::user_id.eq(user_id))
        .select(QqBinding::as_select())
        .first(conn)
        .optional()
}

pub fn insert(conn: &mut SqliteConnection, new: &NewQqBinding<'_>) -> QueryResult<QqBinding> {
    diesel::insert_into(tb_oauth_qq::table)
        .values(new)
        .returning(QqBinding::as_returning())
        .get_result(conn)
}

pub fn count(conn: &mut SqliteConnection) -> QueryResult<i64> {
    tb_oauth_qq::table.count().get_result(conn)
}
