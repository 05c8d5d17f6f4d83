//! `spawn_app`, the fake QQ, the Redis fixture and a cookie-keeping browser.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpResponse, HttpServer};
use qqbind::codes::{keys, CodeStore, MemoryStore, RedisStore};
use qqbind::config::{QqApp, QqMode, Secret, Settings, SmsProviderKind};
use qqbind::db::{self, Backend};
use qqbind::startup::Application;
use qqbind::state::AppState;
use reqwest::redirect::Policy;
use serde::Deserialize;
use url::Url;

pub const CLIENT_ID: &str = "101518219";
pub const CLIENT_SECRET: &str = "fake-qq-client-secret-418d84eb";
pub const REDIRECT_URI: &str = "http://www.meiduo.site:8000/oauth_callback/";
pub const PASSWORD: &str = "abcd1234";
pub const STAFF_PASSWORD: &str = "Operator2026";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    Memory,
    Redis,
}

/// What an app under test runs on: its code store and its database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setup {
    pub store: StoreKind,
    pub db: Backend,
}

impl Setup {
    /// Whether this machine can run `self` (PostgreSQL, Redis); when not, the test is
    /// skipped (see `crate::common`).
    pub fn runs_here(self) -> bool {
        use crate::common::{have, Need};
        (self.db != Backend::Postgres || have(Need::Postgres))
            && (self.store != StoreKind::Redis || have(Need::Redis))
    }

    /// The embedded defaults: SQLite and the in-process store.
    pub const MEMORY: Self = Self::new(StoreKind::Memory, Backend::Sqlite);
    /// SQLite and a real Redis.
    pub const REDIS: Self = Self::new(StoreKind::Redis, Backend::Sqlite);

    pub const fn new(store: StoreKind, db: Backend) -> Self {
        Self { store, db }
    }

    /// The same store on another database.
    pub const fn on(self, db: Backend) -> Self {
        Self { db, ..self }
    }
}

/// Generates one `#[tokio::test]` per setup (SQLite and PostgreSQL, each with the
/// in-process store and with Redis) for each `async fn name(kind: Setup)`.
#[macro_export]
macro_rules! all_setups {
    ($($name:ident),* $(,)?) => {
        $crate::all_setups!(@one sqlite_memory, Memory, Sqlite, $($name),*);
        $crate::all_setups!(@one sqlite_redis, Redis, Sqlite, $($name),*);
        $crate::all_setups!(@one postgres_memory, Memory, Postgres, $($name),*);
        $crate::all_setups!(@one postgres_redis, Redis, Postgres, $($name),*);
    };
    (@one $module:ident, $store:ident, $db:ident, $($name:ident),*) => {
        mod $module {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() {
                   let setup = $crate::helpers::Setup::new(
                       $crate::helpers::StoreKind::$store,
                       ::qqbind::db::Backend::$db,
                   );
                   if setup.runs_here() {
                       super::$name(setup).await
                   }
               } )*
        }
    };
}

/// Generates one `#[tokio::test]` per code store for each `async fn name(kind: StoreKind)`
/// (tests of the store alone, with no app and no database).
#[macro_export]
macro_rules! both_stores {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { super::$name($crate::helpers::StoreKind::Memory).await } )*
        }
        mod redis {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() {
                   if $crate::common::have($crate::common::Need::Redis) {
                       super::$name($crate::helpers::StoreKind::Redis).await
                   }
               } )*
        }
    };
}

/// Generates one `#[test]` per database for each `fn name(db: Backend)`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $name() { super::$name(::qqbind::db::Backend::Sqlite) } )*
        }
        mod postgres {
            $( #[test] fn $name() {
                if $crate::common::have($crate::common::Need::Postgres) {
                    super::$name(::qqbind::db::Backend::Postgres)
                }
            } )*
        }
    };
}

// ---------------------------------------------------------------- PostgreSQL fixture

/// Where the PostgreSQL tests make their databases: a superuser URL (`.ci/run` starts a
/// throw-away cluster and sets it).
pub const POSTGRES_ENV: &str = "QQBIND_TEST_POSTGRES";

