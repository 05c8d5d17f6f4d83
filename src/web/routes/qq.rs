//! The provider login flow: start (`/qq/login/`, `/qq/authorize/`, and for every
//! provider `/oauth/<provider>/{login,authorize}/`), callback, bind form. One flow for
//! QQ, WeChat and Weibo: the same `state` rules, bind form, limits and audit.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use askama::Template;
use serde::{Deserialize, Serialize};

use super::codes::{code_action, keep_work, CodeFields, CodePage, SmsFormField, SmsSlots, Work};
use super::login::LoginPage;
use super::{check_csrf, csrf_token, Nav};
use crate::bind::{self, BindError, BindInput, Slot};
use crate::codes::service::resend_wait;
use crate::codes::Purpose;
use crate::db::audit::Channel;
use crate::domain::{Mobile, NextPath, Provider};
use crate::limits::{self, Guard};
use crate::login::qq::{PendingLogin, Taken};
use crate::login::{self, qq::Outcome, qq::QqLoginError};
use crate::providers::Connector;
use crate::state::AppState;
use crate::web::auth;
use crate::web::auth::LoggedIn;
use crate::web::error::{ApiError, AppError};
use crate::web::metrics::{noted, Event};
use crate::web::session::{code_digest, PendingBind, TypedSession};
use crate::web::views::{render, with_retry_after, ProviderView};

/// Remembers a fresh `state` (with `next`) in the code store, issued to this session,
/// and returns QQ's authorize URL for it.
async fn start_login(
    state: &AppState,
    req: &HttpRequest,
    session: &TypedSession,
    q: &StartQuery,
    provider: Provider,
) -> Result<String, AppError> {
    let (connector, in_app) = match provider {
        // Inside the WeChat app the QR page cannot be scanned: the 公众号's authorization.
        Provider::Wechat if in_wechat_app(req) => (
            state
                .providers
                .wechat_in_app()
                .ok_or_else(|| AppError::BadRequest(WECHAT_ELSEWHERE.to_owned()))?,
            true,
        ),
        p => (connector(state, p)?, false),
    };
    let next = q.next.as_deref();
    // Each start leaves a `state` in the store for ten minutes: limited per client.
    let bucket = super::client(state, req).bucket();
    limits::count(
        &state.codes,
        state.settings.rate_limits,
        &limits::QQ_LOGINS_PER_IP,
        &bucket,
    )
    .await
    .map_err(AppError::Limited)?;
    let sid = session.sid()?;
    let pending = PendingLogin {
        next: NextPath::sanitise(next).as_str().to_owned(),
        link: q.intent.as_deref() == Some("link"),
        provider,
        in_app,
    };
    let nonce = login::qq::issue_state(&state.codes, &sid, pending).await?;
    Ok(connector.authorize_url(&nonce, is_phone(req)))
}

/// `provider`'s connector, or 404 when it is not on.
fn connector(state: &AppState, provider: Provider) -> Result<&Connector, AppError> {
    state.providers.get(provider).ok_or(AppError::NotFound)
}

/// The provider a `/oauth/<provider>/…` path names, when it is one that is on.
fn named(state: &AppState, path: &str) -> Result<Provider, AppError> {
    let provider = Provider::parse(path).ok_or(AppError::NotFound)?;
    connector(state, provider)?;
    Ok(provider)
}

/// What a WeChat login started inside the WeChat app says when no 公众号 is configured.
pub const WECHAT_ELSEWHERE: &str = "请在电脑上扫码或用其他方式登录";

/// Whether the browser is WeChat's own (its User-Agent names `MicroMessenger`).
pub fn in_wechat_app(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ua| ua.contains("MicroMessenger"))
}

#[derive(Template)]
#[template(path = "wechat_elsewhere.html")]
struct WechatElsewherePage {
    nav: Nav,
    message: &'static str,
    others: Vec<ProviderView>,
    next: String,
}

/// Whether the browser is a phone's (its User-Agent says so): QQ then shows its
/// consent page for phones.
pub fn is_phone(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ua| {
            ["iPhone", "Android", "Mobile", "HarmonyOS", "Windows Phone"]
                .iter()
                .any(|m| ua.contains(m))
                && !ua.contains("iPad")
        })
}

