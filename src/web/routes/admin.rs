//! `/admin/`: the operators' pages (spec section 7). Every handler takes [`Staff`], so
//! none can forget the check; every change is a CSRF-checked, confirmed POST that writes
//! an audit entry.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::{check_csrf, csrf_token};
use crate::accounts;
use crate::db::admin::{self, Page};
use crate::db::audit::{Channel, Origin};
use crate::db::{self, audit::Action, identities::Identity, users::User};
use crate::domain::Provider;
use crate::state::AppState;
use crate::web::auth::Staff;
use crate::web::error::AppError;
use crate::web::session::TypedSession;
use crate::web::views::beijing_time;
use crate::web::views::render;
use crate::web::views::{confirmed, ConfirmPage, Nav};

/// Longest search text accepted (longer is not a username, mobile or openid).
const MAX_SEARCH: usize = 64;

pub fn configure(cfg: &mut web::ServiceConfig) {
    // The dashboard and the exports (their own modules) are registered beside this.
    cfg.service(web::resource("/admin/users/").route(web::get().to(users)))
        .service(web::resource("/admin/users/{id}/mobile/").route(web::post().to(change_mobile)))
        .service(web::resource("/admin/users/{id}/").route(web::get().to(user)))
        .service(web::resource("/admin/users/{id}/{change}/").route(web::post().to(change)))
        .service(web::resource("/admin/bindings/").route(web::get().to(bindings)))
        .service(web::resource("/admin/audit/").route(web::get().to(audit_log)));
}

/// Which tab of the admin header is lit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Dashboard,
    Users,
    Bindings,
    Audit,
}

/// What every admin page shows around its content.
pub struct Frame {
    pub operator: String,
    pub tab: Tab,
    pub flash: Option<String>,
    /// The operator may export, change mobiles, make staff.
    pub superuser: bool,
}

impl Frame {
    pub fn new(session: &TypedSession, operator: &User, tab: Tab) -> Result<Self, AppError> {
        Ok(Self {
            operator: operator.username.clone(),
            tab,
            flash: session.take_flash()?,
            superuser: operator.is_superuser,
        })
    }
}

/// Page links for a list, keeping its filters.
pub struct Pager {
    pub page: i64,
    pub pages: i64,
    pub total: i64,
    /// `total` is a floor: the search matched more than it counts.
    pub capped: bool,
    pub prev: Option<String>,
    pub next: Option<String>,
    /// Numbered links: (page, link).
    pub numbers: Vec<(i64, String)>,
    first: String,
}

impl Pager {
    /// The links of `page` of the list at `path`; `filters` are its other query
    /// parameters (empty ones are left out).
    fn new(path: &str, filters: &[(&str, &str)], page: Page) -> Self {
        let link = |p: i64| {
            let mut q = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in filters.iter().filter(|(_, v)| !v.is_empty()) {
                q.append_pair(k, v);
            }
            if p > 1 {
                q.append_pair("page", &p.to_string());
            }
            let q = q.finish();
            if q.is_empty() {
                path.to_owned()
            } else {
                format!("{path}?{q}")
            }
        };
        // Page numbers around this one: the first, the last, and two either side.
        let numbers = (1..=page.pages)
            .filter(|p| *p == 1 || *p == page.pages || (p - page.number).abs() <= 2)
            .map(|p| (p, link(p)))
            .collect();
        Self {
            page: page.number,
            pages: page.pages,
            total: page.total,
            capped: page.capped,
            prev: (page.number > 1).then(|| link(page.number - 1)),
            next: (page.number < page.pages).then(|| link(page.number + 1)),
            numbers,
            first: link(1),
        }
    }

    /// The list's first page with its filters (an export's address).
    pub fn first_link(self) -> String {
        self.first
    }

    /// Whether page `n` of the numbered links follows a gap (…).
    pub fn gap_before(&self, i: &usize) -> bool {
        *i > 0 && self.numbers[*i].0 - self.numbers[*i - 1].0 > 1
    }
}

/// A search box's text: trimmed, bounded, printable.
fn search_text(raw: Option<&str>) -> Result<String, AppError> {
    let q = raw.unwrap_or_default().trim();
    if q.chars().count() > MAX_SEARCH {
        return Err(AppError::BadRequest("搜索内容过长".into()));
    }
    if q.chars().any(char::is_control) {
        return Err(AppError::BadRequest("搜索内容含有无效字符".into()));
    }
    Ok(q.to_owned())
}