/// A database of its own on the test cluster: a fresh schema, which the URL's
/// `search_path` makes the only one the app sees (ten times faster to make than a
/// `CREATE DATABASE`). Dropped, with everything in it, on drop.
pub struct PgDatabase {
    admin_url: String,
    schema: String,
    pub url: String,
}

impl PgDatabase {
    pub fn create() -> Self {
        let admin_url = std::env::var(POSTGRES_ENV).unwrap_or_else(|_| {
            panic!(
                "{POSTGRES_ENV} is not set: run `bash .ci/run` (it starts a throw-away \
                 PostgreSQL), or set it to a superuser URL such as \
                 postgres://qqbind:secret@127.0.0.1:5432/postgres"
            )
        });
        let schema = format!("qqbind_t_{}", uuid::Uuid::new_v4().simple());
        Self::admin(&admin_url, &format!("CREATE SCHEMA {schema}"));
        let mut url = Url::parse(&admin_url).unwrap();
        url.query_pairs_mut()
            .append_pair("options", &format!("-csearch_path={schema}"));
        Self {
            admin_url,
            schema,
            url: url.to_string(),
        }
    }

    fn admin(url: &str, sql: &str) {
        use diesel::connection::SimpleConnection;
        use diesel::Connection;
        diesel::PgConnection::establish(url)
            .unwrap_or_else(|e| panic!("{POSTGRES_ENV}: cannot connect: {e}"))
            .batch_execute(sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            Self::admin(
                &self.admin_url,
                &format!("DROP SCHEMA {} CASCADE", self.schema),
            );
        }
    }
}

/// A fresh database of `backend`: a SQLite file in `dir`, or a PostgreSQL database.
pub fn fresh_database(backend: Backend, dir: &std::path::Path) -> (String, Option<PgDatabase>) {
    match backend {
        Backend::Sqlite => (dir.join("qqbind.db").to_string_lossy().into_owned(), None),
        Backend::Postgres => {
            let pg = PgDatabase::create();
            (pg.url.clone(), Some(pg))
        }
    }
}

// ---------------------------------------------------------------- Redis fixture

/// A real `redis-server` on a free loopback port, stopped on drop.
pub struct RedisServer {
    child: Child,
    pub port: u16,
}

