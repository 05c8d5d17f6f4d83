//! The home page, static files (embedded, so the binary runs from any directory), 404.

use std::sync::LazyLock;

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use sha2::{Digest, Sha256};

use super::Nav;
use crate::domain::Provider;
use crate::state::AppState;
use crate::web::auth::current_user;
use crate::web::error::AppError;
use crate::web::session::TypedSession;
use crate::web::views::{render, ProviderView};

#[derive(Template)]
#[template(path = "index.html")]
struct IndexPage {
    nav: Nav,
    username: Option<String>,
    /// The account was made just now by a bind with this provider: a newcomer's
    /// greeting, not 欢迎回来.
    first_visit: Option<ProviderView>,
    flash: Option<String>,
    /// The sign-in buttons of a visitor: one per provider that is on.
    providers: Vec<ProviderView>,
}

impl IndexPage {
    /// `QQ`, `QQ或微信`, `QQ、微信或微博`: the ways in, for the visitor's greeting.
    fn ways(&self) -> String {
        let providers: Vec<Provider> = self.providers.iter().map(|p| p.provider).collect();
        Provider::any_of(&providers)
    }
}

pub async fn index(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
) -> Result<HttpResponse, AppError> {
    let user = current_user(&state, &session, crate::web::auth::Check::ReadOnly).await?;
    render(
        StatusCode::OK,
        &IndexPage {
            nav: Nav::from_request(&req),
            first_visit: session
                .take_first_visit()
                .filter(|_| user.is_some())
                .map(ProviderView::of),
            flash: session.take_flash()?,
            username: user.map(|u| u.username),
            providers: state
                .providers
                .enabled()
                .into_iter()
                .map(ProviderView::of)
                .collect(),
        },
    )
}

const STATIC_FILES: &[(&str, &str, &str)] = &[
    (
        "css/site.css",
        "text/css; charset=utf-8",
        include_str!("../../../static/css/site.css"),
    ),
    (
        "js/forms.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../static/js/forms.js"),
    ),
    (
        "img/qq.svg",
        "image/svg+xml",
        include_str!("../../../static/img/qq.svg"),
    ),
    (
        "img/wechat.svg",
        "image/svg+xml",
        include_str!("../../../static/img/wechat.svg"),
    ),
    (
        "img/weibo.svg",
        "image/svg+xml",
        include_str!("../../../static/img/weibo.svg"),
    ),
    ("img/favicon.svg", "image/svg+xml", FAVICON),
];

const FAVICON: &str = include_str!("../../../static/img/favicon.svg");

/// Each static file's version: the start of its SHA-256.
static VERSIONS: LazyLock<Vec<(&'static str, String)>> = LazyLock::new(|| {
    STATIC_FILES
        .iter()
        .map(|(path, _, body)| {
            let digest = Sha256::digest(body.as_bytes());
            let hex = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
            (*path, hex)
        })
        .collect()
});

fn version_of(path: &str) -> Option<&'static str> {
    VERSIONS
        .iter()
        .find(|(p, _)| *p == path)
        .map(|(_, v)| v.as_str())
}

/// The URL of static file `path` (`css/site.css`), with its version: a page of a new
/// deploy names a new URL, so no browser keeps the file of the one before.
pub fn asset(path: &str) -> String {
    match version_of(path) {
        Some(v) => format!("/static/{path}?v={v}"),
        None => format!("/static/{path}"),
    }
}

/// `GET /static/<path>[?v=]`: asked for by its current version, the file is kept a year;
/// otherwise an hour.
pub async fn static_file(
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let (_, mime, body) = STATIC_FILES
        .iter()
        .find(|(p, _, _)| *p == path.as_str())
        .ok_or(AppError::NotFound)?;
    let asked = url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == "v")
        .map(|(_, v)| v);
    let current = asked.is_some_and(|v| Some(v.as_ref()) == version_of(path.as_str()));
    let cache = if current {
        "public, max-age=31536000, immutable"
    } else {
        "public, max-age=3600"
    };
    Ok(HttpResponse::Ok()
        .content_type(*mime)
        .insert_header((header::CACHE_CONTROL, cache))
        .body(*body))
}

/// Browsers ask for `/favicon.ico` whatever the page says.
pub async fn favicon() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("image/svg+xml")
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .body(FAVICON)
}

#[derive(Template)]
#[template(path = "document.html")]
struct DocumentPage<'a> {
    nav: Nav,
    title: &'static str,
    /// The version in force (`TERMS_VERSION` / `PRIVACY_VERSION`): the one the consent
    /// page asks for.
    version: &'a str,
    effective: &'static str,
    sections: Vec<(&'static str, String)>,
}

