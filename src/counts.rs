//! Daily event counts for the operators' dashboard (logins started, bind forms shown,
//! binds refused by row, SMS sent...): counted in memory as they happen and added to
//! `tb_event_counts` every few seconds (and before the dashboard reads them), so the
//! numbers hold across instances and restarts while a login costs no extra write.

use std::collections::{HashMap, HashSet};
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
/// history line joins the next batch, written every 2 s and before any page that shows
/// the history).
#[derive(Clone, Default)]
pub struct LoginLog {
    pending: Arc<Mutex<Pending>>,
    /// Account → the (terms, privacy) versions it was seen to have accepted.
    consented: Arc<Mutex<HashMap<i32, (String, String)>>>,
}

/// A batch of logins. Their addresses and User-Agents are kept once each (a browser's
/// logins share theirs), so that a line costs no allocation and a batch of 2 s at the
/// full rate of one server (30 000 logins) a couple of MiB.
#[derive(Default)]
struct Pending {
    rows: Vec<PendingLogin>,
    strings: HashSet<Arc<str>>,
}

impl Pending {
    fn share(&mut self, s: &str) -> Arc<str> {
        if let Some(kept) = self.strings.get(s) {
            return Arc::clone(kept);
        }
        let kept: Arc<str> = Arc::from(s);
        self.strings.insert(Arc::clone(&kept));
        kept
    }
}

#[derive(Debug, Clone)]
pub(crate) struct PendingLogin {
    pub(crate) user_id: i32,
    pub(crate) method: &'static str,
    pub(crate) at: chrono::NaiveDateTime,
    pub(crate) ip: Arc<str>,
    pub(crate) user_agent: Arc<str>,
}

impl LoginLog {
    fn lock(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn push(
        &self,
        user_id: i32,
        method: &'static str,
        at: chrono::NaiveDateTime,
        ip: &str,
        user_agent: &str,
    ) {
        let mut p = self.lock();
        let (ip, user_agent) = (p.share(ip), p.share(user_agent));
        p.rows.push(PendingLogin {
            user_id,
            method,
            at,
            ip,
            user_agent,
        });
    }

    /// Writes the pending logins (kept for the next try when the database fails).
    pub async fn flush(&self, db: &db::Db) {
        let taken = {
            let mut p = self.lock();
            if p.rows.is_empty() {
                return;
            }
            // The next batch is likely as long: room for it now, not grown by copies.
            let room = p.rows.len();
            p.strings.clear();
            std::mem::replace(&mut p.rows, Vec::with_capacity(room))
        };
        // Shared with the writer, not copied: a batch is 2 s of logins or more.
        let taken = Arc::new(taken);
        let rows = Arc::clone(&taken);
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
            let taken = Arc::try_unwrap(taken).unwrap_or_else(|shared| (*shared).clone());
            self.lock().rows.extend(taken);
        }
    }

    /// Whether `user_id` is known to have accepted `versions`, the documents in force.
    pub(crate) fn knows_current(&self, user_id: i32, versions: &(String, String)) -> bool {
        self.consented
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&user_id)
            .is_some_and(|seen| seen == versions)
    }

    pub(crate) fn note_current(&self, user_id: i32, versions: (String, String)) {
        self.consented
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(user_id, versions);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A batch keeps each address and User-Agent once, however many logins carry it,
    /// and writes every line, each with its own.
    #[tokio::test]
    async fn a_batch_shares_its_strings_and_writes_every_line() {
        let dir = tempfile::tempdir().unwrap();
        let (url, pool, user) = db::test_file_with_user(dir.path(), db::now());
        let db = Db::new(pool.clone(), &url).unwrap();
        let log = LoginLog::default();
        for (ip, ua) in [
            ("203.0.113.7", "A"),
            ("203.0.113.7", "A"),
            ("198.51.100.1", "A"),
        ] {
            // Each login's strings are allocations of their own: shared by content.
            log.push(
                user.id,
                "qq",
                db::now(),
                &String::from(ip),
                &String::from(ua),
            );
        }
        {
            let p = log.lock();
            assert_eq!(p.strings.len(), 3, "two addresses and one User-Agent");
            assert!(Arc::ptr_eq(&p.rows[0].ip, &p.rows[1].ip));
            assert!(Arc::ptr_eq(&p.rows[0].user_agent, &p.rows[2].user_agent));
        }
        log.flush(&db).await;
        {
            let p = log.lock();
            assert!(p.rows.is_empty() && p.strings.is_empty());
        }
        let mut c = pool.get().unwrap();
        let written = db::login_history::recent(&mut c, user.id, 10).unwrap();
        let ips: Vec<&str> = written.iter().rev().map(|l| l.ip.as_str()).collect();
        assert_eq!(ips, ["203.0.113.7", "203.0.113.7", "198.51.100.1"]);
        assert!(written
            .iter()
            .all(|l| l.user_agent == "A" && l.method == "qq"));
    }
}
