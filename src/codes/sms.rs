//! SMS providers. `log` (dev) writes the code to the log and to the dev outbox;
//! `tencent` sends it through Tencent Cloud SMS.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Local};

use crate::config::SmsProviderKind;

/// One message the `log` provider "sent".
#[derive(Debug, Clone)]
pub struct OutboxEntry {
    pub mobile: String,
    pub code: String,
    pub sent_at: DateTime<Local>,
}

const OUTBOX_LEN: usize = 50;

#[derive(Debug, thiserror::Error)]
#[error("SMS gateway failed: {0}")]
pub struct SmsError(pub String);

#[derive(Clone)]
pub enum SmsProvider {
    Log(Outbox),
    Tencent(Box<super::tencent::TencentProvider>),
}

impl SmsProvider {
    pub fn new(kind: &SmsProviderKind) -> Self {
        match kind {
            SmsProviderKind::Log => Self::Log(Outbox::default()),
            SmsProviderKind::Tencent(cfg) => Self::Tencent(Box::new(
                super::tencent::TencentProvider::new((**cfg).clone()),
            )),
        }
    }

    pub async fn send_code(&self, mobile: &str, code: &str) -> Result<(), SmsError> {
        match self {
            Self::Log(outbox) => {
                // The dev provider's whole job is to show the code; real ones never log it.
                tracing::info!(mobile, code, "dev SMS (log provider): verification code");
                outbox.push(mobile, code);
                Ok(())
            }
            Self::Tencent(gateway) => gateway.send(mobile, code).await,
        }
    }

    /// The dev outbox, when this provider has one.
    pub fn outbox(&self) -> Option<&Outbox> {
        match self {
            Self::Log(outbox) => Some(outbox),
            Self::Tencent(_) => None,
        }
    }
}

/// The last messages of the `log` provider, newest first.
#[derive(Clone, Default)]
pub struct Outbox {
    entries: Arc<Mutex<VecDeque<OutboxEntry>>>,
}

impl Outbox {
    fn push(&self, mobile: &str, code: &str) {
        let mut q = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        q.push_front(OutboxEntry {
            mobile: mobile.to_owned(),
            code: code.to_owned(),
            sent_at: Local::now(),
        });
        q.truncate(OUTBOX_LEN);
    }

    pub fn entries(&self) -> Vec<OutboxEntry> {
        let q = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        q.iter().cloned().collect()
    }
}