/// `?next=PATH[&intent=link]`: where to go after, and whether this QQ login is to bind a
/// QQ to the account already logged in (the user centre's 绑定QQ) rather than to log in.
#[derive(Deserialize)]
pub struct StartQuery {
    pub next: Option<String>,
    pub intent: Option<String>,
}

/// The answer of `GET /qq/login/`: the seed's shape, `code` a string.
#[derive(Serialize)]
struct LoginUrl<'a> {
    code: &'static str,
    errmsg: &'static str,
    login_url: &'a str,
}

/// `GET /qq/login/?next=`: the login URL as JSON (seed 004).
pub async fn qq_login_url(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
    q: web::Query<StartQuery>,
) -> Result<HttpResponse, ApiError> {
    login_url(&req, &state, &session, &q, Provider::Qq).await
}

/// `GET /oauth/<provider>/login/?next=`: the login URL as JSON, for any provider.
pub async fn provider_login_url(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
    path: web::Path<String>,
    q: web::Query<StartQuery>,
) -> Result<HttpResponse, ApiError> {
    let provider = named(&state, &path)?;
    login_url(&req, &state, &session, &q, provider).await
}

async fn login_url(
    req: &HttpRequest,
    state: &AppState,
    session: &TypedSession,
    q: &StartQuery,
    provider: Provider,
) -> Result<HttpResponse, ApiError> {
    // The seed's JSON answer: refusals are JSON too.
    let login_url = start_login(state, req, session, q, provider).await?;
    Ok(noted(
        HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(LoginUrl {
                code: "0",
                errmsg: "OK",
                login_url: &login_url,
            }),
        Event::LoginStarted(provider),
    ))
}

/// `GET /qq/authorize/?next=`: straight to QQ (the login page's button).
pub async fn qq_authorize(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
    q: web::Query<StartQuery>,
) -> Result<HttpResponse, AppError> {
    authorize(&req, &state, &session, &q, Provider::Qq).await
}

/// `GET /oauth/<provider>/authorize/?next=`: straight to the provider.
pub async fn provider_authorize(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
    path: web::Path<String>,
    q: web::Query<StartQuery>,
) -> Result<HttpResponse, AppError> {
    let provider = named(&state, &path)?;
    authorize(&req, &state, &session, &q, provider).await
}

async fn authorize(
    req: &HttpRequest,
    state: &AppState,
    session: &TypedSession,
    q: &StartQuery,
    provider: Provider,
) -> Result<HttpResponse, AppError> {
    if provider == Provider::Wechat
        && in_wechat_app(req)
        && state.providers.wechat_in_app().is_none()
    {
        // No 公众号: say where WeChat login works, and offer the other ways in.
        let page = WechatElsewherePage {
            nav: Nav::from_request(req),
            message: WECHAT_ELSEWHERE,
            others: state
                .providers
                .enabled()
                .into_iter()
                .filter(|p| *p != Provider::Wechat)
                .map(ProviderView::of)
                .collect(),
            next: NextPath::sanitise(q.next.as_deref()).as_str().to_owned(),
        };
        return render(StatusCode::OK, &page);
    }
    let login_url = start_login(state, req, session, q, provider).await?;
    Ok(noted(
        HttpResponse::Found()
            .insert_header((header::LOCATION, login_url))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish(),
        Event::LoginStarted(provider),
    ))
}

/// `?code=&state=` as the provider sends the browser back (the API's also carries the
/// verifier); Weibo's refusal says `error=access_denied` (WeChat's only leaves the code
/// out, QQ's says `usercancel`).
#[derive(Deserialize)]
pub struct CallbackQuery {
    pub code: Option<String>,
    pub state: Option<String>,
    pub code_verifier: Option<String>,
    pub error: Option<String>,
    pub error_code: Option<String>,
    pub usercancel: Option<String>,
}

