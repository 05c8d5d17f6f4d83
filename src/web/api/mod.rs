//! `/api/`: the QQ login and bind flow as JSON, for single-page front-ends (seeds 002 and
//! 003). No cookies: `state` is signed, the openid token is bound to the API, and a JWT
//! says who is logged in. The rules are the form flow's own (`crate::bind`).

pub mod jwt;
pub mod oauth;
pub mod user;

use actix_cors::Cors;
use actix_web::http::{header, Method, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};

use crate::bind::BindError;
use crate::config::Settings;
use crate::web::error::AppError;

/// Every API route: (method, path as in the OpenAPI document). `configure` serves
/// exactly these; a test holds `openapi.json` to them.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/api/oauth/qq/authorization/"),
    ("GET", "/api/oauth/qq/user/"),
    ("POST", "/api/oauth/qq/user/"),
    ("PUT", "/api/oauth/qq/user/"),
    ("GET", "/api/user/"),
    ("GET", "/api/sms_codes/{mobile}/"),
    ("GET", "/api/openapi.json"),
];

/// The OpenAPI 3 document of the routes above.
pub const OPENAPI: &str = include_str!("openapi.json");

/// A refused API call: `{"code": "...", "errmsg": "..."}` with its status.
#[derive(Debug, thiserror::Error)]
#[error("{errmsg}")]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub errmsg: String,
    /// Seconds, for an answer refused by an abuse limit.
    pub retry_after: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, errmsg: impl Into<String>) -> Self {
        Self {
            status,
            code,
            errmsg: errmsg.into(),
            retry_after: None,
        }
    }

    pub fn bad_request(code: &'static str, errmsg: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, errmsg)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut r = HttpResponse::build(self.status);
        if self.status == StatusCode::UNAUTHORIZED {
            r.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        if let Some(secs) = &self.retry_after {
            r.insert_header((header::RETRY_AFTER, secs.as_str()));
        }
        r.insert_header((header::CACHE_CONTROL, "no-store"))
            .json(serde_json::json!({ "code": self.code, "errmsg": self.errmsg }))
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        if let AppError::Limited(l) = e {
            return l.into();
        }
        e.log();
        let status = e.status_code();
        let code = match status.as_u16() {
            400 => "4000",
            401 | 302 => "4101",
            403 => "4030",
            404 => "4040",
            502 => "5020",
            503 => "5000",
            _ => "5001",
        };
        let status = if status == StatusCode::FOUND {
            StatusCode::UNAUTHORIZED
        } else {
            status
        };
        Self::new(status, code, e.to_string())
    }
}

impl From<crate::limits::Limited> for ApiError {
    fn from(l: crate::limits::Limited) -> Self {
        Self {
            retry_after: Some(l.retry_after_secs()),
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, "4290", l.to_string())
        }
    }
}

impl From<crate::codes::StoreError> for ApiError {
    fn from(e: crate::codes::StoreError) -> Self {
        AppError::from(e).into()
    }
}

impl From<crate::db::DbError> for ApiError {
    fn from(e: crate::db::DbError) -> Self {
        AppError::from(e).into()
    }
}

/// Each row of the bind table has its own code; the message is the form's.
impl From<BindError> for ApiError {
    fn from(e: BindError) -> Self {
        let code = match &e {
            BindError::Missing => "4003",
            BindError::BadMobile => "4007",
            BindError::BadPassword => "4008",
            BindError::SmsMissing => "4011",
            BindError::SmsWrong => "4012",
            BindError::BadOpenId => "4013",
            BindError::WrongPassword => "4014",
            BindError::Disabled => "4017",
            BindError::AccountBoundElsewhere => "4015",
            BindError::Failed => "4016",
            BindError::Captcha(_) => "4001",
            BindError::Limited(_) | BindError::App(_) => "",
        };
        match e {
            BindError::App(app) => app.into(),
            BindError::Limited(l) => l.into(),
            BindError::Disabled => Self::new(StatusCode::FORBIDDEN, code, e.to_string()),
            e => Self::bad_request(code, e.to_string()),
        }
    }
}