fn time(at: Option<chrono::NaiveDateTime>) -> String {
    at.map(beijing_time).unwrap_or_else(|| "—".to_owned())
}

// ------------------------------------------------------------------ users

pub struct UserListRow {
    id: i32,
    username: String,
    mobile: String,
    nickname: String,
    is_staff: bool,
    is_active: bool,
    date_joined: String,
    /// The QQ openid, when bound.
    openid: Option<String>,
    /// The other providers bound (`微信`, `微博`).
    others: Vec<&'static str>,
}

#[derive(Template)]
#[template(path = "admin/users.html")]
struct UsersPage {
    nav: Nav,
    frame: Frame,
    q: String,
    tail: String,
    nickname: String,
    rows: Vec<UserListRow>,
    pager: Pager,
    /// The export of this very list.
    export: String,
}

#[derive(Deserialize)]
pub struct UsersQuery {
    q: Option<String>,
    /// The mobile's last digits (尾号).
    tail: Option<String>,
    nickname: Option<String>,
    page: Option<u32>,
}

/// The users list's filter from its query (the page's and its export's).
pub fn users_filter(query: &UsersQuery) -> Result<db::users::Filter, AppError> {
    let tail = search_text(query.tail.as_deref())?;
    if !tail.is_empty() && (tail.len() > 11 || !tail.bytes().all(|b| b.is_ascii_digit())) {
        return Err(AppError::BadRequest("手机尾号只能是数字".into()));
    }
    Ok(db::users::Filter {
        q: search_text(query.q.as_deref())?,
        tail,
        nickname: search_text(query.nickname.as_deref())?,
    })
}

/// `GET /admin/users/?q=&page=`: accounts whose username or mobile starts with `q`,
/// newest first, 50 a page, with their QQ binding.
pub async fn users(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
    Staff(operator): Staff,
    query: web::Query<UsersQuery>,
) -> Result<HttpResponse, AppError> {
    let filter = users_filter(&query)?;
    let (search, page) = (filter.clone(), query.page);
    let listed = state
        .db
        .read(move |c| Ok(admin::users(c, &search, page)?))
        .await?;
    let fields = [
        ("q", filter.q.as_str()),
        ("tail", filter.tail.as_str()),
        ("nickname", filter.nickname.as_str()),
    ];
    let pager = Pager::new("/admin/users/", &fields, listed.page);
    let export =
        Pager::new("/admin/users/export.csv", &fields, Page::new(None, 0, None)).first_link();
    let q = filter.q.clone();
    let rows = listed
        .rows
        .into_iter()
        .map(|(u, b)| UserListRow {
            id: u.id,
            username: u.username,
            mobile: u.mobile,
            nickname: u.nickname,
            is_staff: u.is_staff,
            is_active: u.is_active,
            date_joined: beijing_time(u.date_joined),
            others: b
                .iter()
                .filter(|i| i.provider != "qq")
                .map(Identity::provider_label)
                .collect(),
            openid: b.into_iter().find(|i| i.provider == "qq").map(|b| b.openid),
        })
        .collect();
    render(
        StatusCode::OK,
        &UsersPage {
            nav: Nav::from_request(&req),
            frame: Frame::new(&session, &operator, Tab::Users)?,
            q,
            tail: filter.tail,
            nickname: filter.nickname,
            rows,
            pager,
            export,
        },
    )
}

/// One audit entry as the pages show it.
pub struct AuditRow {
    time: String,
    actor: Option<(i32, String)>,
    action: String,
    target: Option<(i32, String)>,
    detail: String,
    /// The way in (网页 / API / 后台 / 命令行) and the client's address.
    channel: &'static str,
    ip: String,
}

/// How the audit pages name a channel (entries from before it was recorded: "—").
fn channel_label(channel: &str) -> &'static str {
    match channel {
        "form" => "网页",
        "api" => "API",
        "admin" => "后台",
        "cli" => "命令行",
        _ => "—",
    }
}

/// Lays out audit entries for a page.
fn audit_rows(entries: Vec<admin::NamedEntry>) -> Vec<AuditRow> {
    entries
        .into_iter()
        .map(|n| AuditRow {
            time: beijing_time(n.entry.created_at),
            actor: n.actor,
            action: Action::describe(&n.entry.action, &n.entry.detail),
            target: n.target,
            detail: n.entry.detail,
            channel: channel_label(&n.entry.channel),
            ip: n.entry.ip,
        })
        .collect()
}