impl CallbackQuery {
    /// The person said no at the provider (or came back without a code, which is what
    /// WeChat's refusal looks like).
    fn cancelled(&self, provider: Provider) -> bool {
        let no_code = self.code.as_deref().is_none_or(|c| c.trim().is_empty());
        self.usercancel.is_some()
            || self.error.as_deref() == Some("access_denied")
            || self.error_code.as_deref() == Some("21330")
            || (provider == Provider::Wechat && no_code && self.state.is_some())
    }
}

/// `GET /oauth_callback/?code=&state=`: log in, or show the bind form (for a logged-in
/// customer: the confirmation of binding this QQ to their account). A reload of the
/// same URL, or the URL with no query, shows the pending form again.
pub async fn callback(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
    q: web::Query<CallbackQuery>,
) -> Result<HttpResponse, AppError> {
    provider_callback_for(&req, &state, &session, &q, Provider::Qq).await
}

/// `GET /oauth/<provider>/callback/?code=&state=`: the same, for any provider.
pub async fn provider_callback(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
    path: web::Path<String>,
    q: web::Query<CallbackQuery>,
) -> Result<HttpResponse, AppError> {
    let provider = named(&state, &path)?;
    provider_callback_for(&req, &state, &session, &q, provider).await
}

async fn provider_callback_for(
    req: &HttpRequest,
    state: &AppState,
    session: &TypedSession,
    q: &CallbackQuery,
    provider: Provider,
) -> Result<HttpResponse, AppError> {
    let connector = connector(state, provider)?;
    let code = q.code.as_deref().map(str::trim).unwrap_or_default();
    let st = q.state.as_deref().map(str::trim).unwrap_or_default();
    let now = state.clock.now();
    let pending_bind = session
        .pending_bind()?
        .filter(|p| p.live(now) && p.provider == provider);
    if let Some(pending) = pending_bind {
        let bare = code.is_empty() && st.is_empty();
        if bare || pending.came_from(st, code) {
            // The state was used by the first visit: the provider is not asked again.
            let me = linking_user(state, session, pending.link, auth::Check::ReadOnly).await?;
            return show_pending(req, state, session, pending, me).await;
        }
    }
    if code.is_empty() {
        // The login ends here: its state is spent, and the page's 重新…登录 goes back
        // to where it started.
        if let Ok(pending) = take_state(state, session, q.state.as_deref(), provider).await {
            retry_from(req, &pending);
        }
        return Err(AppError::BadRequest(match provider {
            Provider::Qq => "缺少code".to_owned(),
            p if q.cancelled(p) => format!(
                "您已取消{}授权（缺少code），可重新登录或选择其他登录方式",
                p.label()
            ),
            _ => "缺少code".to_owned(),
        }));
    }
    let pending = take_state(state, session, q.state.as_deref(), provider).await?;
    let connector = match pending.in_app {
        true => state.providers.wechat_in_app().ok_or(AppError::NotFound)?,
        false => connector,
    };
    // Only a login started to bind (the user centre's 绑定QQ) binds to the account
    // logged in; any other QQ login logs in as whoever the QQ belongs to.
    let me = linking_user(state, session, pending.link, auth::Check::Changes).await?;

    let (unbound, same_person) = match login::qq::complete(connector, &state.db, code).await {
        Ok(Outcome::Bound(owner)) => {
            if let Some(me) = &me {
                return bound_while_logged_in(
                    req,
                    state,
                    session,
                    me,
                    &owner,
                    &pending.next,
                    provider,
                );
            }
            let cookie =
                auth::log_in(state, req, session, &owner, false, provider.as_str()).await?;
            let resp = redirect(&auth::landing(session, &pending.next))
                .cookie(cookie)
                .finish();
            return Ok(noted(resp, Event::Login(provider, "bound")));
        }
        Ok(Outcome::NotBound(unbound)) => (unbound, None),
        Ok(Outcome::SamePerson { unbound, owner }) => {
            if let Some(me) = &me {
                // Binding from the user centre: the person's other openid already has
                // an account (this one, or another).
                return bound_while_logged_in(
                    req,
                    state,
                    session,
                    me,
                    &owner,
                    &pending.next,
                    provider,
                );
            }
            (unbound, Some(bind::masked_owner(&owner)))
        }
        Err(e @ QqLoginError::Disabled) => {
            // Told plainly, on the page they log in from.
            let next = NextPath::sanitise(Some(&pending.next));
            let page = LoginPage::refused(req, state, session, &next, "", &e.to_string())?;
            return Ok(noted(
                render(StatusCode::FORBIDDEN, &page)?,
                Event::Login(provider, "refused"),
            ));
        }
        Err(QqLoginError::Provider(p, e)) => {
            retry_from(req, &pending);
            return Err(AppError::ProviderFailed(p, e));
        }
        Err(QqLoginError::Unavailable(e)) => return Err(e.into()),
    };

    // Not bound yet: the bind form (or the confirmation), greeted with the profile.
    let profile = unbound.profile(connector).await;
    let sid = session.sid()?;
    let expires_at = now + state.settings.openid_token_ttl.as_secs() as i64;
    let pending_bind = PendingBind {
        next: pending.next,
        profile,
        state: st.to_owned(),
        code_digest: code_digest(code),
        access_token: state.signer.sign_identity(&unbound.id, expires_at, &sid),
        expires_at,
        link: me.is_some(),
        provider,
        same_person,
    };
    session.set_pending_bind(&pending_bind)?;
    let linking = me.is_some();
    let asks = pending_bind.same_person.is_some();
    let resp = show_pending(req, state, session, pending_bind, me).await?;
    let outcome = match (linking, resp.status()) {
        (_, s) if s.is_client_error() => "refused",
        (true, _) => "link_form",
        (false, _) if asks => "same_person",
        (false, _) => "bind_form",
    };
    Ok(noted(resp, Event::Login(provider, outcome)))
}

