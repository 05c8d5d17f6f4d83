//! Soak: the real binary (release, dev mode: the built-in QQ simulator), one redis-server,
//! a SQLite file, and N virtual users on loopback driving returning QQ logins and new
//! binds side by side for a bounded time. Afterwards: no 5xx, every bind that answered
//! 302 is in the database exactly once, nothing else is, and the server's memory is flat.
//!
//! `cargo bench --bench soak [-- SECONDS [USERS]]` (defaults 120 s, 16 users; at most
//! 900 s). Needs `redis-server` on the PATH. Exit status 1 when a check fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use reqwest::redirect::Policy;

mod common;
use common::{free_port, status_kib, wait_until_answers, Killed};

#[derive(Default)]
struct Tally {
    requests: AtomicU64,
    server_errors: AtomicU64,
    logins: AtomicU64,
    binds: AtomicU64,
    refused: AtomicU64,
}

struct Shared {
    base: String,
    redis: redis::Client,
    tally: Tally,
    /// nickname → mobile, for every bind that answered 302.
    bound: Mutex<HashMap<String, String>>,
    stop: AtomicBool,
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

impl Shared {
    async fn send(&self, req: reqwest::RequestBuilder) -> Option<reqwest::Response> {
        self.tally.requests.fetch_add(1, Ordering::Relaxed);
        match req.send().await {
            Ok(r) => {
                if r.status().is_server_error() {
                    self.tally.server_errors.fetch_add(1, Ordering::Relaxed);
                    eprintln!("5xx: {} {}", r.status(), r.url().path());
                }
                Some(r)
            }
            Err(e) => {
                self.tally.server_errors.fetch_add(1, Ordering::Relaxed);
                eprintln!("request failed: {e}");
                None
            }
        }
    }

    /// QQ login as `nickname` through the simulator: the callback's answer.
    async fn qq_login(&self, c: &reqwest::Client, nickname: &str) -> Option<reqwest::Response> {
        let r = self
            .send(c.get(format!("{}/qq/login/?next=/info/", self.base)))
            .await?;
        let body: serde_json::Value = r.json().await.ok()?;
        let mut consent = url::Url::parse(body["login_url"].as_str()?).ok()?;
        consent.set_path("/dev/qq/oauth2.0/consent");
        consent.query_pairs_mut().append_pair("nickname", nickname);
        let r = self.send(c.get(consent)).await?;
        let back = r.headers().get("location")?.to_str().ok()?.to_owned();
        self.send(c.get(back)).await
    }