/// When the built-in text of both documents took effect (version 1.1: WeChat and Weibo,
/// the customer's own data and account closing).
const EFFECTIVE: &str = "2026-12-08";

fn terms_sections(state: &AppState) -> Vec<(&'static str, String)> {
    let closing = match state.settings.account_delete_grace_days {
        0 => "注销立即生效，不可恢复".to_owned(),
        days => format!("注销有{days}天冷静期，期间再次登录即取消注销，期满后不可恢复"),
    };
    vec![
        ("一、协议的范围", "本协议是您与 qqbind 商城之间关于注册、登录和使用本商城账号（包括以QQ、微信或微博账号登录并绑定手机号）的约定。注册、登录或绑定即表示您已阅读并同意本协议。".to_owned()),
        ("二、账号", "一个手机号只能注册一个账号。一个账号可以分别绑定一个QQ、一个微信和一个微博，每个QQ、微信或微博只能绑定一个账号。请妥善保管密码与短信验证码，不要告诉任何人，商城工作人员不会向您索要。".to_owned()),
        ("三、第三方账号登录", "使用QQ、微信或微博登录时，QQ互联、微信开放平台或微博开放平台会告诉我们您在该平台的标识（openid，以及该平台提供的unionid；微博为uid）、昵称和头像，我们用它们识别您的账号并显示在页面上。您可以随时在用户中心解除绑定，但至少保留一种登录方式（密码或一个第三方账号）。".to_owned()),
        ("四、账号安全", "我们会对异常的登录和绑定尝试加以限制（例如要求图形验证码或暂时拒绝）。您可以在用户中心查看登录设备和最近登录，并退出其他设备。发现账号被盗用时，请立即通过“找回密码”重置密码，所有已登录的设备都会退出。".to_owned()),
        ("五、停用与注销", format!("违反法律法规或本协议的账号可能被停用。您可以在用户中心自行注销账号（需验证密码或短信验证码），{closing}；注销后账号数据按《隐私政策》处理。")),
        ("六、协议的变更", "协议变更时我们会更新版本号与生效日期，并在您下次登录时请您再次确认。".to_owned()),
    ]
}

fn privacy_sections(state: &AppState) -> Vec<(&'static str, String)> {
    let history_days = state.settings.login_history_days;
    vec![
        ("一、我们收集的信息", "手机号（注册与绑定、接收验证码）、用户名、密码（只保存不可逆的 bcrypt 摘要）；您绑定的QQ、微信或微博的标识（openid、unionid或uid）、昵称与头像（登录时由该平台提供）；每次登录的时间、方式、IP地址和设备（浏览器的 User-Agent），当前登录的设备；您同意本政策与《用户协议》的记录（版本、时间、IP地址与设备）；以及为安全目的记录的操作日志。".to_owned()),
        ("二、我们如何使用", "用于登录、绑定、找回密码与账号安全；不用于与上述无关的目的，不出售给任何第三方。".to_owned()),
        ("三、短信验证码", "验证码由短信服务商发送，5分钟内有效，使用一次即失效；我们不会在日志或页面中保存验证码。".to_owned()),
        ("四、保存期限", format!("账号存续期间保存上述信息；登录记录保存{history_days}天；安全记录（操作日志）按法律要求保存。")),
        ("五、您的权利", "您可以在用户中心查看账号信息、绑定或解除绑定QQ、微信和微博、修改密码、查看并退出登录设备，“下载我的数据”（一个JSON文件，含账号、绑定、同意记录、登录记录、当前登录的设备和您账号的操作日志），以及注销账号。注销后，手机号、用户名、绑定、昵称、头像、登录记录和同意记录被删除，操作日志只保留“账号已注销”及账号编号。您也可以联系客服更正您的个人信息。".to_owned()),
        ("六、联系我们", "如对本政策有任何疑问，请联系商城客服。".to_owned()),
    ]
}

/// `GET /terms/`: 《用户协议》.
pub async fn terms(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    render(
        StatusCode::OK,
        &DocumentPage {
            nav: Nav::from_request(&req),
            title: "用户协议",
            version: &state.settings.terms_version,
            effective: EFFECTIVE,
            sections: terms_sections(&state),
        },
    )
}

/// `GET /privacy/`: 《隐私政策》.
pub async fn privacy(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    render(
        StatusCode::OK,
        &DocumentPage {
            nav: Nav::from_request(&req),
            title: "隐私政策",
            version: &state.settings.privacy_version,
            effective: EFFECTIVE,
            sections: privacy_sections(&state),
        },
    )
}

pub async fn not_found() -> Result<HttpResponse, AppError> {
    Err(AppError::NotFound)
}