/// The account a QQ login started with `intent=link` binds to: the one logged in. None
/// for any other QQ login (it logs in as whoever the QQ belongs to).
async fn linking_user(
    state: &AppState,
    session: &TypedSession,
    link: bool,
    check: auth::Check,
) -> Result<Option<crate::db::users::User>, AppError> {
    match link {
        true => auth::current_user(state, session, check).await,
        false => Ok(None),
    }
}

/// The pending bind's page: the bind form, or for `me` (logged in, binding from the user
/// centre) the confirmation, or why it cannot be bound.
async fn show_pending(
    req: &HttpRequest,
    state: &AppState,
    session: &TypedSession,
    pending: PendingBind,
    me: Option<crate::db::users::User>,
) -> Result<HttpResponse, AppError> {
    let Some(me) = me else {
        if let Some(account) = &pending.same_person {
            return render(
                StatusCode::OK,
                &SamePersonPage {
                    nav: Nav::from_request(req),
                    provider: ProviderView::of(pending.provider),
                    csrf_token: csrf_token(state, session)?,
                    access_token: pending.access_token.clone(),
                    nickname: pending.profile.nickname.clone(),
                    avatar_url: pending.profile.avatar_url.clone(),
                    account: account.clone(),
                },
            );
        }
        let mut page = BindPage::new(req, state, session, &pending)?;
        // The mobile a code went to, and how long its SMS button still waits.
        if let Some(m) = session.sms_mobile()?.as_deref().and_then(Mobile::parse) {
            page.work.sms_wait = resend_wait(&state.codes, Purpose::Bind, &m).await;
            page.mobile = m.as_str().to_owned();
        }
        return render(StatusCode::OK, &page);
    };
    let sid = session.sid()?;
    let id = state
        .signer
        .verify_identity(&pending.access_token, &sid, state.clock.now())
        .map_err(|_| AppError::BadRequest(BindError::BadOpenId.to_string()))?;
    let provider = id.provider;
    match bind::link_check(&state.deps(), &me, &id).await {
        Ok(true) => render(
            StatusCode::OK,
            &LinkPage {
                nav: Nav::from_request(req),
                provider: ProviderView::of(provider),
                csrf_token: csrf_token(state, session)?,
                access_token: pending.access_token.clone(),
                nickname: pending.profile.nickname.clone(),
                avatar_url: pending.profile.avatar_url.clone(),
                account: me.username.clone(),
                next: pending.next.clone(),
            },
        ),
        Ok(false) => {
            session.clear_pending_bind();
            session.set_flash(&format!("该{}已绑定本账号", provider.label()))?;
            Ok(redirect(&pending.next).finish())
        }
        Err(e) => link_refused(req, state, session, e, &pending.next, provider),
    }
}