#[derive(Template)]
#[template(path = "admin/user.html")]
struct UserPage {
    nav: Nav,
    frame: Frame,
    csrf_token: String,
    user: User,
    date_joined: String,
    last_login: String,
    /// Every identity of the account, with when it was bound.
    identities: Vec<(Identity, String)>,
    audit: Vec<AuditRow>,
    is_self: bool,
    /// The account's live sessions (强制下线 per session and for all).
    sessions: Vec<super::info::SessionRow>,
}

/// `GET /admin/users/<id>/`: an account, its binding, its audit entries, the actions.
pub async fn user(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
    Staff(operator): Staff,
    path: web::Path<i32>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let found = state
        .db
        .read(move |c| Ok(admin::user_details(c, id)?))
        .await?;
    let (user, binding, entries) = found.ok_or(AppError::NotFound)?;
    let audit = audit_rows(entries);
    let sessions = super::info::session_rows(&state, id, None).await?;
    render(
        StatusCode::OK,
        &UserPage {
            nav: Nav::from_request(&req),
            frame: Frame::new(&session, &operator, Tab::Users)?,
            csrf_token: csrf_token(&state, &session)?,
            date_joined: beijing_time(user.date_joined),
            last_login: time(user.last_login),
            identities: binding
                .into_iter()
                .map(|b| {
                    let since = beijing_time(b.bound_at);
                    (b, since)
                })
                .collect(),
            audit,
            is_self: user.id == operator.id,
            sessions,
            user,
        },
    )
}

#[derive(Deserialize)]
pub struct ChangeForm {
    csrf_token: Option<String>,
    confirm: Option<String>,
    /// Why the account is disabled (required to disable).
    reason: Option<String>,
    /// The session to end (强制下线 one); absent: all of them.
    session: Option<String>,
}

/// What an operator can do to an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    Disable,
    Enable,
    Unbind,
    /// 强制下线: one session, or all.
    Logout,
    /// Superusers only.
    MakeStaff,
    RevokeStaff,
}

impl Change {
    const ALL: [Self; 6] = [
        Self::Disable,
        Self::Enable,
        Self::Unbind,
        Self::Logout,
        Self::MakeStaff,
        Self::RevokeStaff,
    ];

    fn slug(self) -> &'static str {
        match self {
            Self::Disable => "disable",
            Self::Enable => "enable",
            Self::Unbind => "unbind",
            Self::Logout => "logout",
            Self::MakeStaff => "staff",
            Self::RevokeStaff => "unstaff",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Self::Disable => "禁用账号",
            Self::Enable => "启用账号",
            Self::Unbind => "解除绑定",
            Self::Logout => "强制下线",
            Self::MakeStaff => "设为管理员",
            Self::RevokeStaff => "取消管理员",
        }
    }

    fn superuser_only(self) -> bool {
        matches!(self, Self::MakeStaff | Self::RevokeStaff)
    }

    fn question(self, user: &User, provider: Provider) -> String {
        let p = provider.label();
        let who = format!("{}（手机号 {}）", user.username, user.mobile);
        match self {
            Self::Disable => {
                format!("确定禁用账号 {who} 吗？禁用后该账号不能再以任何方式登录（密码或QQ、微信、微博），已登录的会话立即失效。")
            }
            Self::Enable => format!("确定启用账号 {who} 吗？"),
            Self::Unbind => {
                format!("确定解除账号 {who} 的{p}绑定吗？该{p}下次登录时需要重新绑定。")
            }
            Self::Logout => format!("确定让账号 {who} 的登录设备强制下线吗？"),
            Self::MakeStaff => {
                format!("确定把账号 {who} 设为管理员吗？管理员可以查看、禁用和解绑账号。")
            }
            Self::RevokeStaff => format!("确定取消账号 {who} 的管理员身份吗？"),
        }
    }
}

