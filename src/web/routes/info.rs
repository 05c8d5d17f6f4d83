//! `/info/`: the user centre.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::{check_csrf, csrf_token};
use crate::accounts;
use crate::db;
use crate::db::audit::{Channel, Origin};
use crate::domain::{mask_middle, Mobile, Provider};
use crate::state::AppState;
use crate::web::auth::LoggedIn;
use crate::web::error::AppError;
use crate::web::session::TypedSession;
use crate::web::views::render;
use crate::web::views::{beijing_time, confirmed, ConfirmPage, Nav, ProviderView};

pub struct BindingView {
    pub masked_openid: String,
    pub since: String,
    pub nickname: String,
    pub avatar_url: String,
}

/// One provider on the user centre: bound (and how), or one to bind.
pub struct IdentityRow {
    pub provider: ProviderView,
    pub bound: Option<BindingView>,
}

#[derive(Template)]
#[template(path = "info.html")]
struct InfoPage {
    nav: Nav,
    csrf_token: String,
    username: String,
    mobile: String,
    nickname: String,
    identities: Vec<IdentityRow>,
    flash: Option<String>,
    is_staff: bool,
    sessions: Vec<SessionRow>,
    logins: Vec<LoginRow>,
}

/// One live session on the user centre's list.
pub struct SessionRow {
    pub handle: String,
    pub device: String,
    pub ip: String,
    pub created: String,
    pub last_seen: String,
    pub current: bool,
}

/// One login of the history.
pub struct LoginRow {
    pub method: &'static str,
    pub at: String,
    pub ip: String,
    pub device: String,
}

/// How the history names a login's way in.
pub fn method_label(method: &str) -> &'static str {
    match method {
        "password" => "密码登录",
        "register" => "注册后登录",
        "password_change" => "修改密码后登录",
        "qq" => "QQ登录",
        "wechat" => "微信登录",
        "weibo" => "微博登录",
        "api" => "App/小程序登录",
        _ => "其他方式",
    }
}

fn unix_time(at: i64) -> String {
    chrono::DateTime::from_timestamp(at, 0)
        .map(|t| beijing_time(t.naive_utc()))
        .unwrap_or_default()
}

/// The live sessions of `user_id` as the lists show them (`current`: this browser's).
pub async fn session_rows(
    state: &AppState,
    user_id: i32,
    current: Option<&str>,
) -> Result<Vec<SessionRow>, AppError> {
    let current = current.map(crate::sessions::handle);
    let live = match crate::sessions::list(&state.codes, user_id).await {
        Ok(live) => live,
        Err(e) => {
            // A page that only shows: without the store, no list (and no 503).
            tracing::warn!(error = %e, "code store down: session list not shown");
            Vec::new()
        }
    };
    Ok(live
        .into_iter()
        .map(|s| SessionRow {
            current: current.as_deref() == Some(s.handle.as_str()),
            handle: s.handle,
            device: s.info.device,
            ip: s.info.ip,
            created: unix_time(s.info.created),
            last_seen: unix_time(s.last_seen),
        })
        .collect())
}