/// A QQ bound to an account, arriving while someone is logged in: their own QQ is a
/// plain return; another account's is a 409 that names it only masked.
fn bound_while_logged_in(
    req: &HttpRequest,
    state: &AppState,
    session: &TypedSession,
    me: &crate::db::users::User,
    owner: &crate::db::users::User,
    next: &str,
    provider: Provider,
) -> Result<HttpResponse, AppError> {
    if owner.id == me.id {
        return Ok(noted(
            redirect(next).finish(),
            Event::Login(provider, "bound"),
        ));
    }
    let e = bind::LinkError::OwnedElsewhere {
        provider,
        owner: bind::masked_owner(owner),
    };
    link_refused(req, state, session, e, next, provider)
}

/// Why a logged-in customer's QQ could not be bound: a page with the way on.
fn link_refused(
    req: &HttpRequest,
    state: &AppState,
    session: &TypedSession,
    e: bind::LinkError,
    next: &str,
    provider: Provider,
) -> Result<HttpResponse, AppError> {
    use bind::LinkError as E;
    let status = match e {
        E::OwnedElsewhere { .. } | E::AccountBoundElsewhere(_) => StatusCode::CONFLICT,
        E::Disabled => StatusCode::FORBIDDEN,
        E::BadOpenId | E::Failed(_) => StatusCode::BAD_REQUEST,
        E::Unavailable(cause) => return Err(cause.into()),
    };
    if !matches!(e, E::Failed(_)) {
        session.clear_pending_bind();
    }
    let page = LinkRefusedPage {
        nav: Nav::from_request(req),
        provider: ProviderView::of(provider),
        csrf_token: csrf_token(state, session)?,
        message: e.to_string(),
        owned_elsewhere: matches!(e, E::OwnedElsewhere { .. }),
        account_has_qq: matches!(e, E::AccountBoundElsewhere(_)),
        retry_qq: matches!(e, E::BadOpenId | E::Failed(_)),
        next: next.to_owned(),
    };
    render(status, &page)
}

/// "将QQ 小明 绑定到账号 xxx？": binding the QQ to the account one is logged in to.
#[derive(Template)]
#[template(path = "link.html")]
struct LinkPage {
    nav: Nav,
    provider: ProviderView,
    csrf_token: String,
    access_token: String,
    nickname: String,
    avatar_url: String,
    account: String,
    next: String,
}

/// "这个微信已关联账号 138****8000": a new openid of a person whose unionid an account
/// already has; logging in to it asks for the person's word.
#[derive(Template)]
#[template(path = "same_person.html")]
struct SamePersonPage {
    nav: Nav,
    provider: ProviderView,
    csrf_token: String,
    access_token: String,
    nickname: String,
    avatar_url: String,
    account: String,
}

/// `POST /oauth_callback/same_person/`: the person confirmed the account their unionid
/// leads to; logged in to it, then on to `next`.
pub async fn same_person_submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
    form: web::Form<LinkForm>,
) -> Result<HttpResponse, AppError> {
    check_csrf(&state, &session, form.csrf_token.as_deref())?;
    let stale = || AppError::BadRequest(login::qq::SamePersonError::Stale.to_string());
    let pending = session
        .pending_bind()?
        .filter(|p| p.same_person.is_some() && p.live(state.clock.now()))
        .ok_or_else(stale)?;
    let token = form.access_token.as_deref().unwrap_or_default();
    if token != pending.access_token {
        return Err(stale());
    }
    let sid = session.sid()?;
    let id = state
        .signer
        .verify_identity(token, &sid, state.clock.now())
        .map_err(|_| stale())?;
    let origin = super::origin(&state, &req, Channel::Form);
    let owner = match login::qq::confirm_same_person(&state.db, &id, &origin).await {
        Ok(owner) => owner,
        Err(login::qq::SamePersonError::Unavailable(e)) => return Err(e.into()),
        Err(e @ login::qq::SamePersonError::Disabled) => {
            session.clear_pending_bind();
            return Err(AppError::Forbidden(e.to_string()));
        }
        Err(login::qq::SamePersonError::Stale) => {
            session.clear_pending_bind();
            return Err(stale());
        }
    };
    tracing::info!(user_id = owner.id, provider = %id.provider, openid = %id.openid.masked(), "same person logged in by unionid");
    session.clear_pending_bind();
    let cookie = auth::log_in(&state, &req, &session, &owner, false, id.provider.as_str()).await?;
    Ok(noted(
        redirect(&auth::landing(&session, &pending.next))
            .cookie(cookie)
            .finish(),
        Event::Login(id.provider, "bound"),
    ))
}