/// `POST /admin/users/<id>/{disable,enable,unbind}/`: checks CSRF, asks for
/// confirmation, then makes the change happen (with its audit entry) and goes back to the
/// account's page with a notice.
pub async fn change(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
    Staff(operator): Staff,
    path: web::Path<(i32, String)>,
    which: web::Query<ProviderQuery>,
    form: web::Form<ChangeForm>,
) -> Result<HttpResponse, AppError> {
    let (id, slug) = path.into_inner();
    let provider = match which.provider.as_deref() {
        None | Some("") => Provider::Qq,
        Some(p) => Provider::parse(p).ok_or(AppError::NotFound)?,
    };
    let what = Change::ALL
        .into_iter()
        .find(|c| c.slug() == slug)
        .ok_or(AppError::NotFound)?;
    check_csrf(&state, &session, form.csrf_token.as_deref())?;
    if what.superuser_only() && !operator.is_superuser {
        return Err(AppError::Forbidden("需要超级管理员权限".into()));
    }
    let reason = form
        .reason
        .as_deref()
        .map(str::trim)
        .unwrap_or_default()
        .to_owned();
    let target = state
        .db
        .read(move |c| Ok(db::users::find_by_id(c, id)?))
        .await?
        .ok_or(AppError::NotFound)?;
    if what == Change::Disable && target.id == operator.id {
        return Err(AppError::BadRequest("不能禁用自己的账号".into()));
    }
    let page = format!("/admin/users/{id}/");
    // The user page's disable form carries its reason: that is its confirmation.
    let asked =
        confirmed(form.confirm.as_deref()) || (what == Change::Disable && !reason.is_empty());
    if !asked {
        return ConfirmPage {
            nav: Nav::from_request(&req),
            csrf_token: csrf_token(&state, &session)?,
            title: what.title(),
            question: what.question(&target, provider),
            action: match (what, provider) {
                (Change::Unbind, p) if !p.is_qq() => {
                    format!("/admin/users/{id}/unbind/?provider={p}")
                }
                _ => format!("/admin/users/{id}/{}/", what.slug()),
            },
            button: what.title(),
            cancel: page,
            reason: what == Change::Disable,
        }
        .respond();
    }
    if what == Change::Disable
        && (reason.is_empty()
            || reason.chars().count() > 200
            || reason.chars().any(char::is_control))
    {
        return Err(AppError::BadRequest("请填写禁用原因（1-200个字）".into()));
    }
    let origin = super::origin(&state, &req, Channel::Admin);
    let notice = match what {
        Change::Logout => {
            let ended = match form.session.as_deref().filter(|h| !h.is_empty()) {
                Some(handle) => usize::from(crate::sessions::end(&state.codes, id, handle).await?),
                None => {
                    // Every session, listed or not, and every API token.
                    let n = crate::sessions::end_all_but(&state.codes, id, None).await?;
                    state
                        .db
                        .write(move |c| Ok(db::users::raise_session_epoch(c, id)?))
                        .await?;
                    n
                }
            };
            accounts::record_by(
                &state.db,
                Some(operator.id),
                id,
                Action::SessionsEnded,
                &format!("sessions={ended} by=operator"),
                &origin,
            )
            .await?;
            format!("已强制下线{ended}个会话")
        }
        Change::MakeStaff | Change::RevokeStaff => {
            let on = what == Change::MakeStaff;
            if target.id == operator.id {
                return Err(AppError::BadRequest("不能修改自己的管理员身份".into()));
            }
            let changed = state
                .db
                .write(move |c| Ok(db::users::set_staff(c, id, on)?))
                .await?;
            if changed > 0 {
                let action = if on {
                    Action::StaffGranted
                } else {
                    Action::StaffRevoked
                };
                accounts::record_by(&state.db, Some(operator.id), id, action, "", &origin).await?;
            }
            match (on, changed > 0) {
                (true, true) => "已设为管理员".to_owned(),
                (false, true) => "已取消管理员身份".to_owned(),
                (true, false) => "该账号本来就是管理员".to_owned(),
                (false, false) => "该账号本来就不是管理员".to_owned(),
            }
        }
        Change::Disable | Change::Enable => {
            let active = what == Change::Enable;
            if accounts::set_active_because(&state.db, &operator, id, active, &reason, &origin)
                .await?
            {
                tracing::info!(
                    operator = operator.id,
                    user_id = id,
                    active,
                    "account status changed"
                );
                if active {
                    "已启用该账号".to_owned()
                } else {
                    "已禁用该账号".to_owned()
                }
            } else if active {
                "该账号本来就是启用状态".to_owned()
            } else {
                "该账号本来就是禁用状态".to_owned()
            }
        }
        Change::Unbind => {
            let p = provider.label();
            match accounts::unbind(&state.db, &operator, id, provider, &origin).await? {
                accounts::Unbound::LastWayIn => {
                    return Err(AppError::Conflict(accounts::LAST_WAY_IN.to_owned()))
                }
                accounts::Unbound::Removed(_) => {
                    tracing::info!(
                        operator = operator.id,
                        user_id = id,
                        provider = %provider,
                        "identity unbound by an operator"
                    );
                    format!("已解除该账号的{p}绑定")
                }
                accounts::Unbound::NotBound => format!("该账号没有绑定{p}"),
            }
        }
    };
    session.set_flash(&notice)?;
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, page))
        .finish())
}

