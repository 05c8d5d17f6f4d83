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
    cfg.service(web::resource("/admin/").route(web::get().to(users)))
        .service(web::resource("/admin/users/").route(web::get().to(users)))
        .service(web::resource("/admin/users/{id}/").route(web::get().to(user)))
        .service(web::resource("/admin/users/{id}/{change}/").route(web::post().to(change)))
        .service(web::resource("/admin/bindings/").route(web::get().to(bindings)))
        .service(web::resource("/admin/audit/").route(web::get().to(audit_log)));
}

/// Which tab of the admin header is lit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Users,
    Bindings,
    Audit,
}

/// What every admin page shows around its content.
pub struct Frame {
    operator: String,
    tab: Tab,
    flash: Option<String>,
}

impl Frame {
    fn new(session: &TypedSession, operator: &User, tab: Tab) -> Result<Self, AppError> {
        Ok(Self {
            operator: operator.username.clone(),
            tab,
            flash: session.take_flash()?,
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
        Self {
            page: page.number,
            pages: page.pages,
            total: page.total,
            capped: page.capped,
            prev: (page.number > 1).then(|| link(page.number - 1)),
            next: (page.number < page.pages).then(|| link(page.number + 1)),
        }
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
    rows: Vec<UserListRow>,
    pager: Pager,
}

#[derive(Deserialize)]
pub struct UsersQuery {
    q: Option<String>,
    page: Option<u32>,
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
    let q = search_text(query.q.as_deref())?;
    let (search, page) = (q.clone(), query.page);
    let listed = state
        .db
        .read(move |c| Ok(admin::users(c, &search, page)?))
        .await?;
    let pager = Pager::new("/admin/users/", &[("q", &q)], listed.page);
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
            rows,
            pager,
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
            action: Action::parse(&n.entry.action)
                .map_or(n.entry.action.clone(), |a| a.label().to_owned()),
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
            user,
        },
    )
}

#[derive(Deserialize)]
pub struct ChangeForm {
    csrf_token: Option<String>,
    confirm: Option<String>,
}

/// What an operator can do to an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    Disable,
    Enable,
    Unbind,
}

impl Change {
    fn slug(self) -> &'static str {
        match self {
            Self::Disable => "disable",
            Self::Enable => "enable",
            Self::Unbind => "unbind",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Self::Disable => "禁用账号",
            Self::Enable => "启用账号",
            Self::Unbind => "解除绑定",
        }
    }

    fn question(self, user: &User, provider: Provider) -> String {
        let p = provider.label();
        let who = format!("{}（手机号 {}）", user.username, user.mobile);
        match self {
            Self::Disable => {
                format!("确定禁用账号 {who} 吗？禁用后该账号不能再用密码或QQ登录，已登录的会话立即失效。")
            }
            Self::Enable => format!("确定启用账号 {who} 吗？"),
            Self::Unbind => {
                format!("确定解除账号 {who} 的{p}绑定吗？该{p}下次登录时需要重新绑定。")
            }
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
    let what = [Change::Disable, Change::Enable, Change::Unbind]
        .into_iter()
        .find(|c| c.slug() == slug)
        .ok_or(AppError::NotFound)?;
    check_csrf(&state, &session, form.csrf_token.as_deref())?;
    let target = state
        .db
        .read(move |c| Ok(db::users::find_by_id(c, id)?))
        .await?
        .ok_or(AppError::NotFound)?;
    if what == Change::Disable && target.id == operator.id {
        return Err(AppError::BadRequest("不能禁用自己的账号".into()));
    }
    let page = format!("/admin/users/{id}/");
    if !confirmed(form.confirm.as_deref()) {
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
        }
        .respond();
    }
    let origin = Origin::new(super::client(&state, &req).address(), Channel::Admin);
    let notice = match what {
        Change::Disable | Change::Enable => {
            let active = what == Change::Enable;
            if accounts::set_active(&state.db, &operator, id, active, &origin).await? {
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
}

#[derive(Deserialize)]
pub struct BindingsQuery {
    openid: Option<String>,
    provider: Option<String>,
    page: Option<u32>,
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
    let openid = search_text(query.openid.as_deref())?;
    let provider = match query.provider.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(p) => Some(
            Provider::parse(p).ok_or_else(|| AppError::BadRequest("没有这个登录方式".into()))?,
        ),
    };
    let filter = db::identities::Filter {
        provider,
        prefix: openid.clone(),
    };
    let page = query.page;
    let listed = state
        .db
        .read(move |c| Ok(admin::bindings(c, &filter, page)?))
        .await?;
    let provider = provider
        .map(Provider::as_str)
        .unwrap_or_default()
        .to_owned();
    let pager = Pager::new(
        "/admin/bindings/",
        &[("openid", &openid), ("provider", &provider)],
        listed.page,
    );
    let rows = listed
        .rows
        .into_iter()
        .map(|(b, u)| BindingRow {
            user_id: u.id,
            username: u.username,
            mobile: u.mobile,
            provider: b.provider().map_or("qq", Provider::as_str),
            provider_label: b.provider_label(),
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
}

#[derive(Deserialize)]
pub struct AuditQuery {
    /// A username or mobile: entries done by or to that account.
    user: Option<String>,
    action: Option<String>,
    page: Option<u32>,
}

/// `GET /admin/audit/?user=&action=&page=`: the audit log, newest first.
pub async fn audit_log(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
    Staff(operator): Staff,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, AppError> {
    let user = search_text(query.user.as_deref())?;
    let action_raw = query
        .action
        .as_deref()
        .unwrap_or_default()
        .trim()
        .to_owned();
    let action = match action_raw.as_str() {
        "" => None,
        a => Some(Action::parse(a).ok_or_else(|| AppError::BadRequest("未知的操作类型".into()))?),
    };
    let (who, page) = (user.clone(), query.page);
    let listed = state
        .db
        .read(move |c| Ok(admin::audit_log(c, &who, action, page)?))
        .await?;
    let filters = [("user", user.as_str()), ("action", action_raw.as_str())];
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
