//! What every handler shares.

use std::sync::Arc;

use crate::codes::sms::SmsProvider;
use crate::codes::CodeStore;
use crate::config::Settings;
use crate::db::{DbPool, PointReader};
use crate::qq::QqClient;
use crate::signer::Signer;

#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub db: DbPool,
    /// The hot one-row reads (see [`crate::db::PointReader`]).
    pub reader: PointReader,
    pub codes: CodeStore,
    pub qq: QqClient,
    pub signer: Signer,
    pub sms: SmsProvider,
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}