// ------------------------------------------------------------------ bindings

pub struct BindingRow {
    user_id: i32,
    username: String,
    mobile: String,
    provider: &'static str,
    provider_label: &'static str,
    /// `openid`, or Weibo's `uid`.
    id_name: &'static str,
    openid: String,
    unionid: String,
    since: String,
}

#[derive(Template)]
#[template(path = "admin/bindings.html")]
struct BindingsPage {
    nav: Nav,
    frame: Frame,
    csrf_token: String,
    openid: String,
    /// The provider filter (`qq`, `wechat`, `weibo`; empty: all).
    provider: String,
    rows: Vec<BindingRow>,
    pager: Pager,
    export: String,
}

#[derive(Deserialize)]
pub struct BindingsQuery {
    openid: Option<String>,
    provider: Option<String>,
    page: Option<u32>,
}

/// The identities list's filter from its query (the page's and its export's).
pub fn bindings_filter(query: &BindingsQuery) -> Result<db::identities::Filter, AppError> {
    let openid = search_text(query.openid.as_deref())?;
    let provider = match query.provider.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(p) => Some(
            Provider::parse(p).ok_or_else(|| AppError::BadRequest("没有这个登录方式".into()))?,
        ),
    };
    Ok(db::identities::Filter {
        provider,
        prefix: openid,
    })
}

/// `?provider=`: which provider's identity a change or a list is about.
#[derive(Deserialize)]
pub struct ProviderQuery {
    provider: Option<String>,
}

/// `GET /admin/bindings/?openid=&page=`: QQ bindings whose openid starts with `openid`.
pub async fn bindings(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
    Staff(operator): Staff,
    query: web::Query<BindingsQuery>,
) -> Result<HttpResponse, AppError> {
    let filter = bindings_filter(&query)?;
    let (openid, provider) = (filter.prefix.clone(), filter.provider);
    let page = query.page;
    let listed = state
        .db
        .read(move |c| Ok(admin::bindings(c, &filter, page)?))
        .await?;
    let provider = provider
        .map(Provider::as_str)
        .unwrap_or_default()
        .to_owned();
    let fields = [("openid", openid.as_str()), ("provider", provider.as_str())];
    let pager = Pager::new("/admin/bindings/", &fields, listed.page);
    let export = Pager::new(
        "/admin/bindings/export.csv",
        &fields,
        Page::new(None, 0, None),
    )
    .first_link();
    let rows = listed
        .rows
        .into_iter()
        .map(|(b, u)| BindingRow {
            user_id: u.id,
            username: u.username,
            mobile: u.mobile,
            provider: b.provider().map_or("qq", Provider::as_str),
            provider_label: b.provider_label(),
            id_name: b.id_name(),
            openid: b.openid,
            unionid: b.unionid.unwrap_or_default(),
            since: beijing_time(b.bound_at),
        })
        .collect();
    render(
        StatusCode::OK,
        &BindingsPage {
            nav: Nav::from_request(&req),
            frame: Frame::new(&session, &operator, Tab::Bindings)?,
            csrf_token: csrf_token(&state, &session)?,
            openid,
            provider,
            rows,
            pager,
            export,
        },
    )
}

// ------------------------------------------------------------------ audit log

