//! `spawn_app`, the fake QQ, the Redis and PostgreSQL fixtures and a cookie-keeping
//! browser: one module each, all re-exported here (`use crate::helpers::*`).

mod app;
mod fake_providers;
mod fake_qq;
mod pages;
mod postgres;
mod redis;
mod setups;
mod tls;

pub use app::*;
pub use fake_providers::*;
pub use fake_qq::*;
pub use pages::*;
pub use postgres::*;
pub use redis::*;
pub use setups::*;
pub use tls::*;

pub const CLIENT_ID: &str = "101518219";
pub const CLIENT_SECRET: &str = "fake-qq-client-secret-418d84eb";
pub const REDIRECT_URI: &str = "http://www.meiduo.site:8000/oauth_callback/";
pub const PASSWORD: &str = "abcd1234";
pub const STAFF_PASSWORD: &str = "Operator2026";
