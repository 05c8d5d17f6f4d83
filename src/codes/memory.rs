//! The in-process code store: a map behind a mutex, entries expiring lazily.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::keys;

#[derive(Debug)]
struct Entry {
    value: String,
    expires_at: Instant,
}

#[derive(Default)]
struct Inner {
    map: HashMap<String, Entry>,
    /// Hashes (a field → value map under one key, as Redis keeps them), expiring whole.
    hashes: HashMap<String, (HashMap<String, String>, Instant)>,
    writes_since_sweep: usize,
}

/// One instance only: codes live in this process's memory.
#[derive(Clone, Default)]
pub struct MemoryStore {
    inner: Arc<Mutex<Inner>>,
}

const SWEEP_EVERY: usize = 1024;

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // No code panics while holding the lock; if one did, the map is still usable.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn live<'a>(inner: &'a mut Inner, key: &str, now: Instant) -> Option<&'a mut Entry> {
        if inner.map.get(key).is_some_and(|e| e.expires_at <= now) {
            inner.map.remove(key);
        }
        inner.map.get_mut(key)
    }

    fn insert(inner: &mut Inner, key: &str, value: String, ttl: Duration, now: Instant) {
        inner.writes_since_sweep += 1;
        if inner.writes_since_sweep >= SWEEP_EVERY {
            inner.writes_since_sweep = 0;
            inner.map.retain(|_, e| e.expires_at > now);
        }
        inner.map.insert(
            key.to_owned(),
            Entry {
                value,
                expires_at: now + ttl,
            },
        );
    }

    pub fn set_ex(&self, key: &str, value: &str, ttl: Duration) {
        let now = Instant::now();
        Self::insert(&mut self.lock(), key, value.to_owned(), ttl, now);
    }

    pub fn get(&self, key: &str) -> Option<String> {
        Self::live(&mut self.lock(), key, Instant::now()).map(|e| e.value.clone())
    }

    pub fn take(&self, key: &str) -> Option<String> {
        let mut inner = self.lock();
        Self::live(&mut inner, key, Instant::now())?;
        inner.map.remove(key).map(|e| e.value)
    }

    pub fn take_if_equals(&self, key: &str, expected: &str) -> bool {
        let mut inner = self.lock();
        match Self::live(&mut inner, key, Instant::now()) {
            Some(e) if e.value == expected => {
                inner.map.remove(key);
                true
            }
            _ => false,
        }
    }

    pub fn delete(&self, key: &str) {
        self.lock().map.remove(key);
    }

    pub fn incr(&self, key: &str, ttl: Duration) -> i64 {
        let now = Instant::now();
        let mut inner = self.lock();
        if let Some(e) = Self::live(&mut inner, key, now) {
            let n = e.value.parse::<i64>().unwrap_or(0) + 1;
            e.value = n.to_string();
            return n;
        }
        Self::insert(&mut inner, key, "1".to_owned(), ttl, now);
        1
    }

    pub fn decr(&self, key: &str) -> i64 {
        let mut inner = self.lock();
        match Self::live(&mut inner, key, Instant::now()) {
            Some(e) => {
                let n = (e.value.parse::<i64>().unwrap_or(0) - 1).max(0);
                e.value = n.to_string();
                n
            }
            None => 0,
        }
    }

    pub fn put_code(&self, purpose: super::Purpose, mobile: &str, code: &str) -> bool {
        let now = Instant::now();
        let mut inner = self.lock();
        let flag = purpose.flag_key(mobile);
        if Self::live(&mut inner, &flag, now).is_some() {
            return false;
        }
        let sms = purpose.code_key(mobile);
        Self::insert(&mut inner, &sms, code.to_owned(), keys::SMS_CODE_TTL, now);
        Self::insert(&mut inner, &flag, "1".to_owned(), keys::SEND_FLAG_TTL, now);
        inner.map.remove(&purpose.tries_key(mobile));
        true
    }

    pub fn ttl(&self, key: &str) -> Option<Duration> {
        let now = Instant::now();
        Self::live(&mut self.lock(), key, now).map(|e| e.expires_at - now)
    }

    /// Sets `field` of the hash `key`; the hash lives `ttl` from now (or longer, if it
    /// already would).
    pub fn hset(&self, key: &str, field: &str, value: &str, ttl: Duration) {
        let now = Instant::now();
        let mut inner = self.lock();
        inner.writes_since_sweep += 1;
        if inner.writes_since_sweep >= SWEEP_EVERY {
            inner.writes_since_sweep = 0;
            inner.map.retain(|_, e| e.expires_at > now);
            inner.hashes.retain(|_, (_, at)| *at > now);
        }
        if inner.hashes.get(key).is_some_and(|(_, at)| *at <= now) {
            inner.hashes.remove(key);
        }
        let entry = inner
            .hashes
            .entry(key.to_owned())
            .or_insert_with(|| (HashMap::new(), now + ttl));
        entry.0.insert(field.to_owned(), value.to_owned());
        entry.1 = entry.1.max(now + ttl);
    }

    pub fn hgetall(&self, key: &str) -> Vec<(String, String)> {
        let now = Instant::now();
        let inner = self.lock();
        match inner.hashes.get(key) {
            Some((fields, at)) if *at > now => {
                fields.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
            }
            _ => Vec::new(),
        }
    }

    pub fn hdel(&self, key: &str, field: &str) {
        let mut inner = self.lock();
        if let Some((fields, _)) = inner.hashes.get_mut(key) {
            fields.remove(field);
            if fields.is_empty() {
                inner.hashes.remove(key);
            }
        }
    }
}
