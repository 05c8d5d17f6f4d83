//! The returning customer's QQ login under load, against its floor.
//!
//! `cargo bench --bench login_flow [-- USERS SECONDS]` (defaults 64 users, 15 s a run;
//! loopback only; SQLite, or PostgreSQL when `LOGIN_FLOW_POSTGRES` names a superuser URL;
//! `LOGIN_FLOW_BIN` measures another qqbind binary, e.g. an older build kept for an A/B).
//! In one run it measures, each as its own process:
//! - qqbind (release binary; SQLite, in-process code store) in real QQ mode against a fast
//!   fake QQ: `GET /qq/login/` then `GET /oauth_callback/` with the cookie, a 302 at the end;
//! - the floor: a minimal actix-web server doing only the unavoidable work of that flow
//!   (a cookie session holding `state`, the two QQ calls, a lookup in a HashMap, a 302);
//!
//! and prints flows/s, p50/p99 of a whole flow, each server's CPU time per flow and the
//! rig's (this process: load generator and fake QQ) beside it (the two servers take
//! turns, three slices each), qqbind ÷ floor, qqbind's peak RSS, and
//! `GET /login/` latency while a bcrypt storm (password logins at cost 12, the cost of a
//! bind) runs beside it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};

mod common;
use common::{free_port, percentile, status_kib, wait_until_answers, Killed};

const CLIENT_ID: &str = "101518219";
const REDIRECT_URI: &str = "http://www.meiduo.site:8000/oauth_callback/";
const ACCOUNTS: usize = 1000;

fn openid(i: usize) -> String {
    format!("{:032X}", (i as u128 + 1) * 0x9E37_79B9_7F4A_7C15)
}

// ------------------------------------------------------------------ fake QQ

#[derive(serde::Deserialize)]
struct CodeQuery {
    code: Option<String>,
    access_token: Option<String>,
}

async fn qq_token(q: web::Query<CodeQuery>) -> HttpResponse {
    let code = q.code.clone().unwrap_or_default();
    let openid = code.strip_prefix("code-").unwrap_or_default();
    HttpResponse::Ok().content_type("text/html").body(format!(
        "access_token=tok-{openid}&expires_in=7776000&refresh_token=ref-{openid}"
    ))
}

async fn qq_me(q: web::Query<CodeQuery>) -> HttpResponse {
    let token = q.access_token.clone().unwrap_or_default();
    let openid = token.strip_prefix("tok-").unwrap_or_default();
    HttpResponse::Ok().content_type("text/html").body(format!(
        "callback( {{\"client_id\":\"{CLIENT_ID}\",\"openid\":\"{openid}\"}} );\n"
    ))
}

fn start_fake_qq() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let server = HttpServer::new(|| {
        App::new()
            .route("/oauth2.0/token", web::get().to(qq_token))
            .route("/oauth2.0/me", web::get().to(qq_me))
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    url
}

// ------------------------------------------------------------------ the floor

struct Floor {
    qq: String,
    http: reqwest::Client,
    users: HashMap<String, i32>,
}

async fn floor_login(session: actix_session::Session, floor: web::Data<Floor>) -> HttpResponse {
    let state = format!("{:032x}", rand::random::<u128>());
    session.insert("state", &state).unwrap();
    let url = format!(
        "{}/oauth2.0/authorize?response_type=code&client_id={CLIENT_ID}&state={state}",
        floor.qq
    );
    HttpResponse::Ok().json(serde_json::json!({ "login_url": url }))
}

async fn floor_callback(
    req: HttpRequest,
    session: actix_session::Session,
    floor: web::Data<Floor>,
) -> HttpResponse {
    let q: HashMap<String, String> =
        web::Query::<HashMap<String, String>>::from_query(req.query_string())
            .map(|q| q.into_inner())
            .unwrap_or_default();
    let expected: Option<String> = session.remove_as("state").and_then(Result::ok);
    if expected.as_deref() != q.get("state").map(String::as_str) {
        return HttpResponse::BadRequest().finish();
    }
    let code = q.get("code").cloned().unwrap_or_default();
    let get = |path: &str, key: &'static str, value: String| {
        let req = floor
            .http
            .get(format!("{}{path}", floor.qq))
            .query(&[(key, value)]);
        async move { req.send().await.ok()?.text().await.ok() }
    };
    let Some(token) = get("/oauth2.0/token", "code", code).await else {
        return HttpResponse::BadGateway().finish();
    };
    let access = token
        .split('&')
        .find_map(|kv| kv.strip_prefix("access_token="))
        .unwrap_or_default()
        .to_owned();
    let Some(me) = get("/oauth2.0/me", "access_token", access).await else {
        return HttpResponse::BadGateway().finish();
    };
    let openid = me
        .split("\"openid\":\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or_default();
    match floor.users.get(openid) {
        Some(uid) => {
            session.insert("uid", uid).unwrap();
            HttpResponse::Found()
                .insert_header(("Location", "/info/"))
                .finish()
        }
        None => HttpResponse::Ok().body("bind form"),
    }
}

/// The floor server, run as its own process (this bench binary with `--floor`).
fn run_floor(port: u16, qq: String) {
    let users: HashMap<String, i32> = (0..ACCOUNTS).map(|i| (openid(i), i as i32 + 1)).collect();
    let data = web::Data::new(Floor {
        qq,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        users,
    });
    let key = actix_web::cookie::Key::generate();
    actix_web::rt::System::new().block_on(async move {
        HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .wrap(
                    actix_session::SessionMiddleware::builder(
                        actix_session::storage::CookieSessionStore::default(),
                        key.clone(),
                    )
                    .cookie_secure(false)
                    .build(),
                )
                .route("/qq/login/", web::get().to(floor_login))
                .route("/oauth_callback/", web::get().to(floor_callback))
        })
        .bind(("127.0.0.1", port))
        .unwrap()
        .run()
        .await
        .unwrap();
    });
}

