//! `tb_users`.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::tb_users;

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
    pub date_joined: NaiveDateTime,
    pub last_login: Option<NaiveDateTime>,
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

pub fn find_by_id(conn: &mut SqliteConnection, id: i32) -> QueryResult<Option<User>> {
    tb_users::table
        .find(id)
        .select(User::as_select())
        .first(conn)
        .optional()
}

pub fn find_by_mobile(conn: &mut SqliteConnection, mobile: &str) -> QueryResult<Option<User>> {
    tb_users::table
        .filter(tb_users::mobile.eq(mobile))
        .select(User::as_select())
        .first(conn)
        .optional()
}

/// The user whose username or mobile is `login` (the login form accepts either).
pub fn find_by_login(conn: &mut SqliteConnection, login: &str) -> QueryResult<Option<User>> {
    if let Some(u) = tb_users::table
        .filter(tb_users::username.eq(login))
        .select(User::as_select())
        .first(conn)
        .optional()?
    {
        return Ok(Some(u));
    }
    find_by_mobile(conn, login)
}

pub fn insert(conn: &mut SqliteConnection, new: &NewUser<'_>) -> QueryResult<User> {
    diesel::insert_into(tb_users::table)
        .values(new)
        .returning(User::as_returning())
        .get_result(conn)
}

pub fn touch_last_login(
    conn: &mut SqliteConnection,
    id: i32,
    at: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(tb_users::table.find(id))
        .set(tb_users::last_login.eq(Some(at)))
        .execute(conn)
        .map(|_| ())
}

/// Fills in the QQ nickname and avatar where the account has none yet.
pub fn adopt_profile(
    conn: &mut SqliteConnection,
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

pub fn count(conn: &mut SqliteConnection) -> QueryResult<i64> {
    tb_users::table.count().get_result(conn)
}