#[derive(Template)]
#[template(path = "link_refused.html")]
struct LinkRefusedPage {
    nav: Nav,
    provider: ProviderView,
    csrf_token: String,
    message: String,
    owned_elsewhere: bool,
    account_has_qq: bool,
    retry_qq: bool,
    next: String,
}

#[derive(Deserialize)]
pub struct LinkForm {
    csrf_token: Option<String>,
    access_token: Option<String>,
}

/// `POST /oauth_callback/link/`: binds the pending QQ to the logged-in account, then
/// on to `next`.
pub async fn link_submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
    LoggedIn(me): LoggedIn,
    form: web::Form<LinkForm>,
) -> Result<HttpResponse, AppError> {
    check_csrf(&state, &session, form.csrf_token.as_deref())?;
    let pending = session.pending_bind()?.unwrap_or_else(|| PendingBind {
        next: "/info/".to_owned(),
        ..Default::default()
    });
    let sid = session.sid()?;
    let origin = super::origin(&state, &req, Channel::Form);
    let token = form.access_token.as_deref().unwrap_or_default();
    let provider = pending.provider;
    match bind::link(&state.deps(), &me, token, &sid, &pending.profile, &origin).await {
        Ok(_) => {
            crate::self_service::accept_documents(
                &state.db,
                me.id,
                state.consent_versions(),
                "link",
                &origin,
            )
            .await?;
            tracing::info!(user_id = me.id, provider = %provider, "identity bound from the user centre");
            session.clear_pending_bind();
            session.set_flash(&format!(
                "绑定成功，以后可用{}一键登录本账号",
                provider.label()
            ))?;
            Ok(HttpResponse::SeeOther()
                .insert_header((header::LOCATION, pending.next))
                .finish())
        }
        Err(e) => link_refused(&req, &state, &session, e, &pending.next, provider),
    }
}

/// Consumes `state`: it must have been issued to this session, unused, unexpired.
/// Tells an error page of this request where a new login of `pending`'s kind goes back
/// to: its `next`, binding again when it was a bind from the user centre.
fn retry_from(req: &HttpRequest, pending: &PendingLogin) {
    req.extensions_mut().insert(crate::web::error::RetryLogin {
        next: pending.next.clone(),
        link: pending.link,
    });
}

async fn take_state(
    state: &AppState,
    session: &TypedSession,
    nonce: Option<&str>,
    provider: Provider,
) -> Result<PendingLogin, AppError> {
    let refused = || {
        let p = provider.label();
        // Another tab's login of this browser logged in meanwhile (and took a new
        // session): it need not log in again.
        if session.login().ok().flatten().is_some() {
            return AppError::BadRequest(format!(
                "{p}登录请求已失效（state无效）。您已登录，可直接继续；如需换一个账号，请重新点击{p}登录"
            ));
        }
        AppError::BadRequest(format!("{p}登录请求已失效（state无效），请重新点击{p}登录"))
    };
    let nonce = nonce
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(refused)?;
    if nonce.len() > 128 {
        return Err(refused());
    }
    let sid = session.existing_sid()?.ok_or_else(refused)?;
    // Taken from the store before anything else looks at it: single use.
    let pending = match login::qq::take_state(&state.codes, nonce, &sid).await? {
        Taken::Mine(pending) => Some(pending),
        Taken::InCookie => session.take_cookie_pending_login(nonce, state.clock.now())?,
        Taken::Refused => None,
    };
    pending
        .filter(|p| p.provider == provider)
        .ok_or_else(refused)
}

