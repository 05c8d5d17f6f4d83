//! The customer's control of their account: the consent page of a changed document,
//! closing the account (注销), and the sessions they can end.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::{check_csrf, csrf_token};
use crate::db::audit::{Action, Channel};
use crate::domain::NextPath;
use crate::limits::Guard;
use crate::self_service::{self, CloseError, CloseProof, Closed};
use crate::state::AppState;
use crate::web::auth::{self, LoggedIn};
use crate::web::error::AppError;
use crate::web::session::TypedSession;
use crate::web::views::{render, Nav};

fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to.to_owned()))
        .finish()
}

// ------------------------------------------------------------------ consent

#[derive(Template)]
#[template(path = "consent.html")]
struct ConsentPage {
    nav: Nav,
    csrf_token: String,
    next: String,
    terms_version: String,
    privacy_version: String,
    /// The documents that changed since the account accepted them: (terms, privacy).
    /// Neither (a consent owed for another reason) names both.
    owed: (bool, bool),
    errmsg: Option<String>,
}

impl ConsentPage {
    /// The page for `user`, naming the documents it owes its consent to.
    async fn of(
        req: &HttpRequest,
        state: &AppState,
        session: &TypedSession,
        user_id: i32,
        next: String,
    ) -> Result<Self, AppError> {
        Ok(Self {
            nav: Nav::from_request(req),
            csrf_token: csrf_token(state, session)?,
            next,
            terms_version: state.settings.terms_version.clone(),
            privacy_version: state.settings.privacy_version.clone(),
            owed: self_service::owed_documents(&state.db, user_id, state.consent_versions())
                .await?,
            errmsg: None,
        })
    }

    fn terms(&self) -> bool {
        self.owed.0 || !self.owed.1
    }

    fn privacy(&self) -> bool {
        self.owed.1 || !self.owed.0
    }

    /// `《用户协议》和《隐私政策》`, or the one that changed.
    fn names(&self) -> &'static str {
        match (self.terms(), self.privacy()) {
            (true, false) => "《用户协议》",
            (false, true) => "《隐私政策》",
            _ => "《用户协议》和《隐私政策》",
        }
    }
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// The logged-in session that owes its consent (the page needs the login, not the
/// consent: `LoggedIn` would send it here again).
async fn owing(
    state: &AppState,
    session: &TypedSession,
) -> Result<crate::db::users::User, AppError> {
    auth::current_user(state, session, auth::Check::Changes)
        .await?
        .ok_or(AppError::LoginRequired {
            next: "/consent/".to_owned(),
        })
}

/// `GET /consent/?next=`: 《用户协议》 or 《隐私政策》 changed since the account accepted
/// them: both named with their versions, an unticked box, then on to `next`.
pub async fn consent_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
    q: web::Query<NextQuery>,
) -> Result<HttpResponse, AppError> {
    let user = owing(&state, &session).await?;
    let next = NextPath::sanitise(q.next.as_deref()).as_str().to_owned();
    if !session.consent_due() {
        return Ok(see_other(&next));
    }
    let page = ConsentPage::of(&req, &state, &session, user.id, next).await?;
    render(StatusCode::OK, &page)
}

#[derive(Deserialize)]
pub struct ConsentForm {
    csrf_token: Option<String>,
    allow: Option<String>,
    next: Option<String>,
}

/// `POST /consent/`: the box ticked, both documents recorded as accepted; else 400.
pub async fn consent_submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
    form: web::Form<ConsentForm>,
) -> Result<HttpResponse, AppError> {
    check_csrf(&state, &session, form.csrf_token.as_deref())?;
    let user = owing(&state, &session).await?;
    let next = NextPath::sanitise(form.next.as_deref()).as_str().to_owned();
    if form
        .allow
        .as_deref()
        .map(str::trim)
        .unwrap_or_default()
        .is_empty()
    {
        let mut page = ConsentPage::of(&req, &state, &session, user.id, next).await?;
        page.errmsg = Some(format!("请勾选同意{}", page.names()));
        return render(StatusCode::BAD_REQUEST, &page);
    }
    let origin = super::origin(&state, &req, Channel::Form);
    self_service::accept_documents(
        &state.db,
        user.id,
        state.consent_versions(),
        "interstitial",
        &origin,
    )
    .await?;
    crate::accounts::record(
        &state.db,
        user.id,
        Action::ConsentGiven,
        &format!(
            "terms={} privacy={}",
            state.settings.terms_version, state.settings.privacy_version
        ),
        &origin,
    )
    .await?;
    session.set_consent_due(false)?;
    Ok(see_other(&next))
}

