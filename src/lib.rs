//! qqbind: log in with QQ (QQ Connect) and bind the QQ identity to a shop account.

pub mod accounts;
pub mod api;
pub mod auth;
pub mod bind;
pub mod codes;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod limits;
pub mod login;
pub mod qq;
pub mod routes;
pub mod session;
pub mod signer;
pub mod startup;
pub mod state;
pub mod telemetry;