pub async fn info_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
    LoggedIn(user): LoggedIn,
) -> Result<HttpResponse, AppError> {
    let uid = user.id;
    state.logins.flush(&state.db).await;
    let (mut bound, recent) = state
        .db
        .read(move |c| {
            Ok((
                db::identities::all_of_user(c, uid)?,
                db::login_history::recent(c, uid, 10)?,
            ))
        })
        .await?;
    let current = session.existing_sid()?;
    let sessions = session_rows(&state, uid, current.as_deref()).await?;
    let logins = recent
        .into_iter()
        .map(|l| LoginRow {
            method: method_label(&l.method),
            at: beijing_time(l.at),
            device: crate::sessions::device(&l.user_agent),
            ip: l.ip,
        })
        .collect();
    // Each provider that is on (or that the account is bound to), in the usual order.
    let identities = Provider::ALL
        .into_iter()
        .filter_map(|p| {
            let mine = bound
                .iter()
                .position(|b| b.provider == p.as_str())
                .map(|i| bound.swap_remove(i));
            if mine.is_none() && state.providers.get(p).is_none() {
                return None;
            }
            Some(IdentityRow {
                provider: ProviderView::of(p),
                bound: mine.map(|b| BindingView {
                    masked_openid: mask_middle(&b.openid),
                    since: beijing_time(b.bound_at),
                    // The QQ row shows the account's own picture and name, as before.
                    nickname: if p.is_qq() {
                        user.nickname.clone()
                    } else {
                        b.nickname
                    },
                    avatar_url: if p.is_qq() {
                        user.avatar_url.clone()
                    } else {
                        b.avatar_url
                    },
                }),
            })
        })
        .collect();
    render(
        StatusCode::OK,
        &InfoPage {
            nav: Nav::from_request(&req),
            csrf_token: csrf_token(&state, &session)?,
            mobile: Mobile::parse(&user.mobile)
                .map(|m| m.masked())
                .unwrap_or_else(|| mask_middle(&user.mobile)),
            username: user.username,
            nickname: user.nickname,
            identities,
            flash: session.take_flash()?,
            is_staff: user.is_staff,
            sessions,
            logins,
        },
    )
}

#[derive(Deserialize)]
pub struct ChangeForm {
    csrf_token: Option<String>,
    confirm: Option<String>,
}

/// `POST /info/<provider>/unbind/`: asks once more, then removes this account's
/// identity of that provider. The next login with it shows the bind form again.
pub async fn unbind(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
    LoggedIn(user): LoggedIn,
    path: web::Path<String>,
    form: web::Form<ChangeForm>,
) -> Result<HttpResponse, AppError> {
    let provider = Provider::parse(&path).ok_or(AppError::NotFound)?;
    check_csrf(&state, &session, form.csrf_token.as_deref())?;
    let p = provider.label();
    if !confirmed(form.confirm.as_deref()) {
        return ConfirmPage {
            nav: Nav::from_request(&req),
            csrf_token: csrf_token(&state, &session)?,
            title: match provider {
                Provider::Qq => "解除QQ绑定",
                Provider::Wechat => "解除微信绑定",
                Provider::Weibo => "解除微博绑定",
            },
            question: format!("解除后将不能再用这个{p}直接登录本账号，确定要解除绑定吗？"),
            action: format!("/info/{provider}/unbind/"),
            button: "确定解除",
            cancel: "/info/".to_owned(),
            reason: false,
        }
        .respond();
    }
    let origin = super::origin(&state, &req, Channel::Form);
    let notice = match accounts::unbind(&state.db, &user, user.id, provider, &origin).await? {
        accounts::Unbound::Removed(b) => {
            tracing::info!(user_id = user.id, provider = %provider, openid = %mask_middle(&b.openid), "identity unbound by its owner");
            format!("已解除{p}绑定")
        }
        accounts::Unbound::NotBound => format!("该账号尚未绑定{p}"),
        accounts::Unbound::LastWayIn => {
            return Err(AppError::Conflict(accounts::LAST_WAY_IN.to_owned()))
        }
    };
    session.set_flash(&notice)?;
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/info/"))
        .finish())
}

/// The change-password form's messages, by field.
#[derive(Debug, Default)]
pub struct PasswordErrors {
    pub form: Option<String>,
    pub old_password: Option<String>,
    pub password: Option<String>,
    pub password2: Option<String>,
    pub image_code: Option<String>,
}

#[derive(Template)]
#[template(path = "info_password.html")]
struct PasswordPage {
    nav: Nav,
    csrf_token: String,
    errors: PasswordErrors,
    /// Set once the account's password checks need the image captcha.
    image_code_id: Option<String>,
}

