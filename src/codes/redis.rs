//! The Redis code store (deadpool-redis), for one or several instances.

use std::future::Future;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use deadpool_redis::{Config, Pool, PoolConfig, Runtime, Timeouts};
use redis::Script;

use super::{keys, StoreError};

/// Longest we wait for Redis on any one operation: a slow Redis gives a fast 503.
const OP_TIMEOUT: Duration = Duration::from_secs(2);
/// After an operation failed (no connection, timed out, connection lost) while no other
/// operation has succeeded for [`OP_TIMEOUT`], operations fail at
/// once for [`TRIP_FOR`] instead of each waiting out its own timeout: one request pays
/// the wait, not every store call of every request. A burst of slow answers among which
/// some still succeed does not open the breaker; nor does waiting for one of our own
/// pooled connections (that is our congestion, not Redis failing).
const TRIP_FOR: Duration = Duration::from_secs(3);

#[derive(Clone)]
pub struct RedisStore {
    pool: Pool,
    /// Unix milliseconds until which Redis counts as down.
    tripped_until: Arc<AtomicI64>,
    /// Unix milliseconds of the last operation that succeeded.
    last_success: Arc<AtomicI64>,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

const TAKE_IF_EQUALS: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0";

const PUT_SMS_CODE: &str = r"
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
redis.call('SET', KEYS[2], '1', 'EX', ARGV[3])
redis.call('DEL', KEYS[3])
return 1";

const INCR_WITH_TTL: &str = r"
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n";

const DECR_IF_EXISTS: &str = r"
local n = tonumber(redis.call('GET', KEYS[1]))
if n == nil then return 0 end
if n <= 0 then return 0 end
return redis.call('DECR', KEYS[1])";

impl RedisStore {
    /// Builds the pool; nothing is connected until first use (see [`Self::ping`]).
    pub fn new(url: &str) -> Result<Self, StoreError> {
        let mut cfg = Config::from_url(url);
        cfg.pool = Some(PoolConfig {
            max_size: 32,
            timeouts: Timeouts {
                wait: Some(OP_TIMEOUT),
                create: Some(OP_TIMEOUT),
                recycle: Some(OP_TIMEOUT),
            },
            ..PoolConfig::default()
        });
        let pool = cfg
            .create_pool(Some(Runtime::Tokio1))
            .map_err(|e| StoreError(e.to_string()))?;
        Ok(Self {
            pool,
            tripped_until: Arc::new(AtomicI64::new(0)),
            last_success: Arc::new(AtomicI64::new(0)),
        })
    }

    fn trip(&self) {
        self.tripped_until
            .store(now_ms() + TRIP_FOR.as_millis() as i64, Ordering::Relaxed);
    }

    /// An operation failed: the breaker opens unless Redis answered someone lately.
    fn failed(&self) {
        let quiet_for = now_ms() - self.last_success.load(Ordering::Relaxed);
        if quiet_for >= OP_TIMEOUT.as_millis() as i64 {
            self.trip();
        }
    }

    /// Whether the breaker is open now (for health and metrics).
    pub fn is_tripped(&self) -> bool {
        now_ms() < self.tripped_until.load(Ordering::Relaxed)
    }

    async fn with_conn<T, F, Fut>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(deadpool_redis::Connection) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        if now_ms() < self.tripped_until.load(Ordering::Relaxed) {
            return Err(StoreError(
                "redis failed moments ago; not asked again yet".to_owned(),
            ));
        }
        let work = async {
            let conn = self.pool.get().await.map_err(|e| {
                use deadpool_redis::{PoolError, TimeoutType};
                match &e {
                    // All our connections are busy: congestion here, not Redis failing.
                    PoolError::Timeout(TimeoutType::Wait) => {}
                    // No connection could be made (refused, unreachable, too slow).
                    _ => self.failed(),
                }
                StoreError(e.to_string())
            })?;
            f(conn).await.map_err(|e| {
                if e.is_io_error() || e.is_connection_dropped() || e.is_timeout() {
                    self.failed();
                }
                StoreError(e.to_string())
            })
        };
        let result = tokio::time::timeout(OP_TIMEOUT, work).await.map_err(|_| {
            self.failed();
            StoreError("redis did not answer in time".to_owned())
        })?;
        if result.is_ok() {
            self.last_success.store(now_ms(), Ordering::Relaxed);
        }
        result
    }

