//! qqbind: log in with QQ (QQ Connect) and bind the QQ identity to a shop account.

pub mod accounts;
pub mod bind;
pub mod codes;
pub mod config;
pub mod counts;
pub mod db;
pub mod domain;
pub mod fault;
pub mod limits;
pub mod login;
pub mod providers;
pub mod qq;
pub mod recovery;
pub mod self_service;
pub mod sessions;
pub mod signer;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod web;