fn redirect(to: &str) -> actix_web::HttpResponseBuilder {
    let mut b = HttpResponse::Found();
    b.insert_header((header::LOCATION, to.to_owned()));
    b
}

/// The bind form's messages, each in the seed's slot (its template variable).
#[derive(Debug, Default)]
pub struct BindErrors {
    pub form: Option<String>,
    pub mobile: Option<String>,
    pub password: Option<String>,
    pub sms_code: Option<String>,
    pub openid: Option<String>,
    pub account: Option<String>,
    pub qq_login: Option<String>,
    pub image_code: Option<String>,
}

impl BindErrors {
    /// Puts `message` in the slot of `slot`.
    fn put(&mut self, slot: Slot, message: String) {
        let field = match slot {
            Slot::Form => &mut self.form,
            Slot::Mobile => &mut self.mobile,
            Slot::Password => &mut self.password,
            Slot::SmsCode => &mut self.sms_code,
            Slot::OpenId => &mut self.openid,
            Slot::Account => &mut self.account,
            Slot::QqLogin => &mut self.qq_login,
            Slot::ImageCode => &mut self.image_code,
        };
        *field = Some(message);
    }
}

/// The seed's `oauth_callback.html` and its message slots.
#[derive(Template)]
#[template(path = "oauth_callback.html")]
pub struct BindPage {
    nav: Nav,
    provider: ProviderView,
    csrf_token: String,
    access_token: String,
    /// Where the bind goes on to (and where 重新QQ登录 comes back to).
    next: String,
    mobile: String,
    nickname: String,
    avatar_url: String,
    /// The captcha and the SMS field, as the shopper left them.
    work: Work,
    errors: BindErrors,
    sms_notice: Option<String>,
    /// 忘记密码？ under "用户名或密码错误".
    forgot_link: bool,
}

impl BindPage {
    fn new(
        req: &HttpRequest,
        state: &AppState,
        session: &TypedSession,
        pending: &PendingBind,
    ) -> Result<Self, AppError> {
        Ok(Self {
            nav: Nav::from_request(req),
            provider: ProviderView::of(pending.provider),
            csrf_token: csrf_token(state, session)?,
            access_token: pending.access_token.clone(),
            next: pending.next.clone(),
            mobile: String::new(),
            nickname: pending.profile.nickname.clone(),
            avatar_url: pending.profile.avatar_url.clone(),
            work: Work::fresh(),
            errors: BindErrors::default(),
            sms_notice: None,
            forgot_link: false,
        })
    }

    /// Where the login after a password reset goes: this provider's login again, to
    /// bind it to the account just logged in to (then on to `next`).
    fn resume_after_reset(&self) -> String {
        self.provider.login_href(&self.next, true)
    }
}

impl CodePage for BindPage {
    fn work(&mut self) -> &mut Work {
        &mut self.work
    }

    fn sms_refused(&self) -> bool {
        self.errors.sms_code.is_some()
    }
}

/// The bind form's fields; all optional so that a missing one is a message, not a 400
/// from the extractor.
#[derive(Deserialize, Default)]
pub struct BindFormData {
    password: Option<String>,
    access_token: Option<String>,
    csrf_token: Option<String>,
    /// The mobile, the captcha, the SMS code, the button pressed.
    #[serde(flatten)]
    codes: CodeFields,
}

