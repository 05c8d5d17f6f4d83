//! `tb_audit_log`: who did what to which account, and when.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::tb_audit_log;
use super::{AnyConnection, MultiBackend};
use crate::domain::Provider;

/// What happened. Stored as its `as_str` name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// A new account was made by the QQ bind form.
    UserCreatedByQq,
    QqBind,
    /// By the account's owner (/info/) or an operator (/admin/).
    QqUnbind,
    UserRegistered,
    UserDisabled,
    UserEnabled,
    /// `qqbind createsuperuser` (no actor).
    SuperuserCreated,
    /// A new password set by a code sent to the account's mobile (找回密码).
    PasswordReset,
    /// A new password set by the owner, with the old one (/info/password/).
    PasswordChanged,
    /// A new account was made by the bind form of WeChat or Weibo (QQ's has its own).
    UserCreatedByIdentity,
    /// A WeChat or Weibo identity bound (QQ's has its own); the detail names the provider.
    IdentityBind,
    IdentityUnbind,
    /// A new openid whose unionid led to the account, confirmed by the person.
    SamePersonLogin,
    /// The owner asked to close the account (a cooling-off period runs).
    AccountCloseRequested,
    /// A login during the cooling-off cancelled the closing.
    AccountCloseCancelled,
    /// The account was erased (注销); the entry keeps its id only.
    AccountClosed,
    /// The owner accepted the documents in force at the consent page.
    ConsentGiven,
    /// An operator exported a list (CSV); the detail names which and its filters.
    Exported,
    /// An operator changed the account's mobile (verified by SMS, or with a reason).
    MobileChanged,
    /// An operator made the account staff, or took it away.
    StaffGranted,
    StaffRevoked,
    /// Sessions ended from the session list (by the owner or an operator).
    SessionsEnded,
}

impl Action {
    pub const ALL: [Self; 22] = [
        Self::UserCreatedByQq,
        Self::QqBind,
        Self::QqUnbind,
        Self::UserRegistered,
        Self::UserDisabled,
        Self::UserEnabled,
        Self::SuperuserCreated,
        Self::PasswordReset,
        Self::PasswordChanged,
        Self::UserCreatedByIdentity,
        Self::IdentityBind,
        Self::IdentityUnbind,
        Self::SamePersonLogin,
        Self::AccountCloseRequested,
        Self::AccountCloseCancelled,
        Self::AccountClosed,
        Self::ConsentGiven,
        Self::Exported,
        Self::MobileChanged,
        Self::StaffGranted,
        Self::StaffRevoked,
        Self::SessionsEnded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::UserCreatedByQq => "user_created_by_qq",
            Self::QqBind => "qq_bind",
            Self::QqUnbind => "qq_unbind",
            Self::UserRegistered => "user_registered",
            Self::UserDisabled => "user_disabled",
            Self::UserEnabled => "user_enabled",
            Self::SuperuserCreated => "superuser_created",
            Self::PasswordReset => "password_reset",
            Self::PasswordChanged => "password_changed",
            Self::UserCreatedByIdentity => "user_created_by_identity",
            Self::IdentityBind => "identity_bind",
            Self::IdentityUnbind => "identity_unbind",
            Self::SamePersonLogin => "same_person_login",
            Self::AccountCloseRequested => "account_close_requested",
            Self::AccountCloseCancelled => "account_close_cancelled",
            Self::AccountClosed => "account_closed",
            Self::ConsentGiven => "consent_given",
            Self::Exported => "exported",
            Self::MobileChanged => "mobile_changed",
            Self::StaffGranted => "staff_granted",
            Self::StaffRevoked => "staff_revoked",
            Self::SessionsEnded => "sessions_ended",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// How the operators' pages name an entry of `action` with `detail`: a WeChat or
    /// Weibo entry names the provider its detail gives (`provider=weibo …`); an action
    /// this version does not know keeps its stored name.
    pub fn describe(action: &str, detail: &str) -> String {
        let Some(a) = Self::parse(action) else {
            return action.to_owned();
        };
        let provider = detail
            .split(' ')
            .find_map(|kv| kv.strip_prefix("provider="))
            .and_then(Provider::parse);
        match (a, provider) {
            (Self::UserCreatedByIdentity | Self::IdentityBind | Self::IdentityUnbind, Some(p)) => {
                a.label().replace("微信/微博", p.label())
            }
            _ => a.label().to_owned(),
        }
    }

    /// How the operators' pages name it.
    pub fn label(self) -> &'static str {
        match self {
            Self::UserCreatedByQq => "QQ绑定时创建账号",
            Self::QqBind => "绑定QQ",
            Self::QqUnbind => "解除QQ绑定",
            Self::UserRegistered => "注册账号",
            Self::UserDisabled => "禁用账号",
            Self::UserEnabled => "启用账号",
            Self::SuperuserCreated => "创建管理员",
            Self::PasswordReset => "找回密码",
            Self::PasswordChanged => "修改密码",
            Self::UserCreatedByIdentity => "微信/微博绑定时创建账号",
            Self::IdentityBind => "绑定微信/微博",
            Self::IdentityUnbind => "解除微信/微博绑定",
            Self::SamePersonLogin => "同一unionid的新openid确认登录",
            Self::AccountCloseRequested => "申请注销账号",
            Self::AccountCloseCancelled => "取消注销（登录）",
            Self::AccountClosed => "账号已注销",
            Self::ConsentGiven => "同意用户协议与隐私政策",
            Self::Exported => "导出数据",
            Self::MobileChanged => "更换手机号",
            Self::StaffGranted => "设为管理员",
            Self::StaffRevoked => "取消管理员",
            Self::SessionsEnded => "强制下线",
        }
    }

