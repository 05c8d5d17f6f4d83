//! QQ Connect: the wire formats (`wire`), the HTTP client (`client`) and the dev-mode
//! simulator (`simulator`).

pub mod client;
pub mod simulator;
pub mod wire;

pub use client::{AccessToken, QqClient, QqError, QqProfile};