/// `POST /oauth_callback/`: bind and log in, or show the form again with the message.
pub async fn bind_submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
    form: web::Form<BindFormData>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    check_csrf(&state, &session, form.csrf_token.as_deref())?;
    let pending = session.pending_bind()?.unwrap_or_else(|| PendingBind {
        next: "/".to_owned(),
        ..Default::default()
    });
    if let Some(account) = &pending.same_person {
        // Its unionid already leads to an account: that one, confirmed, or none.
        return Err(AppError::BadRequest(format!(
            "该{}已关联账号 {account}，请确认登录该账号",
            pending.provider.label()
        )));
    }
    let mobile = form
        .codes
        .mobile()
        .trim()
        .chars()
        .take(32)
        .collect::<String>();
    let access_token = form.access_token.clone().unwrap_or_default();
    let mut page = BindPage::new(&req, &state, &session, &pending)?;
    // What the form carried is what it carries again (spec: kept to resubmit).
    page.access_token = crate::web::views::typed_back(&access_token, 512);
    page.mobile = crate::web::views::typed_back(&mobile, 32);

    if let Some(answered) = code_action(
        &state,
        &req,
        &session,
        &form.codes,
        Purpose::Bind,
        &mut page,
    )
    .await?
    {
        return answered.render(&page);
    }

    let input = BindInput {
        mobile,
        password: form.password.clone().unwrap_or_default(),
        sms_code: form.codes.sms_code().to_owned(),
        access_token,
        image_code: form.codes.image_code().to_owned(),
        image_code_id: form.codes.image_code_id().to_owned(),
    };
    let sid = session.existing_sid()?.unwrap_or_default();
    let profile = pending.profile.clone();
    let client = super::client(&state, &req);
    let mut guard = Guard::new(&state.codes, state.settings.rate_limits, client);
    let origin = super::origin(&state, &req, Channel::Form);
    match bind::bind(&state.deps(), &mut guard, &origin, &input, &sid, &profile).await {
        Ok(bound) => {
            let p = pending.provider.label();
            tracing::info!(user_id = bound.user.id, created = bound.created, provider = %pending.provider, "identity bound");
            crate::self_service::accept_documents(
                &state.db,
                bound.user.id,
                state.consent_versions(),
                "bind",
                &origin,
            )
            .await?;
            let cookie = auth::log_in(
                &state,
                &req,
                &session,
                &bound.user,
                false,
                pending.provider.as_str(),
            )
            .await?;
            session.set_flash(&if bound.created {
                format!("绑定成功！您的账号已创建，用户名为您的手机号，以后可用{p}一键登录")
            } else {
                format!("绑定成功，以后可用{p}一键登录本账号")
            })?;
            // The home page greets the newcomer; a bind that goes on elsewhere leaves no
            // greeting behind for a later visit.
            if bound.created && pending.next == "/" {
                session.set_first_visit(pending.provider)?;
            }
            Ok(noted(
                redirect(&auth::landing(&session, &pending.next))
                    .cookie(cookie)
                    .finish(),
                Event::Bound(pending.provider),
            ))
        }
        Err(BindError::Unavailable(e)) => Err(e.into()),
        Err(BindError::Limited(limited)) => {
            page.errors.form = Some(limited.to_string());
            keep_work(&state, &mut page, &form.codes, Purpose::Bind).await;
            let resp = render(StatusCode::TOO_MANY_REQUESTS, &page)?;
            Ok(noted(
                with_retry_after(resp, &limited),
                Event::BindRefused("limited"),
            ))
        }
        Err(e) => {
            let status = match e {
                BindError::Disabled => StatusCode::FORBIDDEN,
                _ => StatusCode::BAD_REQUEST,
            };
            page.forgot_link = matches!(e, BindError::WrongPassword);
            page.errors.put(e.slot(), e.to_string());
            keep_work(&state, &mut page, &form.codes, Purpose::Bind).await;
            Ok(noted(render(status, &page)?, Event::BindRefused(e.row())))
        }
    }
}

impl SmsSlots for BindPage {
    fn slot(&mut self, field: SmsFormField) -> &mut Option<String> {
        match field {
            SmsFormField::ImageCode => &mut self.errors.image_code,
            SmsFormField::Form => &mut self.errors.form,
            SmsFormField::Mobile => &mut self.errors.mobile,
            SmsFormField::SmsCode => &mut self.errors.sms_code,
        }
    }

    fn sms_notice(&mut self) -> &mut Option<String> {
        &mut self.sms_notice
    }
}