// ------------------------------------------------------------------ load

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(4)
        .build()
        .unwrap()
}

/// One returning customer's QQ login; `true` when it ended in a 302.
async fn flow(c: &reqwest::Client, base: &str, i: usize) -> bool {
    let Ok(r) = c.get(format!("{base}/qq/login/?next=/info/")).send().await else {
        return false;
    };
    let Ok(body) = r.json::<serde_json::Value>().await else {
        return false;
    };
    let url = url::Url::parse(body["login_url"].as_str().unwrap_or_default()).unwrap();
    let state = url
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let r = c
        .get(format!("{base}/oauth_callback/"))
        .query(&[
            ("code", format!("code-{}", openid(i)).as_str()),
            ("state", &state),
        ])
        .send()
        .await;
    matches!(r, Ok(r) if r.status() == 302)
}

/// What one measured slice of load saw.
struct Slice {
    times: Vec<Duration>,
    elapsed: Duration,
    failed: usize,
    /// The server's CPU time (user + system) meanwhile.
    cpu: Duration,
    /// This process's: the load generator and the fake QQ.
    rig_cpu: Duration,
}

struct Run {
    flows_per_s: f64,
    p50: Duration,
    p99: Duration,
    failed: usize,
    /// The server's CPU time per flow: what a flow costs it, whatever else the two cores
    /// were doing meanwhile (the load generator, the fake QQ, the other server).
    cpu_per_flow: Duration,
    /// The same for the load generator and the fake QQ (this bench's own process).
    rig_cpu_per_flow: Duration,
}

impl Run {
    fn of(slices: Vec<Slice>) -> Self {
        let mut times: Vec<Duration> = slices.iter().flat_map(|s| s.times.clone()).collect();
        times.sort_unstable();
        let elapsed: Duration = slices.iter().map(|s| s.elapsed).sum();
        let cpu: Duration = slices.iter().map(|s| s.cpu).sum();
        let rig_cpu: Duration = slices.iter().map(|s| s.rig_cpu).sum();
        Self {
            flows_per_s: times.len() as f64 / elapsed.as_secs_f64(),
            p50: percentile(&times, 0.5),
            p99: percentile(&times, 0.99),
            failed: slices.iter().map(|s| s.failed).sum(),
            cpu_per_flow: cpu / times.len().max(1) as u32,
            rig_cpu_per_flow: rig_cpu / times.len().max(1) as u32,
        }
    }
}

/// CPU time `pid` has used so far (utime + stime, in clock ticks of 10 ms).
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name's closing parenthesis; utime and stime are the
    // 14th and 15th of the line, the 12th and 13th after it.
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let ticks: u64 = after
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|v| v.parse::<u64>().ok())
        .sum();
    Duration::from_millis(ticks * 10)
}