async fn method_not_allowed(req: HttpRequest) -> HttpResponse {
    let allowed: Vec<&str> = ROUTES
        .iter()
        .filter(|(_, path)| route_matches(path, req.path()))
        .map(|(m, _)| *m)
        .collect();
    if allowed.is_empty() {
        return ApiError::new(StatusCode::NOT_FOUND, "4040", "接口不存在").error_response();
    }
    let mut r = ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "4050",
        format!("不支持的请求方法 {}", req.method()),
    )
    .error_response();
    if let Ok(v) = header::HeaderValue::from_str(&allowed.join(", ")) {
        r.headers_mut().insert(header::ALLOW, v);
    }
    r
}

/// Whether `path` fits the pattern (`{name}` matches one segment).
pub fn route_matches(pattern: &str, path: &str) -> bool {
    let (p, q): (Vec<&str>, Vec<&str>) = (pattern.split('/').collect(), path.split('/').collect());
    p.len() == q.len()
        && p.iter()
            .zip(&q)
            .all(|(a, b)| (a.starts_with('{') && !b.is_empty()) || a == b)
}

/// Bodies: JSON only, 16 KiB at most; anything else is a clear 400 (or 413).
fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(16 * 1024)
        .content_type_required(true)
        .error_handler(|err, _| {
            use actix_web::error::JsonPayloadError as E;
            let e = match &err {
                E::OverflowKnownLength { .. } | E::Overflow { .. } => ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "4130",
                    "请求体过大（最多16KB）",
                ),
                E::ContentType => ApiError::bad_request(
                    "4000",
                    "请求体须为JSON（Content-Type: application/json）",
                ),
                _ => ApiError::bad_request("4000", "请求体不是有效的JSON"),
            };
            e.into()
        })
}

fn query_config() -> web::QueryConfig {
    web::QueryConfig::default()
        .error_handler(|_, _| ApiError::bad_request("4000", "查询参数有误").into())
}

fn cors(settings: &Settings) -> Cors {
    let mut cors = Cors::default()
        .allowed_methods([Method::GET, Method::POST, Method::PUT])
        .allowed_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT])
        .max_age(3600);
    for origin in &settings.cors_origins {
        cors = cors.allowed_origin(origin);
    }
    cors
}

/// The `/api/` scope.
pub fn configure(cfg: &mut web::ServiceConfig, settings: &Settings) {
    let not_allowed = || web::route().to(method_not_allowed);
    cfg.service(
        web::scope("/api")
            .wrap(cors(settings))
            .app_data(json_config())
            .app_data(query_config())
            .service(
                web::resource("/oauth/qq/authorization/")
                    .route(web::get().to(oauth::authorization))
                    .default_service(not_allowed()),
            )
            .service(
                web::resource("/oauth/qq/user/")
                    .route(web::get().to(oauth::qq_user))
                    .route(web::post().to(oauth::bind_new))
                    .route(web::put().to(oauth::bind_existing))
                    .default_service(not_allowed()),
            )
            .service(
                web::resource("/user/")
                    .route(web::get().to(user::me))
                    .default_service(not_allowed()),
            )
            .service(
                web::resource("/sms_codes/{mobile}/")
                    .route(web::get().to(crate::web::routes::codes::sms_code))
                    .default_service(not_allowed()),
            )
            .service(
                web::resource("/openapi.json")
                    .route(web::get().to(openapi))
                    .default_service(not_allowed()),
            )
            .default_service(not_allowed()),
    );
}

async fn openapi() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(OPENAPI)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_one_segment_per_placeholder() {
        assert!(route_matches(
            "/api/sms_codes/{mobile}/",
            "/api/sms_codes/13800138000/"
        ));
        assert!(!route_matches(
            "/api/sms_codes/{mobile}/",
            "/api/sms_codes//"
        ));
        assert!(!route_matches("/api/user/", "/api/user/x/"));
        assert!(route_matches("/api/user/", "/api/user/"));
    }

    #[test]
    fn the_openapi_document_is_json_with_every_route() {
        let doc: serde_json::Value = serde_json::from_str(OPENAPI).unwrap();
        for (method, path) in ROUTES {
            assert!(
                doc["paths"][path][method.to_lowercase()].is_object(),
                "{method} {path} is not documented"
            );
        }
    }
}
