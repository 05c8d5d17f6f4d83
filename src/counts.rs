//! Daily event counts for the operators' dashboard (logins started, bind forms shown,
//! binds refused by row, SMS sent...): counted in memory as they happen and added to
//! `tb_event_counts` every few seconds (and before the dashboard reads them), so the
//! numbers hold across instances and restarts while a login costs no extra write.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::NaiveDate;

use crate::db::{self, Db};

#[derive(Clone, Default)]
pub struct Counter {
    /// Day → event → count (looked up by `&str`: counting allocates only for a new
    /// event of the day).
    pending: Arc<Mutex<HashMap<NaiveDate, HashMap<String, i64>>>>,
}

impl Counter {
    /// One more `event` today (UTC).
    pub fn add(&self, event: &str) {
        // Days as the shop lives them: Beijing time.
        let day = (chrono::Utc::now() + chrono::Duration::hours(8)).date_naive();
        let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        let today = p.entry(day).or_default();
        match today.get_mut(event) {
            Some(n) => *n += 1,
            None => {
                today.insert(event.to_owned(), 1);
            }
        }
    }

    /// Adds what was counted since the last flush to the database. What could not be
    /// written is kept for the next flush.
    pub async fn flush(&self, db: &Db) {
        let taken: Vec<((NaiveDate, String), i64)> = {
            let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            p.drain()
                .flat_map(|(day, events)| events.into_iter().map(move |(e, n)| ((day, e), n)))
                .collect()
        };
        if taken.is_empty() {
            return;
        }
        let rows = taken.clone();
        let written = db
            .write(move |c| {
                Ok(db::transaction(c, |c| {
                    for ((day, event), n) in &rows {
                        db::events::add(c, *day, event, *n)?;
                    }
                    Ok::<_, diesel::result::Error>(())
                })?)
            })
            .await;
        if let Err(e) = written {
            tracing::warn!(error = %e, "event counts not written; kept for the next try");
            let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            for ((day, event), n) in taken {
                *p.entry(day).or_default().entry(event).or_insert(0) += n;
            }
        }
    }
}

/// The logins on their way to the history, and the accounts known to have accepted the
/// documents in force: a returning login writes nothing and reads nothing more (its
/// history line joins the next batch, written every second and before any page
/// that shows the history).
#[derive(Clone, Default)]
pub struct LoginLog {
    pending: std::sync::Arc<std::sync::Mutex<Vec<PendingLogin>>>,
    /// (user id, terms version, privacy version) seen current.
    consented: std::sync::Arc<std::sync::Mutex<std::collections::HashSet<(i32, String, String)>>>,
}

#[derive(Debug, Clone)]
pub(crate) struct PendingLogin {
    pub(crate) user_id: i32,
    pub(crate) method: &'static str,
    pub(crate) at: chrono::NaiveDateTime,
    pub(crate) ip: String,
    pub(crate) user_agent: String,
}

impl LoginLog {
    pub(crate) fn push(&self, login: PendingLogin) {
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(login);
    }

    /// Writes the pending logins (kept for the next try when the database fails).
    pub async fn flush(&self, db: &db::Db) {
        let taken: Vec<PendingLogin> =
            std::mem::take(&mut *self.pending.lock().unwrap_or_else(|e| e.into_inner()));
        if taken.is_empty() {
            return;
        }
        // Shared with the writer, not copied: a batch is a second's logins or more.
        let taken = std::sync::Arc::new(taken);
        let rows = std::sync::Arc::clone(&taken);
        let written = db
            .write(move |c| {
                let batch: Vec<db::login_history::Row<'_>> = rows
                    .iter()
                    .map(|l| db::login_history::Row {
                        user_id: l.user_id,
                        method: l.method,
                        at: l.at,
                        ip: &l.ip,
                        user_agent: &l.user_agent,
                    })
                    .collect();
                Ok(db::transaction(c, |c| {
                    db::login_history::record_many(c, &batch)
                })?)
            })
            .await;
        if let Err(e) = written {
            tracing::warn!(error = %e, "login history not written; kept for the next try");
            let taken =
                std::sync::Arc::try_unwrap(taken).unwrap_or_else(|shared| (*shared).clone());
            self.pending
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend(taken);
        }
    }

    pub(crate) fn knows_current(&self, key: &(i32, String, String)) -> bool {
        self.consented
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(key)
    }

    pub(crate) fn note_current(&self, key: (i32, String, String)) {
        self.consented
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key);
    }
}
