//! HTTP handlers, one module per page family. Handlers are thin: extract, parse, call
//! one service, map the outcome to a response.

pub mod account;
pub mod admin;
pub mod admin_dashboard;
pub mod admin_export;
pub mod codes;
pub mod dev_providers;
pub mod dev_qq;
pub mod health;
pub mod info;
pub mod login;
pub mod pages;
pub mod qq;
pub mod register;
pub mod reset;

use actix_web::web;

use crate::state::AppState;
use crate::web::error::AppError;
use crate::web::session::TypedSession;
pub use crate::web::views::Nav;

/// `?next=PATH`: where to go once logged in (sanitised by `NextPath`).
#[derive(serde::Deserialize)]
pub struct NextQuery {
    pub next: Option<String>,
}

pub use crate::web::client::{client, client_ip};

/// Where a change of this request came from, for the audit log and the consents: the
/// client's address, the way in, the browser's User-Agent.
pub fn origin(
    state: &AppState,
    req: &actix_web::HttpRequest,
    channel: crate::db::audit::Channel,
) -> crate::db::audit::Origin {
    crate::db::audit::Origin::new(client(state, req).address(), channel)
        .with_user_agent(crate::web::auth::user_agent(req))
}

/// The CSRF token for this session's forms.
pub fn csrf_token(state: &AppState, session: &TypedSession) -> Result<String, AppError> {
    Ok(state.signer.csrf_token(&session.csrf_seed()?))
}

/// Refuses a POST whose `csrf_token` is missing or not this session's.
pub fn check_csrf(
    state: &AppState,
    session: &TypedSession,
    token: Option<&str>,
) -> Result<(), AppError> {
    let seed = session.existing_csrf_seed()?;
    match (seed, token) {
        (Some(seed), Some(token)) if state.signer.verify_csrf(&seed, token) => Ok(()),
        _ => Err(AppError::Csrf),
    }
}

