//! What every handler shares.

use std::sync::Arc;

use crate::codes::sms::SmsProvider;
use crate::codes::CodeStore;
use crate::config::Settings;
use crate::db::Db;
use crate::qq::QqClient;
use crate::signer::Signer;

#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    /// The database: `read_one`, `read`, `write`.
    pub db: Db,
    pub codes: CodeStore,
    pub qq: QqClient,
    pub signer: Signer,
    pub sms: SmsProvider,
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}