    /// What binding an identity of `provider` is recorded as (QQ keeps its own names).
    pub fn bind(provider: crate::domain::Provider) -> Self {
        match provider {
            crate::domain::Provider::Qq => Self::QqBind,
            _ => Self::IdentityBind,
        }
    }

    pub fn unbind(provider: crate::domain::Provider) -> Self {
        match provider {
            crate::domain::Provider::Qq => Self::QqUnbind,
            _ => Self::IdentityUnbind,
        }
    }

    /// An account made by the bind form of `provider`.
    pub fn created_by(provider: crate::domain::Provider) -> Self {
        match provider {
            crate::domain::Provider::Qq => Self::UserCreatedByQq,
            _ => Self::UserCreatedByIdentity,
        }
    }
}

/// The way into qqbind an audited change came by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// The server-rendered pages.
    Form,
    /// The JSON API (`/api/`).
    Api,
    /// The operators' pages (`/admin/`).
    Admin,
    /// The command line (`qqbind createsuperuser`).
    Cli,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Form => "form",
            Self::Api => "api",
            Self::Admin => "admin",
            Self::Cli => "cli",
        }
    }
}

/// Where an audited change came from: the client's address (empty for the command line)
/// and the channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub ip: String,
    pub channel: Channel,
    /// The browser's User-Agent (cut to 256 characters), where it matters: consents.
    pub user_agent: String,
}

impl Origin {
    pub fn new(ip: impl Into<String>, channel: Channel) -> Self {
        Self {
            ip: ip.into(),
            channel,
            user_agent: String::new(),
        }
    }

    pub fn with_user_agent(mut self, ua: &str) -> Self {
        self.user_agent = crate::domain::clean_user_agent(ua).into_owned();
        self
    }

    /// The command line: no client address.
    pub fn cli() -> Self {
        Self::new("", Channel::Cli)
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
    #[diesel(deserialize_as = super::time::SqlTime)]
    pub created_at: NaiveDateTime,
    pub ip: String,
    pub channel: String,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = tb_audit_log)]
struct NewAuditEntry<'a> {
    actor_id: Option<i32>,
    action: &'a str,
    target_user_id: Option<i32>,
    detail: &'a str,
    created_at: NaiveDateTime,
    ip: &'a str,
    channel: &'a str,
}

pub fn record(
    conn: &mut AnyConnection,
    actor_id: Option<i32>,
    action: Action,
    target_user_id: Option<i32>,
    detail: &str,
    at: NaiveDateTime,
    origin: &Origin,
) -> QueryResult<()> {
    diesel::insert_into(tb_audit_log::table)
        .values(NewAuditEntry {
            actor_id,
            action: action.as_str(),
            target_user_id,
            detail,
            created_at: at,
            ip: &origin.ip,
            channel: origin.channel.as_str(),
        })
        .execute(conn)
        .map(|_| ())
}