// ------------------------------------------------------------------ closing (注销)

#[derive(Template)]
#[template(path = "info_delete.html")]
struct DeletePage {
    nav: Nav,
    csrf_token: String,
    grace_days: u32,
    mobile_masked: String,
    errmsg: Option<String>,
    flash: Option<String>,
}

fn delete_page(
    req: &HttpRequest,
    state: &AppState,
    session: &TypedSession,
    user: &crate::db::users::User,
    errmsg: Option<String>,
) -> Result<DeletePage, AppError> {
    Ok(DeletePage {
        nav: Nav::from_request(req),
        csrf_token: csrf_token(state, session)?,
        grace_days: state.settings.account_delete_grace_days,
        mobile_masked: crate::domain::Mobile::parse(&user.mobile)
            .map(|m| m.masked())
            .unwrap_or_default(),
        errmsg,
        flash: session.take_flash()?,
    })
}

/// `GET /info/delete/`: what closing does, and the form that proves it is the owner.
pub async fn delete_form(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
    LoggedIn(user): LoggedIn,
) -> Result<HttpResponse, AppError> {
    render(
        StatusCode::OK,
        &delete_page(&req, &state, &session, &user, None)?,
    )
}

#[derive(Deserialize)]
pub struct DeleteForm {
    csrf_token: Option<String>,
    password: Option<String>,
    sms_code: Option<String>,
}

/// The proof a form or a JSON body carries: the password, else the SMS code.
pub fn proof(password: Option<&str>, sms_code: Option<&str>) -> CloseProof {
    match (password.filter(|p| !p.is_empty()), sms_code) {
        (Some(p), _) => CloseProof::Password(p.to_owned()),
        (None, Some(c)) => CloseProof::SmsCode(c.to_owned()),
        (None, None) => CloseProof::Password(String::new()),
    }
}

/// `POST /info/delete/`: closes the account (or starts its cooling-off), ends this
/// session, and says so on the login page.
pub async fn delete_submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
    LoggedIn(user): LoggedIn,
    form: web::Form<DeleteForm>,
) -> Result<HttpResponse, AppError> {
    check_csrf(&state, &session, form.csrf_token.as_deref())?;
    let client = super::client(&state, &req);
    let mut guard = Guard::new(&state.codes, state.settings.rate_limits, client);
    let grace = state.settings.account_delete_grace_days;
    let proof = proof(form.password.as_deref(), form.sms_code.as_deref());
    match self_service::close_account(
        &state.deps(),
        &mut guard,
        &user,
        &proof,
        grace,
        &super::origin(&state, &req, Channel::Form),
    )
    .await
    {
        Ok(closed) => {
            let _ = crate::sessions::end_all_but(&state.codes, user.id, None).await;
            auth::log_out(&state, &session).await?;
            session.set_flash(&match closed {
                Closed::Erased => "账号已注销。感谢您曾经的陪伴".to_owned(),
                Closed::Scheduled { .. } => {
                    format!("注销申请已提交，账号将在{grace}天后注销；在此之前登录即可取消")
                }
            })?;
            tracing::info!(
                user_id = user.id,
                erased = matches!(closed, Closed::Erased),
                "account closed by its owner"
            );
            Ok(HttpResponse::SeeOther()
                .insert_header((header::LOCATION, "/login/"))
                .cookie(auth::username_cookie_removal())
                .finish())
        }
        Err(CloseError::Unavailable(e)) => Err(e.into()),
        Err(CloseError::Limited(l)) => Err(AppError::Limited(l)),
        Err(e) => {
            let status = match e {
                CloseError::Disabled => StatusCode::FORBIDDEN,
                _ => StatusCode::BAD_REQUEST,
            };
            render(
                status,
                &delete_page(&req, &state, &session, &user, Some(e.to_string()))?,
            )
        }
    }
}