/// Every route of the app; the simulator and the dev outbox only where they apply.
pub fn configure(cfg: &mut web::ServiceConfig, dev_mode: bool, dev_outbox: bool) {
    // Fixed paths first, the QQ login's two at the top: a request is tried against each
    // route in turn, and a fixed path is a string comparison where a `{…}` pattern runs a
    // regex.
    cfg.service(web::resource("/qq/login/").route(web::get().to(qq::qq_login_url)))
        .service(web::resource("/qq/authorize/").route(web::get().to(qq::qq_authorize)))
        // Two resources, not one with two patterns: a resource of several patterns is
        // matched by a regex set, on every request that reaches it (and by the metrics'
        // route lookup), where one fixed path is a string comparison.
        .service(
            web::resource("/oauth_callback/")
                .route(web::get().to(qq::callback))
                .route(web::post().to(qq::bind_submit)),
        )
        .service(
            web::resource("/oauth_callback")
                .route(web::get().to(qq::callback))
                .route(web::post().to(qq::bind_submit)),
        )
        .service(web::resource("/oauth_callback/link/").route(web::post().to(qq::link_submit)))
        .service(
            web::resource("/oauth_callback/same_person/")
                .route(web::post().to(qq::same_person_submit)),
        )
        .service(
            web::resource("/password/reset/")
                .route(web::get().to(reset::reset_page))
                .route(web::post().to(reset::reset_submit)),
        )
        .service(web::resource("/terms/").route(web::get().to(pages::terms)))
        .service(web::resource("/privacy/").route(web::get().to(pages::privacy)))
        .service(web::resource("/").route(web::get().to(pages::index)))
        .service(web::resource("/favicon.ico").route(web::get().to(pages::favicon)))
        .service(web::resource("/healthz").route(web::get().to(health::healthz)))
        .service(
            web::resource("/login/")
                .route(web::get().to(login::login_page))
                .route(web::post().to(login::login_submit)),
        )
        .service(web::resource("/logout/").route(web::post().to(login::logout)))
        .service(web::resource("/info/").route(web::get().to(info::info_page)))
        .service(
            web::resource("/info/password/")
                .route(web::get().to(info::password_page))
                .route(web::post().to(info::password_submit)),
        )
        .service(web::resource("/info/export/").route(web::get().to(info::export)))
        .service(
            web::resource("/register/")
                .route(web::get().to(register::register_page))
                .route(web::post().to(register::register_submit)),
        )
        .service(web::resource("/static/{path:.*}").route(web::get().to(pages::static_file)))
        .service(
            web::resource("/usernames/{username}/count/")
                .route(web::get().to(register::username_count)),
        )
        .service(
            web::resource("/mobiles/{mobile}/count/").route(web::get().to(register::mobile_count)),
        )
        .service(web::resource("/image_codes/{uuid}/").route(web::get().to(codes::image_code)))
        .service(web::resource("/sms_codes/{mobile}/").route(web::get().to(codes::sms_code)))
        // Every provider's login (QQ's old paths above stay as they are).
        .service(
            web::resource("/oauth/{provider}/login/").route(web::get().to(qq::provider_login_url)),
        )
        .service(
            web::resource("/oauth/{provider}/authorize/")
                .route(web::get().to(qq::provider_authorize)),
        )
        .service(
            web::resource("/oauth/{provider}/callback/")
                .route(web::get().to(qq::provider_callback))
                .route(web::post().to(qq::bind_submit)),
        )
        .service(
            web::resource("/consent/")
                .route(web::get().to(account::consent_page))
                .route(web::post().to(account::consent_submit)),
        )
        .service(
            web::resource("/info/delete/")
                .route(web::get().to(account::delete_form))
                .route(web::post().to(account::delete_submit)),
        )
        .service(web::resource("/info/delete/sms/").route(web::post().to(account::delete_sms)))
        .service(
            web::resource("/info/sessions/end_others/")
                .route(web::post().to(account::end_other_sessions)),
        )
        .service(
            web::resource("/info/sessions/{handle}/end/")
                .route(web::post().to(account::end_session)),
        )
        .service(web::resource("/info/{provider}/unbind/").route(web::post().to(info::unbind)));
    cfg.service(web::resource("/admin/").route(web::get().to(admin_dashboard::dashboard)))
        .service(
            web::resource("/admin/users/export.csv").route(web::get().to(admin_export::users_csv)),
        )
        .service(
            web::resource("/admin/bindings/export.csv")
                .route(web::get().to(admin_export::bindings_csv)),
        )
        .service(
            web::resource("/admin/audit/export.csv").route(web::get().to(admin_export::audit_csv)),
        );
    admin::configure(cfg);
    if dev_outbox {
        cfg.service(web::resource("/dev/sms/").route(web::get().to(codes::dev_outbox)));
    }
    if dev_mode {
        dev_qq::configure(cfg);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn ip(peer: &str, xff: Option<&str>, trusted: &[&str]) -> String {
        let mut req = TestRequest::default().peer_addr(format!("{peer}:4000").parse().unwrap());
        if let Some(v) = xff {
            req = req.insert_header(("x-forwarded-for", v));
        }
        let nets: Vec<ipnet::IpNet> = trusted.iter().map(|n| n.parse().unwrap()).collect();
        client_ip(&req.to_http_request(), &nets).to_string()
    }

    #[test]
    fn the_client_is_the_nearest_untrusted_hop() {
        // No trusted proxy: the header is ignored.
        assert_eq!(ip("203.0.113.7", Some("1.2.3.4"), &[]), "203.0.113.7");
        // From a proxy we do not trust: ignored too.
        assert_eq!(
            ip("203.0.113.7", Some("1.2.3.4"), &["10.0.0.0/8"]),
            "203.0.113.7"
        );
        // Behind two trusted hops, a client that forged its own first entry.
        assert_eq!(
            ip(
                "10.0.0.1",
                Some("6.6.6.6, 198.51.100.9, 10.0.0.2"),
                &["10.0.0.0/8"]
            ),
            "198.51.100.9"
        );
        // Only trusted hops, or garbage: the peer.
        assert_eq!(
            ip("10.0.0.1", Some("10.0.0.2"), &["10.0.0.0/8"]),
            "10.0.0.1"
        );
        assert_eq!(
            ip("10.0.0.1", Some("not an ip"), &["10.0.0.0/8"]),
            "10.0.0.1"
        );
        assert_eq!(ip("10.0.0.1", None, &["10.0.0.0/8"]), "10.0.0.1");
    }
}
