//! The home page, static files (embedded, so the binary runs from any directory), 404.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::Nav;
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
        let labels: Vec<&str> = self.providers.iter().map(ProviderView::label).collect();
        match labels.split_last() {
            None => String::new(),
            Some((last, [])) => (*last).to_owned(),
            Some((last, rest)) => format!("{}或{last}", rest.join("、")),
        }
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

pub async fn static_file(path: web::Path<String>) -> Result<HttpResponse, AppError> {
    let (_, mime, body) = STATIC_FILES
        .iter()
        .find(|(p, _, _)| *p == path.as_str())
        .ok_or(AppError::NotFound)?;
    Ok(HttpResponse::Ok()
        .content_type(*mime)
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
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
struct DocumentPage {
    nav: Nav,
    title: &'static str,
    version: &'static str,
    effective: &'static str,
    sections: &'static [(&'static str, &'static str)],
}

/// The version and date of the documents an account accepts (《用户协议》, 《隐私政策》).
pub const TERMS_VERSION: &str = "1.0";
pub const PRIVACY_VERSION: &str = "1.0";
const EFFECTIVE: &str = "2026-12-01";

const TERMS: &[(&str, &str)] = &[
    ("一、协议的范围", "本协议是您与 qqbind 商城之间关于注册、登录和使用本商城账号（包括以QQ账号登录并绑定手机号）的约定。注册、登录或绑定即表示您已阅读并同意本协议。"),
    ("二、账号", "一个手机号只能注册一个账号；一个账号只能绑定一个QQ，一个QQ只能绑定一个账号。请妥善保管密码与短信验证码，不要告诉任何人，商城工作人员不会向您索要。"),
    ("三、QQ登录", "使用QQ登录时，QQ互联会告诉我们您的 openid、昵称和头像，我们用它们识别您的账号并显示在页面上。您可以随时在用户中心解除QQ绑定。"),
    ("四、账号安全", "我们会对异常的登录和绑定尝试加以限制（例如要求图形验证码或暂时拒绝）。发现账号被盗用时，请立即通过“找回密码”重置密码，所有已登录的设备都会退出。"),
    ("五、停用与注销", "违反法律法规或本协议的账号可能被停用。您可以联系客服注销账号，注销后账号数据将按《隐私政策》处理。"),
    ("六、协议的变更", "协议变更时我们会更新版本号与生效日期，并在您下次登录时请您再次确认。"),
];

const PRIVACY: &[(&str, &str)] = &[
    ("一、我们收集的信息", "手机号（注册与绑定、接收验证码）、用户名、密码（只保存不可逆的 bcrypt 摘要）、QQ openid、昵称与头像（QQ登录时由QQ互联提供），以及为安全目的记录的操作时间与IP地址。"),
    ("二、我们如何使用", "用于登录、绑定、找回密码与账号安全；不用于与上述无关的目的，不出售给任何第三方。"),
    ("三、短信验证码", "验证码由短信服务商发送，5分钟内有效，使用一次即失效；我们不会在日志或页面中保存验证码。"),
    ("四、保存期限", "账号存续期间保存上述信息；安全记录（审计日志）按法律要求保存。"),
    ("五、您的权利", "您可以在用户中心查看账号信息、解除QQ绑定、修改密码；可以联系客服更正、复制或删除您的个人信息，或注销账号。"),
    ("六、联系我们", "如对本政策有任何疑问，请联系商城客服。"),
];

/// `GET /terms/`: 《用户协议》.
pub async fn terms(req: HttpRequest) -> Result<HttpResponse, AppError> {
    render(
        StatusCode::OK,
        &DocumentPage {
            nav: Nav::from_request(&req),
            title: "用户协议",
            version: TERMS_VERSION,
            effective: EFFECTIVE,
            sections: TERMS,
        },
    )
}

/// `GET /privacy/`: 《隐私政策》.
pub async fn privacy(req: HttpRequest) -> Result<HttpResponse, AppError> {
    render(
        StatusCode::OK,
        &DocumentPage {
            nav: Nav::from_request(&req),
            title: "隐私政策",
            version: PRIVACY_VERSION,
            effective: EFFECTIVE,
            sections: PRIVACY,
        },
    )
}

pub async fn not_found() -> Result<HttpResponse, AppError> {
    Err(AppError::NotFound)
}