async fn load(base: &str, pid: u32, users: usize, seconds: u64) -> Slice {
    // Warm up (connections, caches), then measure.
    let stop = Arc::new(AtomicBool::new(false));
    let times = Arc::new(Mutex::new(Vec::new()));
    let failed = Arc::new(Mutex::new(0usize));
    let measuring = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> = (0..users)
        .map(|u| {
            let (stop, times, failed, measuring) = (
                stop.clone(),
                times.clone(),
                failed.clone(),
                measuring.clone(),
            );
            let base = base.to_owned();
            tokio::spawn(async move {
                let c = client();
                let mut n = u;
                while !stop.load(Ordering::Relaxed) {
                    let t = Instant::now();
                    let ok = flow(&c, &base, n % ACCOUNTS).await;
                    if measuring.load(Ordering::Relaxed) {
                        if ok {
                            times.lock().unwrap().push(t.elapsed());
                        } else {
                            *failed.lock().unwrap() += 1;
                        }
                    }
                    n += users;
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(2)).await;
    measuring.store(true, Ordering::Relaxed);
    let me = std::process::id();
    let (started, cpu_before, rig_before) = (Instant::now(), cpu_time(pid), cpu_time(me));
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    measuring.store(false, Ordering::Relaxed);
    let (elapsed, cpu, rig_cpu) = (
        started.elapsed(),
        cpu_time(pid) - cpu_before,
        cpu_time(me) - rig_before,
    );
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    let times = times.lock().unwrap().clone();
    let failed = *failed.lock().unwrap();
    Slice {
        times,
        elapsed,
        failed,
        cpu,
        rig_cpu,
    }
}

fn seed(db: &str) {
    use diesel::prelude::*;
    use qqbind::db::schema::{tb_oauth_identity, tb_users};
    let pool = qqbind::db::build_pool(db).unwrap();
    qqbind::db::run_migrations(&pool).unwrap();
    let mut conn = pool.get().unwrap();
    let hash = bcrypt::hash("abcd1234", bcrypt::DEFAULT_COST).unwrap();
    let now = qqbind::db::now();
    qqbind::db::transaction(&mut conn, |c| {
        for i in 0..ACCOUNTS {
            diesel::insert_into(tb_users::table)
                .values((
                    tb_users::username.eq(format!("user{i:06}")),
                    tb_users::mobile.eq(format!("13{i:09}")),
                    tb_users::password.eq(&hash),
                    tb_users::date_joined.eq(now),
                ))
                .execute(c)?;
            diesel::insert_into(tb_oauth_identity::table)
                .values((
                    tb_oauth_identity::provider.eq("qq"),
                    tb_oauth_identity::user_id.eq(i as i32 + 1),
                    tb_oauth_identity::openid.eq(openid(i)),
                    tb_oauth_identity::bound_at.eq(now),
                ))
                .execute(c)?;
        }
        Ok::<_, diesel::result::Error>(())
    })
    .unwrap();
}

/// With `LOGIN_FLOW_POSTGRES` (a superuser URL), qqbind runs on PostgreSQL instead: a
/// fresh schema of its own on that server, dropped at the end.
struct PgSchema {
    admin: String,
    name: String,
}

impl PgSchema {
    fn create(admin: &str) -> (Self, String) {
        use diesel::connection::SimpleConnection;
        use diesel::Connection;
        let name = format!("login_flow_{}", std::process::id());
        diesel::PgConnection::establish(admin)
            .unwrap()
            .batch_execute(&format!(
                "DROP SCHEMA IF EXISTS {name} CASCADE; CREATE SCHEMA {name}"
            ))
            .unwrap();
        let mut url = url::Url::parse(admin).unwrap();
        url.query_pairs_mut()
            .append_pair("options", &format!("-csearch_path={name}"));
        let url = url.to_string();
        (
            Self {
                admin: admin.to_owned(),
                name,
            },
            url,
        )
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        use diesel::connection::SimpleConnection;
        use diesel::Connection;
        if let Ok(mut c) = diesel::PgConnection::establish(&self.admin) {
            let _ = c.batch_execute(&format!("DROP SCHEMA {} CASCADE", self.name));
        }
    }
}

/// `GET /login/` latency while `storm` clients log in by password (bcrypt) nonstop.
async fn login_page_under_bcrypt_storm(
    base: &str,
    storm: usize,
    seconds: u64,
) -> (Duration, Duration, usize) {
    let stop = Arc::new(AtomicBool::new(false));
    let logins = Arc::new(Mutex::new(0usize));
    let stormers: Vec<_> = (0..storm)
        .map(|s| {
            let (stop, logins, base) = (stop.clone(), logins.clone(), base.to_owned());
            tokio::spawn(async move {
                let c = client();
                while !stop.load(Ordering::Relaxed) {
                    let name = format!("user{s:06}");
                    let r = common::password_login(&c, &base, &name, "abcd1234").await;
                    if r.status() == 302 {
                        *logins.lock().unwrap() += 1;
                    }
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let probe = client();
    let mut times = Vec::new();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(seconds) {
        let t = Instant::now();
        let r = probe.get(format!("{base}/login/")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let _ = r.bytes().await;
        times.push(t.elapsed());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for s in stormers {
        s.await.unwrap();
    }
    times.sort_unstable();
    let n = *logins.lock().unwrap();
    (percentile(&times, 0.5), percentile(&times, 0.99), n)
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    if args.first().map(String::as_str) == Some("--floor") {
        return run_floor(args[1].parse().unwrap(), args[2].clone());
    }
    let users: usize = args.first().map_or(64, |a| a.parse().unwrap());
    let seconds: u64 = args.get(1).map_or(15, |a| a.parse().unwrap()).min(120);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(orchestrate(users, seconds));
}

fn peak_rss_mib(server: &Killed) -> f64 {
    status_kib(server.0.id(), "VmHWM") as f64 / 1024.0
}

async fn orchestrate(users: usize, seconds: u64) {
    let qq = start_fake_qq();
    let dir = tempfile::tempdir().unwrap();
    let (_pg, db) = match std::env::var("LOGIN_FLOW_POSTGRES") {
        Ok(admin) => {
            let (schema, url) = PgSchema::create(&admin);
            (Some(schema), url)
        }
        Err(_) => (
            None,
            dir.path().join("bench.db").to_string_lossy().into_owned(),
        ),
    };
    seed(&db);
    let backend = qqbind::db::Backend::of(&db);

    let port = free_port();
    let qqbind = Killed(
        Command::new(
            std::env::var_os("LOGIN_FLOW_BIN").unwrap_or(env!("CARGO_BIN_EXE_qqbind").into()),
        )
        .env_clear()
        .env("DATABASE_URL", &db)
        .env("QQBIND_LISTEN", format!("127.0.0.1:{port}"))
        .env("QQ_CLIENT_ID", CLIENT_ID)
        .env("QQ_CLIENT_SECRET", "bench-secret")
        .env("QQ_REDIRECT_URI", REDIRECT_URI)
        .env("QQ_GRAPH_URL", &qq)
        .env("SECRET_KEY", "bench-secret-key-0123456789abcdef-0123456789")
        .env("SESSION_COOKIE_SECURE", "false")
        .env("SMS_PROVIDER", "log")
        // Every user of the bench comes from one loopback address, which the per-client
        // limit on starting QQ logins (30 a minute) would refuse at once.
        .env("RATE_LIMITS", "off")
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .spawn()
        .unwrap(),
    );
    let qqbind_base = format!("http://127.0.0.1:{port}");
    wait_until_answers(&reqwest::Client::new(), &format!("{qqbind_base}/qq/login/")).await;

    let floor_port = free_port();
    let floor = Killed(
        Command::new(std::env::current_exe().unwrap())
            .args(["--floor", &floor_port.to_string(), &qq])
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let floor_base = format!("http://127.0.0.1:{floor_port}");
    wait_until_answers(&reqwest::Client::new(), &format!("{floor_base}/qq/login/")).await;

    println!("returning-customer QQ login on {backend:?}, {users} virtual users, {seconds} s each in three interleaved slices (each after 2 s warm-up), loopback, 2 cores");
    // Floor and qqbind take turns, three slices each, so that a slow spell of the
    // machine (a neighbour, a frequency step) falls on both rather than on one.
    let (mut fs, mut qs) = (Vec::new(), Vec::new());
    let slice = seconds.div_ceil(3);
    for _ in 0..3 {
        fs.push(load(&floor_base, floor.0.id(), users, slice).await);
        qs.push(load(&qqbind_base, qqbind.0.id(), users, slice).await);
    }
    let (f, q) = (Run::of(fs), Run::of(qs));
    drop(floor);
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{:<8} {:>10} {:>9} {:>9} {:>7} {:>13} {:>17}",
        "server", "flows/s", "p50 ms", "p99 ms", "failed", "CPU µs/flow", "rig CPU µs/flow"
    );
    for (name, r) in [("floor", &f), ("qqbind", &q)] {
        println!(
            "{name:<8} {:>10.0} {:>9.2} {:>9.2} {:>7} {:>13.0} {:>17.0}",
            r.flows_per_s,
            ms(r.p50),
            ms(r.p99),
            r.failed,
            r.cpu_per_flow.as_secs_f64() * 1e6,
            r.rig_cpu_per_flow.as_secs_f64() * 1e6
        );
    }
    let ratio = q.flows_per_s / f.flows_per_s;
    let rss = peak_rss_mib(&qqbind);
    println!("qqbind / floor = {ratio:.2} (target >= 0.70); qqbind p99 {:.2} ms (target < 20); peak RSS {rss:.1} MiB (target < 50)", ms(q.p99));

    let (p50, p99, logins) = login_page_under_bcrypt_storm(&qqbind_base, 8, seconds).await;
    println!(
        "GET /login/ during a bcrypt storm (8 clients logging in by password nonstop, {logins} logins): p50 {:.2} ms, p99 {:.2} ms (target < 50)",
        ms(p50),
        ms(p99)
    );
    println!("peak RSS after the storm {:.1} MiB", peak_rss_mib(&qqbind));
}
