//! Integration tests: the real app on a random loopback port, a fake QQ on another, a
//! fresh database each (a temp SQLite file, or a database of its own on the PostgreSQL
//! cluster `.ci/run` starts), and (for the Redis runs) a real redis-server each.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../common/mod.rs"]
mod common;
mod helpers;

mod accounts;
mod admin;
mod bind;
mod callback;
mod cli;
mod codes;
mod concurrency;
mod console;
mod faults;
mod health;
mod instances;
mod journeys;
mod json_api;
mod layers;
mod limits;
mod login;
mod migrations;
mod operations;
mod privacy;
mod providers;
mod qq_login;
mod recovery;
mod register;
mod security;
mod self_service;
mod simulator;
mod sms_gateway;
mod store;
mod takeover;
