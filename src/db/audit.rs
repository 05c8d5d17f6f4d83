//! `tb_audit_log`: who did what to which account, and when.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::tb_audit_log;

/// What happened. Stored as its `as_str` name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// A new account was made by the QQ bind form.
    UserCreatedByQq,
    QqBind,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UserCreatedByQq => "user_created_by_qq",
            Self::QqBind => "qq_bind",
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = tb_audit_log)]
pub struct AuditEntry {
    pub id: i32,
    pub actor_id: Option<i32>,
    pub action: String,
    pub target_user_id: Option<i32>,
    pub detail: String,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = tb_audit_log)]
struct NewAuditEntry<'a> {
    actor_id: Option<i32>,
    action: &'a str,
    target_user_id: Option<i32>,
    detail: &'a str,
    created_at: NaiveDateTime,
}

pub fn record(
    conn: &mut SqliteConnection,
    actor_id: Option<i32>,
    action: Action,
    target_user_id: Option<i32>,
    detail: &str,
    at: NaiveDateTime,
) -> QueryResult<()> {
    diesel::insert_into(tb_audit_log::table)
        .values(NewAuditEntry {
            actor_id,
            action: action.as_str(),
            target_user_id,
            detail,
            created_at: at,
        })
        .execute(conn)
        .map(|_| ())
}

/// A user's entries, newest first.
pub fn for_user(conn: &mut SqliteConnection, user_id: i32) -> QueryResult<Vec<AuditEntry>> {
    tb_audit_log::table
        .filter(tb_audit_log::target_user_id.eq(user_id))
        .order((tb_audit_log::created_at.desc(), tb_audit_log::id.desc()))
        .select(AuditEntry::as_select())
        .load(conn)
}