/// What the log keeps of a closed account: its entries lose their detail and address.
pub fn anonymise_about(conn: &mut AnyConnection, user_id: i32) -> QueryResult<usize> {
    diesel::update(tb_audit_log::table.filter(tb_audit_log::target_user_id.eq(user_id)))
        .set((tb_audit_log::detail.eq(""), tb_audit_log::ip.eq("")))
        .execute(conn)
}

/// A user's entries, newest first.
pub fn for_user(conn: &mut AnyConnection, user_id: i32) -> QueryResult<Vec<AuditEntry>> {
    tb_audit_log::table
        .filter(tb_audit_log::target_user_id.eq(user_id))
        .order(tb_audit_log::id.desc())
        .select(AuditEntry::as_select())
        .load(conn)
}

/// Which entries the operators' audit page shows.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Entries done by or to this account.
    pub user_id: Option<i32>,
    pub action: Option<Action>,
    /// Entries from this time on (UTC), and before this one.
    pub from: Option<NaiveDateTime>,
    pub until: Option<NaiveDateTime>,
}

fn matching(filter: &Filter) -> tb_audit_log::BoxedQuery<'static, MultiBackend> {
    let mut query = tb_audit_log::table.into_boxed();
    if let Some(uid) = filter.user_id {
        query = query.filter(
            tb_audit_log::actor_id
                .eq(uid)
                .or(tb_audit_log::target_user_id.eq(uid)),
        );
    }
    if let Some(action) = filter.action {
        query = query.filter(tb_audit_log::action.eq(action.as_str()));
    }
    if let Some(from) = filter.from {
        query = query.filter(tb_audit_log::created_at.ge(from));
    }
    if let Some(until) = filter.until {
        query = query.filter(tb_audit_log::created_at.lt(until));
    }
    query
}

/// One batch of an audit export: the entries `filter` lets through with an id below
/// `before`, newest first.
pub fn export_batch(
    conn: &mut AnyConnection,
    filter: &Filter,
    before: Option<i32>,
    limit: i64,
) -> QueryResult<Vec<AuditEntry>> {
    let mut query = matching(filter);
    if let Some(b) = before {
        query = query.filter(tb_audit_log::id.lt(b));
    }
    query
        .order(tb_audit_log::id.desc())
        .limit(limit)
        .select(AuditEntry::as_select())
        .load(conn)
}

/// Every entry of `action`s since `since` (the dashboard's counts), as (time, action).
pub fn since(
    conn: &mut AnyConnection,
    since: NaiveDateTime,
    actions: &[&str],
) -> QueryResult<Vec<(NaiveDateTime, String)>> {
    tb_audit_log::table
        .filter(tb_audit_log::created_at.ge(since))
        .filter(
            tb_audit_log::action
                .eq_any(actions.iter().map(|a| (*a).to_owned()).collect::<Vec<_>>()),
        )
        .select((tb_audit_log::created_at, tb_audit_log::action))
        .load(conn)
}

/// One page of the entries `filter` lets through, newest first (ids grow with time, and
/// every filter's index ends in the id: no sort of the whole log).
pub fn list(
    conn: &mut AnyConnection,
    filter: &Filter,
    offset: i64,
    limit: i64,
) -> QueryResult<Vec<AuditEntry>> {
    matching(filter)
        .order(tb_audit_log::id.desc())
        .offset(offset)
        .limit(limit)
        .select(AuditEntry::as_select())
        .load(conn)
}

pub fn count(conn: &mut AnyConnection, filter: &Filter) -> QueryResult<i64> {
    matching(filter).count().get_result(conn)
}

#[cfg(test)]
mod tests {
    use super::Action;

    /// An entry of WeChat or Weibo names its provider; others keep their label, and
    /// an action this version does not know keeps its stored name.
    #[test]
    fn an_entry_names_its_provider() {
        let d = Action::describe;
        assert_eq!(
            d("identity_bind", "provider=weibo openid=8032044542"),
            "绑定微博"
        );
        assert_eq!(
            d("identity_unbind", "provider=wechat openid=o1"),
            "解除微信绑定"
        );
        assert_eq!(
            d("user_created_by_identity", "provider=wechat openid=o1"),
            "微信绑定时创建账号"
        );
        assert_eq!(d("identity_bind", ""), "绑定微信/微博");
        assert_eq!(d("identity_bind", "provider=github"), "绑定微信/微博");
        assert_eq!(d("qq_bind", "provider=weibo"), "绑定QQ");
        assert_eq!(d("some_new_action", "x"), "some_new_action");
    }
}
