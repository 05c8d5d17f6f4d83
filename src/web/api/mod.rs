//! `/api/`: the QQ login and bind flow as JSON, for single-page front-ends (seeds 002 and
//! 003). No cookies: `state` is signed, the openid token is bound to the API, and a JWT
//! says who is logged in. The rules are the form flow's own (`crate::bind`).

pub mod jwt;
pub mod oauth;
pub mod user;

use actix_cors::Cors;
use actix_web::http::{header, Method, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};

use crate::config::Settings;
pub use crate::web::error::ApiError;

/// Every API route: (method, path as in the OpenAPI document). `configure` serves
/// exactly these; a test holds `openapi.json` to them.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/api/oauth/qq/authorization/"),
    ("GET", "/api/oauth/qq/user/"),
    ("POST", "/api/oauth/qq/user/"),
    ("PUT", "/api/oauth/qq/user/"),
    ("POST", "/api/oauth/qq/link/"),
    ("GET", "/api/oauth/{provider}/authorization/"),
    ("GET", "/api/oauth/{provider}/user/"),
    ("POST", "/api/oauth/{provider}/user/"),
    ("PUT", "/api/oauth/{provider}/user/"),
    ("POST", "/api/oauth/{provider}/link/"),
    ("POST", "/api/oauth/{provider}/same_person/"),
    ("GET", "/api/user/"),
    ("POST", "/api/user/delete/"),
    ("POST", "/api/password/reset/"),
    ("GET", "/api/sms_codes/{mobile}/"),
    ("GET", "/api/openapi.json"),
];

/// The OpenAPI 3 document of the routes above.
pub const OPENAPI: &str = include_str!("openapi.json");

async fn method_not_allowed(req: HttpRequest) -> HttpResponse {
    let mut allowed: Vec<&str> = Vec::new();
    for (method, _) in ROUTES.iter().filter(|(_, p)| route_matches(p, req.path())) {
        if !allowed.contains(method) {
            allowed.push(method);
        }
    }
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
                web::resource("/oauth/qq/link/")
                    .route(web::post().to(oauth::link))
                    .default_service(not_allowed()),
            )
            .service(
                web::resource("/oauth/{provider}/authorization/")
                    .route(web::get().to(oauth::provider_authorization))
                    .default_service(not_allowed()),
            )
            .service(
                web::resource("/oauth/{provider}/user/")
                    .route(web::get().to(oauth::provider_user))
                    .route(web::post().to(oauth::bind_new))
                    .route(web::put().to(oauth::bind_existing))
                    .default_service(not_allowed()),
            )
            .service(
                web::resource("/oauth/{provider}/link/")
                    .route(web::post().to(oauth::link))
                    .default_service(not_allowed()),
            )
            .service(
                web::resource("/oauth/{provider}/same_person/")
                    .route(web::post().to(oauth::same_person))
                    .default_service(not_allowed()),
            )
            .service(
                web::resource("/user/")
                    .route(web::get().to(user::me))
                    .default_service(not_allowed()),
            )
            .service(
                web::resource("/user/delete/")
                    .route(web::post().to(user::delete))
                    .default_service(not_allowed()),
            )
            .service(
                web::resource("/password/reset/")
                    .route(web::post().to(crate::web::routes::reset::reset_api))
                    .default_service(not_allowed()),
            )
            .service(
                web::resource("/sms_codes/{mobile}/")
                    .route(web::get().to(crate::web::routes::codes::api_sms_code))
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