/// Whether the Redis server answering on `port` is the process `pid` (ours, not another
/// test's server that took the port first).
fn is_our_redis(port: u16, pid: u32) -> bool {
    use std::io::{Read, Write};
    let Ok(mut conn) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = conn.set_read_timeout(Some(Duration::from_millis(500)));
    if conn.write_all(b"INFO server\r\n").is_err() {
        return false;
    }
    let mut reply = Vec::new();
    let mut buf = [0u8; 4096];
    let needle = format!("process_id:{pid}\r\n");
    while let Ok(n) = conn.read(&mut buf) {
        if n == 0 {
            break;
        }
        reply.extend_from_slice(&buf[..n]);
        if String::from_utf8_lossy(&reply).contains(&needle) {
            return true;
        }
    }
    false
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl RedisServer {
    /// Starts one; a port taken meanwhile by someone else means another try elsewhere.
    pub fn start() -> Self {
        for _ in 0..5 {
            let port = free_port();
            let mut child = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("redis-server must be installed for the tests (apt-get install -y redis-server; .ci/run does it)");
            let started = Instant::now();
            loop {
                if child.try_wait().unwrap().is_some() {
                    break; // it could not bind: try another port
                }
                if is_our_redis(port, child.id()) {
                    return Self { child, port };
                }
                if started.elapsed() > Duration::from_secs(10) {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        panic!("redis-server did not start");
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A code store of `kind` for store-level tests (keep the server alive while used).
pub async fn code_store(kind: StoreKind) -> (CodeStore, Option<RedisServer>) {
    match kind {
        StoreKind::Memory => (CodeStore::Memory(MemoryStore::new()), None),
        StoreKind::Redis => {
            let server = RedisServer::start();
            let store = RedisStore::new(&server.url()).expect("pool");
            store.ping().await.expect("redis answers");
            (CodeStore::Redis(store), Some(server))
        }
    }
}

// ---------------------------------------------------------------- fake QQ

/// What the fake QQ's token endpoint answers.
#[derive(Debug, Clone)]
pub enum TokenReply {
    QueryString,
    Json,
    JsonpError,
    PlainJsonError,
    CodeMsgError,
    Garbage,
    Http500,
    Redirect,
    Slow(Duration),
}

#[derive(Debug, Clone)]
pub enum MeReply {
    Jsonp,
    JsonpError,
    WrongClientId,
    Garbage,
    BadOpenId,
}

#[derive(Debug, Clone)]
pub enum InfoReply {
    Ok,
    Error,
    Garbage,
}

#[derive(Debug)]
pub struct FakeQqState {
    pub token: TokenReply,
    pub me: MeReply,
    pub info: InfoReply,
    pub token_calls: usize,
    pub last_redirect_uri: Option<String>,
    pub last_client_secret: Option<String>,
}

/// A QQ Connect look-alike on a random loopback port. A code `code-<openid>` gives the
/// token `tok-<openid>`, which `/me` turns into `<openid>`.
pub struct FakeQq {
    pub url: String,
    pub state: Arc<Mutex<FakeQqState>>,
    handle: actix_web::dev::ServerHandle,
}

impl FakeQq {
    pub async fn start() -> Self {
        let state = Arc::new(Mutex::new(FakeQqState {
            token: TokenReply::QueryString,
            me: MeReply::Jsonp,
            info: InfoReply::Ok,
            token_calls: 0,
            last_redirect_uri: None,
            last_client_secret: None,
        }));
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let data = web::Data::new(state.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route("/oauth2.0/token", web::get().to(fake_token))
                .route("/oauth2.0/me", web::get().to(fake_me))
                .route("/user/get_user_info", web::get().to(fake_info))
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Self {
            url: format!("http://127.0.0.1:{port}"),
            state,
            handle,
        }
    }

    pub fn set_token(&self, r: TokenReply) {
        self.state.lock().unwrap().token = r;
    }
    pub fn set_me(&self, r: MeReply) {
        self.state.lock().unwrap().me = r;
    }
    pub fn set_info(&self, r: InfoReply) {
        self.state.lock().unwrap().info = r;
    }
    pub fn token_calls(&self) -> usize {
        self.state.lock().unwrap().token_calls
    }
}

impl Drop for FakeQq {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        tokio::spawn(async move { handle.stop(false).await });
    }
}

#[derive(Deserialize)]
struct TokenQ {
    code: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    redirect_uri: Option<String>,
    grant_type: Option<String>,
}

fn html(body: impl Into<String>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html")
        .body(body.into())
}

async fn fake_token(s: web::Data<Arc<Mutex<FakeQqState>>>, q: web::Query<TokenQ>) -> HttpResponse {
    let reply = {
        let mut st = s.lock().unwrap();
        st.token_calls += 1;
        st.last_redirect_uri = q.redirect_uri.clone();
        st.last_client_secret = q.client_secret.clone();
        st.token.clone()
    };
    let openid = q
        .code
        .as_deref()
        .and_then(|c| c.strip_prefix("code-"))
        .unwrap_or("");
    let valid = !openid.is_empty()
        && q.client_id.as_deref() == Some(CLIENT_ID)
        && q.client_secret.as_deref() == Some(CLIENT_SECRET)
        && q.redirect_uri.as_deref() == Some(REDIRECT_URI)
        && q.grant_type.as_deref() == Some("authorization_code");
    if !valid {
        return html("callback( {\"error\":100019,\"error_description\":\"code to access token error\"} );\n");
    }
    match reply {
        TokenReply::QueryString => html(format!(
            "access_token=tok-{openid}&expires_in=7776000&refresh_token=ref-{openid}"
        )),
        TokenReply::Json => html(format!(
            r#"{{"access_token":"tok-{openid}","expires_in":"5184000","refresh_token":"ref-{openid}"}}"#
        )),
        TokenReply::JsonpError => {
            html("callback( {\"error\":100020,\"error_description\":\"code is reused error\"} );\n")
        }
        TokenReply::PlainJsonError => {
            html(r#"{"error":100019,"error_description":"code to access token error"}"#)
        }
        TokenReply::CodeMsgError => html("code=100010&msg=redirect%20uri%20is%20illegal"),
        TokenReply::Garbage => html("<html><body>502 Bad Gateway</body></html>"),
        TokenReply::Http500 => HttpResponse::InternalServerError().body("oops"),
        TokenReply::Redirect => HttpResponse::Found()
            .insert_header(("Location", "http://127.0.0.1:9/elsewhere"))
            .finish(),
        TokenReply::Slow(d) => {
            tokio::time::sleep(d).await;
            html(format!("access_token=tok-{openid}&expires_in=7776000"))
        }
    }
}

#[derive(Deserialize)]
struct MeQ {
    access_token: Option<String>,
}

async fn fake_me(s: web::Data<Arc<Mutex<FakeQqState>>>, q: web::Query<MeQ>) -> HttpResponse {
    let reply = s.lock().unwrap().me.clone();
    let Some(openid) = q
        .access_token
        .as_deref()
        .and_then(|t| t.strip_prefix("tok-"))
    else {
        return html("callback( {\"error\":100016,\"error_description\":\"access token check failed\",} );\n");
    };
    match reply {
        MeReply::Jsonp => html(format!(
            "callback( {{\"client_id\":\"{CLIENT_ID}\",\"openid\":\"{openid}\"}} );\n"
        )),
        MeReply::JsonpError => html("callback( {\"error\":100016,\"error_description\":\"access token check failed\",} );\n"),
        MeReply::WrongClientId => html(format!(
            "callback( {{\"client_id\":\"999\",\"openid\":\"{openid}\"}} );\n"
        )),
        MeReply::Garbage => html("callback( not json );"),
        MeReply::BadOpenId => html(format!(
            "callback( {{\"client_id\":\"{CLIENT_ID}\",\"openid\":\"<script>x</script>\"}} );\n"
        )),
    }
}

#[derive(Deserialize)]
struct InfoQ {
    openid: Option<String>,
}

async fn fake_info(s: web::Data<Arc<Mutex<FakeQqState>>>, q: web::Query<InfoQ>) -> HttpResponse {
    let reply = s.lock().unwrap().info.clone();
    match reply {
        InfoReply::Ok => html(format!(
            r#"{{"ret":0,"msg":"","nickname":"QQ用户{}","gender":"男","figureurl_qq_1":"http://thirdqq.qlogo.cn/40","figureurl_qq_2":"http://thirdqq.qlogo.cn/100","vip":"0"}}"#,
            &q.openid
                .clone()
                .unwrap_or_default()
                .chars()
                .take(4)
                .collect::<String>()
        )),
        InfoReply::Error => html(r#"{"ret":-23,"msg":"token is invalid"}"#),
        InfoReply::Garbage => html("}{"),
    }
}

// ---------------------------------------------------------------- the app

pub struct TestApp {
    pub base: String,
    pub setup: Setup,
    /// The SQLite file's path, or the PostgreSQL database's URL.
    pub database_url: String,
    pub state: AppState,
    pub qq: FakeQq,
    pub redis: Option<RedisServer>,
    _pg: Option<PgDatabase>,
    _dir: tempfile::TempDir,
}

pub async fn spawn_app(kind: Setup) -> TestApp {
    spawn_app_with(kind, |_| {}).await
}

pub fn test_settings(database_url: &str, redis_url: Option<String>, qq_url: &str) -> Settings {
    Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        database_url: database_url.to_owned(),
        redis_url: redis_url.map(|u| Url::parse(&u).unwrap()),
        secret_key: Secret::new("test-secret-key-0123456789abcdef-0123456789"),
        secret_key_generated: false,
        qq: QqMode::Real(Box::new(QqApp {
            client_id: CLIENT_ID.to_owned(),
            client_secret: Secret::new(CLIENT_SECRET),
            redirect_uri: Url::parse(REDIRECT_URI).unwrap(),
            graph_url: Url::parse(qq_url).unwrap(),
        })),
        openid_token_ttl: Duration::from_secs(600),
        session_cookie_secure: false,
        sms_provider: SmsProviderKind::Log,
        rate_limits: true,
        trusted_proxies: Vec::new(),
        cors_origins: Vec::new(),
        jwt_ttl: Duration::from_secs(86_400),
        session_idle_timeout: Duration::from_secs(7_200),
        session_max_age: Duration::from_secs(14 * 86_400),
        bcrypt_cost: 4,
        db_busy_timeout: qqbind::db::BUSY_TIMEOUT,
    }
}

pub async fn spawn_app_with(kind: Setup, tweak: impl FnOnce(&mut Settings)) -> TestApp {
    // Quiet by default; `TEST_LOG=1 cargo test` shows the app's log.
    if std::env::var_os("TEST_LOG").is_some() {
        qqbind::telemetry::init();
    }
    let dir = tempfile::tempdir().unwrap();
    let (database_url, pg) = fresh_database(kind.db, dir.path());
    let redis = (kind.store == StoreKind::Redis).then(RedisServer::start);
    let qq = FakeQq::start().await;
    let mut settings = test_settings(&database_url, redis.as_ref().map(RedisServer::url), &qq.url);
    tweak(&mut settings);
    let app = Application::build(settings).await.expect("app builds");
    let base = format!("http://127.0.0.1:{}", app.port());
    let state = app.state();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        base,
        setup: kind,
        database_url,
        state,
        qq,
        redis,
        _pg: pg,
        _dir: dir,
    }
}

/// What the bind form gave this browser.
#[derive(Debug, Clone)]
pub struct BindForm {
    pub csrf_token: String,
    pub access_token: String,
    pub image_code_id: String,
}

/// One browser: its own cookie jar, no redirects followed.
#[derive(Clone)]
pub struct Browser {
    pub base: String,
    pub client: reqwest::Client,
    pub jar: Arc<reqwest::cookie::Jar>,
}

impl TestApp {
    pub fn browser(&self) -> Browser {
        let jar = Arc::new(reqwest::cookie::Jar::default());
        Browser {
            base: self.base.clone(),
            client: reqwest::Client::builder()
                .cookie_provider(jar.clone())
                .redirect(Policy::none())
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            jar,
        }
    }

    pub fn codes(&self) -> &CodeStore {
        &self.state.codes
    }

    pub async fn user_count(&self) -> i64 {
        db::run(&self.state.db, |c| Ok(db::users::count(c)?))
            .await
            .unwrap()
    }

    pub async fn binding_count(&self) -> i64 {
        db::run(&self.state.db, |c| Ok(db::qq_bindings::count(c)?))
            .await
            .unwrap()
    }

    pub async fn user_by_mobile(&self, mobile: &str) -> Option<db::users::User> {
        let m = mobile.to_owned();
        db::run(&self.state.db, move |c| {
            Ok(db::users::find_by_mobile(c, &m)?)
        })
        .await
        .unwrap()
    }

    pub async fn binding_of(&self, openid: &str) -> Option<db::qq_bindings::QqBinding> {
        let o = openid.to_owned();
        db::run(&self.state.db, move |c| {
            Ok(db::qq_bindings::find_by_openid(c, &o)?)
        })
        .await
        .unwrap()
    }

    pub async fn audit_actions(&self, user_id: i32) -> Vec<String> {
        db::run(&self.state.db, move |c| {
            Ok(db::audit::for_user(c, user_id)?)
        })
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect()
    }

    /// An account made directly in the database (as registration would).
    pub async fn create_user(&self, mobile: &str, password: &str) -> db::users::User {
        let (m, hash) = (mobile.to_owned(), bcrypt::hash(password, 4).unwrap());
        db::run(&self.state.db, move |c| {
            Ok(db::users::insert(
                c,
                &db::users::NewUser {
                    username: &format!("user{}", &m[7..]),
                    mobile: &m,
                    password: &hash,
                    nickname: "",
                    avatar_url: "",
                    is_staff: false,
                    is_active: true,
                    date_joined: db::now(),
                },
            )?)
        })
        .await
        .unwrap()
    }

    /// An operator account, as `qqbind createsuperuser` makes it.
    pub async fn create_staff(&self, username: &str, mobile: &str) -> db::users::User {
        let (names, cost) = (
            qqbind::accounts::superuser_names(username, mobile).unwrap(),
            self.state.settings.bcrypt_cost,
        );
        db::run(&self.state.db, move |c| {
            Ok(
                qqbind::accounts::create_superuser(c, &names.0, &names.1, STAFF_PASSWORD, cost)
                    .unwrap(),
            )
        })
        .await
        .unwrap()
    }

    pub async fn user(&self, id: i32) -> db::users::User {
        db::run(&self.state.db, move |c| Ok(db::users::find_by_id(c, id)?))
            .await
            .unwrap()
            .expect("user exists")
    }

    /// Sets `is_active` straight in the database (the admin page is tested on its own).
    pub async fn set_active(&self, id: i32, active: bool) {
        db::run(&self.state.db, move |c| {
            Ok(db::users::set_active(c, id, active)?)
        })
        .await
        .unwrap();
    }

    /// A user's audit entries, newest first.
    pub async fn audit_of(&self, user_id: i32) -> Vec<db::audit::AuditEntry> {
        db::run(&self.state.db, move |c| {
            Ok(db::audit::for_user(c, user_id)?)
        })
        .await
        .unwrap()
    }

    /// A browser logged in through the login form.
    pub async fn logged_in(&self, login: &str, password: &str) -> Browser {
        let b = self.browser();
        let csrf = b.csrf_from("/login/").await;
        let r = b
            .post_form(
                "/login/",
                &[
                    ("username", login),
                    ("password", password),
                    ("csrf_token", &csrf),
                ],
            )
            .await;
        assert_is_redirect_to(&r, "/");
        b
    }

    /// The SMS code stored for `mobile`, if any.
    pub async fn stored_sms_code(&self, mobile: &str) -> Option<String> {
        self.codes().get(&keys::sms(mobile)).await.unwrap()
    }

    /// Puts an SMS code for `mobile` straight into the store (as a sent SMS would).
    pub async fn give_sms_code(&self, mobile: &str, code: &str) {
        self.codes()
            .set_ex(&keys::sms(mobile), code, keys::SMS_CODE_TTL)
            .await
            .unwrap();
    }

    /// Asks for a captcha for `browser` and reads its text from the code store.
    pub async fn captcha(&self, browser: &Browser, image_code_id: &str) -> String {
        let r = browser.get(&format!("/image_codes/{image_code_id}/")).await;
        assert_eq!(r.status(), 200);
        self.codes()
            .get(&keys::image(image_code_id))
            .await
            .unwrap()
            .expect("captcha text stored")
    }

    /// The real SMS flow: captcha, `/sms_codes/`, then the code from the dev outbox.
    pub async fn request_sms_code(&self, browser: &Browser, mobile: &str) -> String {
        let id = uuid::Uuid::new_v4().to_string();
        let text = self.captcha(browser, &id).await;
        let r = browser
            .get(&format!(
                "/sms_codes/{mobile}/?image_code={text}&image_code_id={id}"
            ))
            .await;
        assert_eq!(r.status(), 200, "{:?}", r.text().await);
        self.sent_sms(mobile)
            .expect("the SMS is in the log provider's outbox")
    }

    /// The newest code the `log` SMS provider "sent" to `mobile` (its outbox; the page
    /// `/dev/sms/` shows it in dev mode only).
    pub fn sent_sms(&self, mobile: &str) -> Option<String> {
        let outbox = self.state.sms.outbox().expect("the log SMS provider");
        outbox
            .entries()
            .into_iter()
            .find(|e| e.mobile == mobile)
            .map(|e| e.code)
    }

    /// A new account for `mobile` bound to `openid`, through the bind form (its own browser).
    pub async fn bind_new_account(&self, openid: &str, mobile: &str) {
        let b = self.browser();
        let form = self.reach_bind_form(&b, openid, "/").await;
        self.give_sms_code(mobile, "123456").await;
        let r = b.post_bind(&form, mobile, PASSWORD, "123456").await;
        assert_eq!(r.status(), 302, "bind of {openid} to {mobile}");
    }

    /// Browser reaches the bind form for `openid`.
    pub async fn reach_bind_form(&self, browser: &Browser, openid: &str, next: &str) -> BindForm {
        let state = browser.start_qq_login(next).await;
        let r = browser.callback(&format!("code-{openid}"), &state).await;
        assert_eq!(r.status(), 200, "bind form expected");
        let page = r.text().await.unwrap();
        BindForm {
            csrf_token: input_value(&page, "csrf_token").unwrap(),
            access_token: input_value(&page, "access_token").unwrap(),
            image_code_id: input_value(&page, "image_code_id").unwrap(),
        }
    }
}

impl Browser {
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap()
    }

    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.base))
            .form(fields)
            .send()
            .await
            .unwrap()
    }

    /// Submits the bind form with this browser's CSRF token and openid token.
    pub async fn post_bind(
        &self,
        form: &BindForm,
        mobile: &str,
        password: &str,
        sms: &str,
    ) -> reqwest::Response {
        self.post_form(
            "/oauth_callback/",
            &[
                ("mobile", mobile),
                ("password", password),
                ("sms_code", sms),
                ("access_token", &form.access_token),
                ("csrf_token", &form.csrf_token),
                ("action", "bind"),
            ],
        )
        .await
    }

    /// `GET /qq/login/?next=` and the `state` in its login_url.
    pub async fn start_qq_login(&self, next: &str) -> String {
        let r = self
            .get(&format!("/qq/login/?next={}", urlencode(next)))
            .await;
        assert_eq!(r.status(), 200);
        let body: serde_json::Value = r.json().await.unwrap();
        let url = Url::parse(body["login_url"].as_str().unwrap()).unwrap();
        url.query_pairs()
            .find(|(k, _)| k == "state")
            .map(|(_, v)| v.into_owned())
            .unwrap()
    }

    pub async fn callback(&self, code: &str, state: &str) -> reqwest::Response {
        self.get(&format!(
            "/oauth_callback/?code={}&state={}",
            urlencode(code),
            urlencode(state)
        ))
        .await
    }

    /// The login form, filled in and sent (with this browser's CSRF token).
    pub async fn post_login(&self, username: &str, password: &str) -> reqwest::Response {
        let csrf = self.csrf_from("/login/").await;
        self.post_form(
            "/login/",
            &[
                ("username", username),
                ("password", password),
                ("csrf_token", &csrf),
            ],
        )
        .await
    }

    /// The CSRF token of a page's form.
    pub async fn csrf_from(&self, path: &str) -> String {
        let page = self.get(path).await.text().await.unwrap();
        input_value(&page, "csrf_token").expect("page has a csrf_token")
    }

    pub async fn is_logged_in(&self) -> bool {
        let status = self.get("/info/").await.status();
        assert!(status == 200 || status == 302, "unexpected {status}");
        status == 200
    }

    pub fn cookie_header(&self) -> String {
        use reqwest::cookie::CookieStore;
        self.jar
            .cookies(&Url::parse(&self.base).unwrap())
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    }
}

pub fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

pub fn between<'a>(s: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = s.find(start)? + start.len();
    let len = s[from..].find(end)?;
    Some(&s[from..from + len])
}

/// The `value` of the `<input name="…">` in `page`, whatever the attribute order.
pub fn input_value(page: &str, name: &str) -> Option<String> {
    let needle = format!("name=\"{name}\"");
    page.split("<input").skip(1).find_map(|rest| {
        let tag = &rest[..rest.find('>')?];
        tag.contains(&needle)
            .then(|| between(tag, "value=\"", "\"").unwrap_or("").to_owned())
    })
}

/// The message shown in the slot with this id (e.g. `sms-code-error-server`).
pub fn slot_message(page: &str, id: &str) -> Option<String> {
    between(page, &format!("id=\"{id}\" role=\"alert\">"), "<").map(str::to_owned)
}

/// A 503 with the page's "service unavailable" message.
pub async fn assert_unavailable(r: reqwest::Response) {
    assert_eq!(r.status(), 503);
    let page = r.text().await.unwrap();
    assert!(page.contains("服务暂时不可用，请稍后再试"), "{page}");
}

/// A copy of a session cookie, sent to `path` from a client of its own.
pub async fn replay_cookie(base: &str, cookie: &str, path: &str) -> reqwest::StatusCode {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
        .get(format!("{base}{path}"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .status()
}

pub fn assert_is_redirect_to(r: &reqwest::Response, location: &str) {
    assert_eq!(r.status(), 302, "expected a redirect to {location}");
    assert_eq!(r.headers()["location"].to_str().unwrap(), location);
}

/// The `Set-Cookie` header for `name`, if the response sets it.
pub fn set_cookie(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

pub const OPENID: &str = "4F65D2442D41B0D1639FD7FC14123B11";
pub const OPENID_2: &str = "0A1B2C3D4E5F60718293A4B5C6D7E8F9";