    async fn new_bind(&self, nickname: &str, mobile: &str) {
        let c = client();
        let Some(r) = self.qq_login(&c, nickname).await else {
            return;
        };
        if r.status() != 200 {
            self.tally.refused.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let page = r.text().await.unwrap_or_default();
        let field = |name: &str| {
            page.split(&format!("name=\"{name}\" value=\""))
                .nth(1)
                .and_then(|s| s.split('"').next())
                .unwrap_or_default()
                .to_owned()
        };
        let (csrf, token) = (field("csrf_token"), field("access_token"));
        // The SMS code, as the dev outbox would show it.
        let mut conn = self.redis.get_multiplexed_async_connection().await.unwrap();
        let _: () = redis::cmd("SET")
            .arg(format!("sms_{mobile}"))
            .arg("123456")
            .arg("EX")
            .arg(300)
            .query_async(&mut conn)
            .await
            .unwrap();
        let form = [
            ("mobile", mobile),
            ("password", "abcd1234"),
            ("sms_code", "123456"),
            ("access_token", &token),
            ("csrf_token", &csrf),
            ("action", "bind"),
        ];
        let Some(r) = self
            .send(c.post(format!("{}/oauth_callback/", self.base)).form(&form))
            .await
        else {
            return;
        };
        if r.status() == 302 {
            self.tally.binds.fetch_add(1, Ordering::Relaxed);
            self.bound
                .lock()
                .unwrap()
                .insert(nickname.to_owned(), mobile.to_owned());
        } else {
            self.tally.refused.fetch_add(1, Ordering::Relaxed);
        }
    }

    async fn returning_login(&self, nickname: &str) {
        let c = client();
        if let Some(r) = self.qq_login(&c, nickname).await {
            if r.status() == 302 {
                self.tally.logins.fetch_add(1, Ordering::Relaxed);
            } else {
                self.tally.refused.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

async fn worker(shared: Arc<Shared>, w: usize) {
    let mut mine: Vec<String> = Vec::new();
    let mut seq = 0u32;
    while !shared.stop.load(Ordering::Relaxed) {
        // One new bind for every three returning logins.
        if mine.is_empty() || seq % 4 == 0 {
            let nickname = format!("soak-{w}-{seq}");
            let mobile = format!("17{w:02}{seq:07}");
            shared.new_bind(&nickname, &mobile).await;
            mine.push(nickname);
        } else {
            let nickname = &mine[seq as usize % mine.len()];
            shared.returning_login(nickname).await;
        }
        seq += 1;
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    let seconds: u64 = args.next().map_or(120, |a| a.parse().unwrap()).min(900);
    let users: usize = args.next().map_or(16, |a| a.parse().unwrap()).clamp(1, 256);

    let dir = tempfile::tempdir().unwrap();
    let redis_port = free_port();
    let _redis = Killed(
        Command::new("redis-server")
            .args(["--port", &redis_port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server on the PATH"),
    );
    let redis_url = format!("redis://127.0.0.1:{redis_port}/0");
    let redis = redis::Client::open(redis_url.as_str()).unwrap();
    let started = Instant::now();
    while redis.get_multiplexed_async_connection().await.is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "redis-server did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let db_path = dir.path().join("soak.db");
    let port = free_port();
    let mut server = Killed(
        Command::new(env!("CARGO_BIN_EXE_qqbind"))
            .env_clear()
            .env("DATABASE_URL", &db_path)
            .env("QQBIND_LISTEN", format!("127.0.0.1:{port}"))
            .env("REDIS_URL", &redis_url)
            // A soak is many requests from one address: the abuse limits would stop it.
            .env("RATE_LIMITS", "off")
            .env("RUST_LOG", "warn")
            .stderr(std::fs::File::create(dir.path().join("server.log")).unwrap())
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}");
    let probe = client();
    wait_until_answers(&probe, &format!("{base}/healthz")).await;
    let pid = server.0.id();

    let shared = Arc::new(Shared {
        base,
        redis,
        tally: Tally::default(),
        bound: Mutex::new(HashMap::new()),
        stop: AtomicBool::new(false),
    });
    println!("soak: {users} virtual users for {seconds} s against pid {pid}");
    let tasks: Vec<_> = (0..users)
        .map(|w| tokio::spawn(worker(shared.clone(), w)))
        .collect();
    let mut samples: Vec<u64> = Vec::new();
    let run_started = Instant::now();
    while run_started.elapsed() < Duration::from_secs(seconds) {
        tokio::time::sleep(Duration::from_secs(2)).await;
        samples.push(status_kib(pid, "VmRSS"));
    }
    shared.stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    let elapsed = run_started.elapsed().as_secs_f64();

    let t = &shared.tally;
    let (requests, errors) = (
        t.requests.load(Ordering::Relaxed),
        t.server_errors.load(Ordering::Relaxed),
    );
    println!(
        "{requests} requests ({:.0}/s): {} returning logins, {} new binds, {} refused, {errors} 5xx or failed",
        requests as f64 / elapsed,
        t.logins.load(Ordering::Relaxed),
        t.binds.load(Ordering::Relaxed),
        t.refused.load(Ordering::Relaxed),
    );

    // What the database holds.
    let _ = server.0.kill();
    let _ = server.0.wait();
    let mut conn = SqliteConnection::establish(&db_path.to_string_lossy()).unwrap();
    use qqbind::db::schema::{tb_oauth_identity, tb_users};
    let users_in_db: Vec<(i32, String)> = tb_users::table
        .select((tb_users::id, tb_users::mobile))
        .load(&mut conn)
        .unwrap();
    let bindings: Vec<i32> = tb_oauth_identity::table
        .select(tb_oauth_identity::user_id)
        .load(&mut conn)
        .unwrap();
    let bound = shared.bound.lock().unwrap();
    let by_mobile: HashMap<&str, i32> = users_in_db
        .iter()
        .map(|(id, m)| (m.as_str(), *id))
        .collect();
    let lost = bound
        .values()
        .filter(|m| {
            !by_mobile
                .get(m.as_str())
                .is_some_and(|id| bindings.contains(id))
        })
        .count();
    let mut per_user: HashMap<i32, usize> = HashMap::new();
    for uid in &bindings {
        *per_user.entry(*uid).or_default() += 1;
    }
    let duplicated = per_user.values().filter(|n| **n > 1).count();
    let extra = users_in_db.len().saturating_sub(bound.len());
    println!(
        "database: {} users, {} bindings; {} binds answered 302; lost {lost}, duplicated {duplicated}, unexpected users {extra}",
        users_in_db.len(),
        bindings.len(),
        bound.len()
    );

    let quarter = (samples.len() / 4).max(1);
    let avg = |s: &[u64]| s.iter().sum::<u64>() as f64 / s.len().max(1) as f64 / 1024.0;
    let (first, last) = (
        avg(&samples[..quarter]),
        avg(&samples[samples.len() - quarter..]),
    );
    let peak = samples.iter().max().copied().unwrap_or(0) as f64 / 1024.0;
    let flat = last <= first * 1.25 + 4.0;
    println!(
        "server RSS: first quarter {first:.1} MiB, last quarter {last:.1} MiB, peak {peak:.1} MiB ({})",
        if flat { "flat" } else { "GROWING" }
    );

    let ok = errors == 0 && lost == 0 && duplicated == 0 && extra == 0 && flat && !bound.is_empty();
    println!("{}", if ok { "soak: OK" } else { "soak: FAILED" });
    if !ok {
        std::process::exit(1);
    }
}