/// `GET /info/password/`: the change-password form.
pub async fn password_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
    LoggedIn(_): LoggedIn,
) -> Result<HttpResponse, AppError> {
    render(
        StatusCode::OK,
        &PasswordPage {
            nav: Nav::from_request(&req),
            csrf_token: csrf_token(&state, &session)?,
            errors: PasswordErrors::default(),
            image_code_id: None,
        },
    )
}

#[derive(Deserialize)]
pub struct PasswordForm {
    csrf_token: Option<String>,
    old_password: Option<String>,
    password: Option<String>,
    password2: Option<String>,
    image_code: Option<String>,
    image_code_id: Option<String>,
}

/// `POST /info/password/`: the old password proves the owner; every other session ends,
/// this one goes on (logged in again under the account's new epoch).
pub async fn password_submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
    LoggedIn(user): LoggedIn,
    form: web::Form<PasswordForm>,
) -> Result<HttpResponse, AppError> {
    use crate::self_service::{self, ChangeError, ChangeInput, ChangeSlot};
    check_csrf(&state, &session, form.csrf_token.as_deref())?;
    let get = |f: &Option<String>| f.clone().unwrap_or_default();
    let input = ChangeInput {
        old_password: get(&form.old_password),
        password: get(&form.password),
        password2: get(&form.password2),
        image_code: get(&form.image_code),
        image_code_id: get(&form.image_code_id),
    };
    let client = super::client(&state, &req);
    let mut guard = crate::limits::Guard::new(&state.codes, state.settings.rate_limits, client);
    let origin = Origin::new(client.address(), Channel::Form);
    match self_service::change_password(&state.deps(), &mut guard, &user, &input, &origin).await {
        Ok(changed) => {
            let remember = session.login()?.is_some_and(|l| l.remembered);
            let cookie = crate::web::auth::log_in(
                &state,
                &req,
                &session,
                &changed,
                remember,
                "password_change",
            )
            .await?;
            session.set_flash("密码已修改，其他设备上的登录已退出")?;
            Ok(HttpResponse::SeeOther()
                .insert_header((header::LOCATION, "/info/"))
                .cookie(cookie)
                .finish())
        }
        Err(ChangeError::Unavailable(e)) => Err(e.into()),
        Err(e) => {
            let status = match &e {
                ChangeError::Limited(_) => StatusCode::TOO_MANY_REQUESTS,
                ChangeError::Disabled => StatusCode::FORBIDDEN,
                _ => StatusCode::BAD_REQUEST,
            };
            let mut errors = PasswordErrors::default();
            let message = Some(e.to_string());
            match e.slot() {
                ChangeSlot::Form => errors.form = message,
                ChangeSlot::OldPassword => errors.old_password = message,
                ChangeSlot::Password => errors.password = message,
                ChangeSlot::Password2 => errors.password2 = message,
                ChangeSlot::ImageCode => errors.image_code = message,
            }
            let needs_captcha = guard.captcha_needed() || matches!(e, ChangeError::Captcha(_));
            let page = PasswordPage {
                nav: Nav::from_request(&req),
                csrf_token: csrf_token(&state, &session)?,
                errors,
                image_code_id: needs_captcha.then(|| uuid::Uuid::new_v4().to_string()),
            };
            let resp = render(status, &page)?;
            Ok(match &e {
                ChangeError::Limited(l) => crate::web::views::with_retry_after(resp, l),
                _ => resp,
            })
        }
    }
}

/// `GET /info/export/`: everything stored about the account, as a JSON attachment.
pub async fn export(
    state: web::Data<AppState>,
    LoggedIn(user): LoggedIn,
) -> Result<HttpResponse, AppError> {
    state.logins.flush(&state.db).await;
    let data = crate::self_service::export(&state.deps(), user.id)
        .await?
        .ok_or(AppError::NotFound)?;
    let body = serde_json::to_vec_pretty(&data).map_err(AppError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("application/json; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"qqbind-my-data-{}.json\"", user.id),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body))
}