/// One choice of the audit page's action filter.
pub struct ActionOption {
    value: &'static str,
    label: &'static str,
    selected: bool,
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct AuditPage {
    nav: Nav,
    frame: Frame,
    user: String,
    actions: Vec<ActionOption>,
    unknown_user: bool,
    audit: Vec<AuditRow>,
    pager: Pager,
    from: String,
    until: String,
    export: String,
}

#[derive(Deserialize)]
pub struct AuditQuery {
    /// A username or mobile: entries done by or to that account.
    user: Option<String>,
    action: Option<String>,
    /// Days (Beijing time, `YYYY-MM-DD`), both included.
    from: Option<String>,
    until: Option<String>,
    page: Option<u32>,
}

/// A day as operators type it (Beijing time) → its start in UTC.
fn beijing_day(raw: Option<&str>, field: &str) -> Result<Option<chrono::NaiveDateTime>, AppError> {
    let raw = raw.unwrap_or_default().trim();
    if raw.is_empty() {
        return Ok(None);
    }
    let day = chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .map_err(|_| AppError::BadRequest(format!("{field}须为日期，如 2026-12-01")))?;
    Ok(day
        .and_hms_opt(0, 0, 0)
        .map(|t| t - chrono::Duration::hours(8)))
}

/// The audit list's filter fields from its query: who, which action, which days.
pub type AuditFields = (
    String,
    Option<Action>,
    (Option<chrono::NaiveDateTime>, Option<chrono::NaiveDateTime>),
);

pub fn audit_query(query: &AuditQuery) -> Result<AuditFields, AppError> {
    let user = search_text(query.user.as_deref())?;
    let action = match query.action.as_deref().unwrap_or_default().trim() {
        "" => None,
        a => Some(Action::parse(a).ok_or_else(|| AppError::BadRequest("未知的操作类型".into()))?),
    };
    let from = beijing_day(query.from.as_deref(), "开始日期")?;
    // `until` names the last day included: up to the next day's start.
    let until =
        beijing_day(query.until.as_deref(), "结束日期")?.map(|t| t + chrono::Duration::days(1));
    if let (Some(f), Some(u)) = (from, until) {
        if f >= u {
            return Err(AppError::BadRequest("开始日期不能晚于结束日期".into()));
        }
    }
    Ok((user, action, (from, until)))
}

/// `GET /admin/audit/?user=&action=&page=`: the audit log, newest first.
pub async fn audit_log(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
    Staff(operator): Staff,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, AppError> {
    let (user, action, range) = audit_query(&query)?;
    let action_raw = action.map(Action::as_str).unwrap_or_default();
    let (who, page) = (user.clone(), query.page);
    let listed = state
        .db
        .read(move |c| Ok(admin::audit_log(c, &who, action, range, page)?))
        .await?;
    let (from, until) = (
        query.from.as_deref().unwrap_or_default().trim().to_owned(),
        query.until.as_deref().unwrap_or_default().trim().to_owned(),
    );
    let filters = [
        ("user", user.as_str()),
        ("action", action_raw),
        ("from", from.as_str()),
        ("until", until.as_str()),
    ];
    let export = Pager::new(
        "/admin/audit/export.csv",
        &filters,
        Page::new(None, 0, None),
    )
    .first_link();
    let (audit, pager, unknown_user) = match listed {
        Some(l) => (
            audit_rows(l.rows),
            Pager::new("/admin/audit/", &filters, l.page),
            false,
        ),
        None => (
            Vec::new(),
            Pager::new("/admin/audit/", &[], Page::new(None, 0, None)),
            true,
        ),
    };
    render(
        StatusCode::OK,
        &AuditPage {
            nav: Nav::from_request(&req),
            frame: Frame::new(&session, &operator, Tab::Audit)?,
            user,
            actions: Action::ALL
                .iter()
                .map(|a| ActionOption {
                    value: a.as_str(),
                    label: a.label(),
                    selected: action == Some(*a),
                })
                .collect(),
            unknown_user,
            audit,
            pager,
            from,
            until,
            export,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pager_keeps_the_filters_in_its_links() {
        let p = Pager::new(
            "/admin/users/",
            &[("q", "13 8"), ("x", "")],
            Page::new(Some(2), 120, None),
        );
        assert_eq!((p.page, p.pages, p.total, p.capped), (2, 3, 120, false));
        assert_eq!(p.prev.as_deref(), Some("/admin/users/?q=13+8"));
        assert_eq!(p.next.as_deref(), Some("/admin/users/?q=13+8&page=3"));
        let p = Pager::new("/admin/audit/", &[], Page::new(Some(99), 120, None));
        assert_eq!((p.page, p.next.as_deref()), (3, None));
        let p = Pager::new("/admin/audit/", &[], Page::new(Some(0), 0, None));
        assert_eq!((p.page, p.pages, p.prev.as_deref()), (1, 1, None));
    }
}

// ------------------------------------------------------------------ assisted changes

#[derive(Deserialize)]
pub struct MobileForm {
    csrf_token: Option<String>,
    mobile: Option<String>,
    /// `send`: a code to the new mobile, which the customer reads out.
    action: Option<String>,
    sms_code: Option<String>,
    /// Without a code: why the operator changes it on their own word.
    reason: Option<String>,
}

/// `POST /admin/users/<id>/mobile/` (superusers): a customer's new mobile, verified by a
/// code sent to it (`action=send`, then `sms_code`), or on the operator's word with a
/// reason. Every session of the account ends; the audit log says how.
pub async fn change_mobile(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
    crate::web::auth::Superuser(operator): crate::web::auth::Superuser,
    path: web::Path<i32>,
    form: web::Form<MobileForm>,
) -> Result<HttpResponse, AppError> {
    use crate::codes::{service, Purpose};
    check_csrf(&state, &session, form.csrf_token.as_deref())?;
    let id = path.into_inner();
    let target = state
        .db
        .read(move |c| Ok(db::users::find_by_id(c, id)?))
        .await?
        .ok_or(AppError::NotFound)?;
    let page = format!("/admin/users/{id}/");
    let mobile = crate::domain::Mobile::parse(form.mobile.as_deref().unwrap_or_default().trim())
        .ok_or_else(|| AppError::BadRequest("请输入正确的手机号码".into()))?;
    if mobile.as_str() == target.mobile {
        return Err(AppError::BadRequest("新手机号与原手机号相同".into()));
    }
    let client = super::client(&state, &req);
    if form.action.as_deref() == Some("send") {
        match service::send_own_code(
            &state.codes,
            &state.sms,
            state.settings.rate_limits,
            &client.bucket(),
            &mobile,
            Purpose::Bind,
        )
        .await
        {
            Ok(()) => {}
            Err(service::SendSmsError::Limited(l)) => return Err(AppError::Limited(l)),
            Err(service::SendSmsError::Unavailable(e)) => return Err(e.into()),
            Err(e) => return Err(AppError::BadRequest(e.to_string())),
        }
        session.set_flash(&format!(
            "验证码已发送至 {}，请客户告知后填写",
            mobile.masked()
        ))?;
        return Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, page))
            .finish());
    }
    let code = form.sms_code.as_deref().map(str::trim).unwrap_or_default();
    let reason = form
        .reason
        .as_deref()
        .map(str::trim)
        .unwrap_or_default()
        .to_owned();
    let how = if !code.is_empty() {
        service::check_sms_code(&state.codes, Purpose::Bind, &mobile, code)
            .await
            .map_err(|e| match e {
                service::SmsCodeError::Store(s) => AppError::from(s),
                other => AppError::BadRequest(other.to_string()),
            })?;
        service::consume_sms_code(&state.codes, Purpose::Bind, &mobile, code)
            .await
            .map_err(|e| AppError::BadRequest(e.to_string()))?;
        "sms".to_owned()
    } else if !reason.is_empty()
        && reason.chars().count() <= 200
        && !reason.chars().any(char::is_control)
    {
        format!("operator reason={reason}")
    } else {
        return Err(AppError::BadRequest(
            "请填写客户收到的验证码，或填写更换原因（1-200个字）".into(),
        ));
    };
    let origin = Origin::new(client.address(), Channel::Admin);
    let detail = format!(
        "from={} to={} by={how}",
        crate::domain::Mobile::parse(&target.mobile)
            .map(|m| m.masked())
            .unwrap_or_else(|| crate::domain::mask_middle(&target.mobile)),
        mobile.masked()
    );
    let (new, actor) = (mobile.as_str().to_owned(), operator.id);
    let changed = state
        .db
        .write(move |c| {
            Ok(db::transaction(c, |c| {
                let n = db::users::set_mobile(c, id, &new)?;
                db::audit::record(
                    c,
                    Some(actor),
                    Action::MobileChanged,
                    Some(id),
                    &detail,
                    db::now(),
                    &origin,
                )?;
                Ok::<_, diesel::result::Error>(n)
            }))
        })
        .await?;
    match changed {
        Ok(_) => {
            let _ = crate::sessions::end_all_but(&state.codes, id, None).await;
            session.set_flash(&format!(
                "手机号已更换为 {}，该账号已在所有设备上退出",
                mobile.masked()
            ))?;
            Ok(HttpResponse::SeeOther()
                .insert_header((header::LOCATION, page))
                .finish())
        }
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => Err(AppError::Conflict("该手机号已被其他账号使用".into())),
        Err(e) => Err(AppError::from(db::DbError::from(e))),
    }
}
