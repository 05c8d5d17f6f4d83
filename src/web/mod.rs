//! The web layer: what speaks HTTP. Handlers (`routes`, the JSON API `api`), the
//! extractors that say who is logged in (`auth`), the session cookie (`session`), the
//! pages' shared parts (`views`) and the one mapping of every core error to a page or to
//! JSON (`error`). The core (everything outside `web` and `startup`) imports none of it.

pub mod api;
pub mod auth;
pub mod client;
pub mod error;
pub mod metrics;
pub mod request_id;
pub mod routes;
pub mod session;
pub mod views;