    pub async fn set_ex(&self, key: &str, value: &str, ttl: Duration) -> Result<(), StoreError> {
        self.with_conn(|mut c| async move {
            redis::cmd("SET")
                .arg(key)
                .arg(value)
                .arg("PX")
                .arg(ttl.as_millis().max(1) as u64)
                .query_async::<()>(&mut c)
                .await
        })
        .await
    }

    pub async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.with_conn(|mut c| async move { redis::cmd("GET").arg(key).query_async(&mut c).await })
            .await
    }

    pub async fn take(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.with_conn(
            |mut c| async move { redis::cmd("GETDEL").arg(key).query_async(&mut c).await },
        )
        .await
    }

    pub async fn take_if_equals(&self, key: &str, expected: &str) -> Result<bool, StoreError> {
        let n: i64 = self
            .with_conn(|mut c| async move {
                Script::new(TAKE_IF_EQUALS)
                    .key(key)
                    .arg(expected)
                    .invoke_async(&mut c)
                    .await
            })
            .await?;
        Ok(n == 1)
    }

    pub async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.with_conn(
            |mut c| async move { redis::cmd("DEL").arg(key).query_async::<()>(&mut c).await },
        )
        .await
    }

    pub async fn incr(&self, key: &str, ttl: Duration) -> Result<i64, StoreError> {
        self.with_conn(|mut c| async move {
            Script::new(INCR_WITH_TTL)
                .key(key)
                .arg(ttl.as_millis().max(1) as u64)
                .invoke_async(&mut c)
                .await
        })
        .await
    }

    pub async fn decr(&self, key: &str) -> Result<i64, StoreError> {
        self.with_conn(|mut c| async move {
            Script::new(DECR_IF_EXISTS)
                .key(key)
                .invoke_async(&mut c)
                .await
        })
        .await
    }

    pub async fn put_code(
        &self,
        purpose: super::Purpose,
        mobile: &str,
        code: &str,
    ) -> Result<bool, StoreError> {
        let n: i64 = self
            .with_conn(|mut c| async move {
                Script::new(PUT_SMS_CODE)
                    .key(purpose.code_key(mobile))
                    .key(purpose.flag_key(mobile))
                    .key(purpose.tries_key(mobile))
                    .arg(code)
                    .arg(keys::SMS_CODE_TTL.as_secs())
                    .arg(keys::SEND_FLAG_TTL.as_secs())
                    .invoke_async(&mut c)
                    .await
            })
            .await?;
        Ok(n == 1)
    }

    pub async fn ttl(&self, key: &str) -> Result<Option<Duration>, StoreError> {
        let ms: i64 = self
            .with_conn(|mut c| async move { redis::cmd("PTTL").arg(key).query_async(&mut c).await })
            .await?;
        Ok((ms >= 0).then(|| Duration::from_millis(ms as u64)))
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        self.with_conn(|mut c| async move { redis::cmd("PING").query_async::<()>(&mut c).await })
            .await
    }

    /// `HSET` and a `PEXPIRE` that only ever lengthens the hash's life, in one step.
    pub async fn hset(
        &self,
        key: &str,
        field: &str,
        value: &str,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        self.with_conn(|mut c| async move {
            Script::new(HSET_KEEP_LONGEST)
                .key(key)
                .arg(field)
                .arg(value)
                .arg(ttl.as_millis().max(1) as u64)
                .invoke_async::<i64>(&mut c)
                .await
                .map(|_| ())
        })
        .await
    }

    pub async fn hgetall(&self, key: &str) -> Result<Vec<(String, String)>, StoreError> {
        self.with_conn(|mut c| async move {
            redis::cmd("HGETALL")
                .arg(key)
                .query_async::<Vec<(String, String)>>(&mut c)
                .await
        })
        .await
    }

    pub async fn hdel(&self, key: &str, field: &str) -> Result<(), StoreError> {
        self.with_conn(|mut c| async move {
            redis::cmd("HDEL")
                .arg(key)
                .arg(field)
                .query_async::<()>(&mut c)
                .await
        })
        .await
    }
}

/// HSET KEYS[1] ARGV[1] ARGV[2], then make the hash live at least ARGV[3] ms.
const HSET_KEEP_LONGEST: &str = r"
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local left = redis.call('PTTL', KEYS[1])
if left < tonumber(ARGV[3]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return 1
";