/// `POST /info/delete/sms/`: a closing code to the account's own mobile.
pub async fn delete_sms(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
    LoggedIn(user): LoggedIn,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, AppError> {
    check_csrf(&state, &session, form.csrf_token.as_deref())?;
    let Some(mobile) = crate::domain::Mobile::parse(&user.mobile) else {
        return Err(AppError::BadRequest("该账号没有可用的手机号".to_owned()));
    };
    let ip = super::client(&state, &req).bucket();
    match crate::codes::service::send_own_code(
        &state.codes,
        &state.sms,
        state.settings.rate_limits,
        &ip,
        &mobile,
        crate::codes::Purpose::Delete,
    )
    .await
    {
        Ok(()) => {
            session.set_flash(&format!(
                "注销验证码已发送至 {}，5分钟内有效",
                mobile.masked()
            ))?;
            Ok(see_other("/info/delete/"))
        }
        Err(crate::codes::service::SendSmsError::Limited(l)) => Err(AppError::Limited(l)),
        Err(crate::codes::service::SendSmsError::Unavailable(e)) => Err(e.into()),
        Err(e) => {
            let page = delete_page(&req, &state, &session, &user, Some(e.to_string()))?;
            render(StatusCode::BAD_REQUEST, &page)
        }
    }
}

// ------------------------------------------------------------------ sessions

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf_token: Option<String>,
}

/// `POST /info/sessions/<handle>/end/`: logs that device out.
pub async fn end_session(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
    LoggedIn(user): LoggedIn,
    path: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, AppError> {
    check_csrf(&state, &session, form.csrf_token.as_deref())?;
    let handle = path.into_inner();
    if handle.len() != 16 || !handle.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AppError::NotFound);
    }
    let ended = crate::sessions::end(&state.codes, user.id, &handle).await?;
    if ended {
        crate::accounts::record(
            &state.db,
            user.id,
            Action::SessionsEnded,
            "sessions=1 by=owner",
            &super::origin(&state, &req, Channel::Form),
        )
        .await?;
    }
    session.set_flash(if ended {
        "已退出该设备"
    } else {
        "该设备已经退出"
    })?;
    Ok(see_other("/info/"))
}

/// `POST /info/sessions/end_others/`: logs every other device out.
pub async fn end_other_sessions(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
    LoggedIn(user): LoggedIn,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, AppError> {
    check_csrf(&state, &session, form.csrf_token.as_deref())?;
    let keep = session.existing_sid()?;
    let n = crate::sessions::end_all_but(&state.codes, user.id, keep.as_deref()).await?;
    if n > 0 {
        crate::accounts::record(
            &state.db,
            user.id,
            Action::SessionsEnded,
            &format!("sessions={n} by=owner"),
            &super::origin(&state, &req, Channel::Form),
        )
        .await?;
    }
    session.set_flash(&format!("已退出其他{n}台设备"))?;
    Ok(see_other("/info/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The consent page names the documents that changed; owed for another reason
    /// (neither changed), it names both.
    #[test]
    fn the_consent_page_names_what_changed() {
        let page = |owed| ConsentPage {
            nav: Nav::default(),
            csrf_token: String::new(),
            next: "/".to_owned(),
            terms_version: "2.0".to_owned(),
            privacy_version: "1.1".to_owned(),
            owed,
            errmsg: None,
        };
        let both = "《用户协议》和《隐私政策》";
        for (owed, names) in [
            ((true, false), "《用户协议》"),
            ((false, true), "《隐私政策》"),
            ((true, true), both),
            ((false, false), both),
        ] {
            let p = page(owed);
            assert_eq!(p.names(), names, "{owed:?}");
            let html = p.render().unwrap();
            assert!(html.contains(&format!("<h1 id=\"consent-title\">{names}已更新</h1>")));
            assert_eq!(html.contains("（版本 2.0）"), names != "《隐私政策》");
            assert_eq!(html.contains("（版本 1.1）"), names != "《用户协议》");
            // The sentence reads without stray spaces: tags out, only "版本 2.0" keeps one.
            let sentence = html.split("更新后的").nth(1).unwrap();
            let sentence = sentence.split("</p>").next().unwrap();
            let mut text = String::new();
            let mut in_tag = false;
            for ch in sentence.chars() {
                match ch {
                    '<' => in_tag = true,
                    '>' => in_tag = false,
                    c if !in_tag => text.push(c),
                    _ => {}
                }
            }
            let text = text.replace("版本 ", "版本");
            assert!(!text.contains(char::is_whitespace), "{text:?}");
        }
    }
}
