//! The app under test, and a cookie-keeping browser to drive it.

use std::sync::Arc;
use std::time::Duration;

use qqbind::codes::{keys, CodeStore};
use qqbind::config::{ProviderMode, QqApp, QqMode, Secret, Settings, SmsProviderKind};
use qqbind::db::{self};
use qqbind::startup::Application;
use qqbind::state::AppState;
use reqwest::redirect::Policy;
use url::Url;

use super::*;

// ---------------------------------------------------------------- the app

pub struct TestApp {
    pub base: String,
    pub setup: Setup,
    /// The SQLite file's path, or the PostgreSQL database's URL.
    pub database_url: String,
    pub state: AppState,
    pub qq: FakeQq,
    pub redis: Option<RedisServer>,
    /// Where `/metrics` is served, when the test set `METRICS_LISTEN`.
    pub metrics_port: Option<u16>,
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
        qq_unionid: false,
        wechat: ProviderMode::Off,
        weibo: ProviderMode::Off,
        openid_token_ttl: Duration::from_secs(600),
        session_cookie_secure: false,
        sms_provider: SmsProviderKind::Log,
        rate_limits: true,
        trusted_proxies: Vec::new(),
        metrics_listen: None,
        cors_origins: Vec::new(),
        jwt_ttl: Duration::from_secs(86_400),
        session_idle_timeout: Duration::from_secs(7_200),
        session_max_age: Duration::from_secs(14 * 86_400),
        bcrypt_cost: 4,
        db_busy_timeout: qqbind::db::BUSY_TIMEOUT,
        terms_version: "1.0".to_owned(),
        privacy_version: "1.0".to_owned(),
        account_delete_grace_days: 0,
        login_history_days: 180,
    }
}

pub async fn spawn_app_with(kind: Setup, tweak: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_on(kind, tweak, qqbind::state::Clock::system()).await
}

/// An app whose clock (sessions, openid tokens, `state`s) stands still until the test
/// moves it (`app.state.clock.advance(secs)`): timeouts tested without sleeping.
pub async fn spawn_app_with_manual_clock(
    kind: Setup,
    tweak: impl FnOnce(&mut Settings),
) -> TestApp {
    let now = chrono::Utc::now().timestamp();
    spawn_app_on(kind, tweak, qqbind::state::Clock::manual(now)).await
}

async fn spawn_app_on(
    kind: Setup,
    tweak: impl FnOnce(&mut Settings),
    clock: qqbind::state::Clock,
) -> TestApp {
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
    let app = Application::build_with_clock(settings, clock)
        .await
        .expect("app builds");
    let base = format!("http://127.0.0.1:{}", app.port());
    let state = app.state();
    let metrics_port = app.metrics_port();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        base,
        metrics_port,
        setup: kind,
        database_url,
        state,
        qq,
        redis,
        _pg: pg,
        _dir: dir,
    }
}

/// The User-Agent of a test browser: what the consents and the login history record.
pub const TEST_USER_AGENT: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36 qqbind-tests";

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
                .user_agent(TEST_USER_AGENT)
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
        self.state
            .db
            .write(|c| Ok(db::users::count(c)?))
            .await
            .unwrap()
    }

    pub async fn binding_count(&self) -> i64 {
        self.state
            .db
            .write(|c| Ok(db::identities::count(c)?))
            .await
            .unwrap()
    }

    pub async fn user_by_mobile(&self, mobile: &str) -> Option<db::users::User> {
        let m = mobile.to_owned();
        self.state
            .db
            .write(move |c| Ok(db::users::find_by_mobile(c, &m)?))
            .await
            .unwrap()
    }

    /// The QQ identity `openid`, as stored.
    pub async fn binding_of(&self, openid: &str) -> Option<db::identities::Identity> {
        self.identity_of(qqbind::domain::Provider::Qq, openid).await
    }

    /// The identity `(provider, openid)`, as stored.
    pub async fn identity_of(
        &self,
        provider: qqbind::domain::Provider,
        openid: &str,
    ) -> Option<db::identities::Identity> {
        let o = openid.to_owned();
        self.state
            .db
            .write(move |c| Ok(db::identities::find(c, provider, &o)?))
            .await
            .unwrap()
    }

    pub async fn audit_actions(&self, user_id: i32) -> Vec<String> {
        self.state
            .db
            .write(move |c| Ok(db::audit::for_user(c, user_id)?))
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.action)
            .collect()
    }

    /// An account made directly in the database (as registration would).
    pub async fn create_user(&self, mobile: &str, password: &str) -> db::users::User {
        let (m, hash) = (mobile.to_owned(), bcrypt::hash(password, 4).unwrap());
        self.state
            .db
            .write(move |c| {
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
        self.state
            .db
            .write(move |c| {
                Ok(
                    qqbind::accounts::create_superuser(c, &names.0, &names.1, STAFF_PASSWORD, cost)
                        .unwrap(),
                )
            })
            .await
            .unwrap()
    }

    pub async fn user(&self, id: i32) -> db::users::User {
        self.state
            .db
            .write(move |c| Ok(db::users::find_by_id(c, id)?))
            .await
            .unwrap()
            .expect("user exists")
    }

    /// Sets `is_active` straight in the database (the admin page is tested on its own).
    pub async fn set_active(&self, id: i32, active: bool) {
        self.state
            .db
            .write(move |c| Ok(db::users::set_active(c, id, active)?))
            .await
            .unwrap();
    }

    /// A user's audit entries, newest first.
    pub async fn audit_of(&self, user_id: i32) -> Vec<db::audit::AuditEntry> {
        self.state
            .db
            .write(move |c| Ok(db::audit::for_user(c, user_id)?))
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

    /// Asks `/sms_codes/` for a code to `mobile` (`purpose=reset` or the bind's), through
    /// a fresh captcha: the answer as it came.
    pub async fn ask_sms_code(
        &self,
        browser: &Browser,
        mobile: &str,
        purpose: Option<&str>,
    ) -> reqwest::Response {
        let id = uuid::Uuid::new_v4().to_string();
        let text = self.captcha(browser, &id).await;
        let purpose = purpose.map(|p| format!("&purpose={p}")).unwrap_or_default();
        browser
            .get(&format!(
                "/sms_codes/{mobile}/?image_code={text}&image_code_id={id}{purpose}"
            ))
            .await
    }

    /// The real SMS flow: captcha, `/sms_codes/`, then the code from the dev outbox.
    pub async fn request_sms_code(&self, browser: &Browser, mobile: &str) -> String {
        self.sent_code(browser, mobile, None).await
    }

    /// The same for a password reset's code (`purpose=reset`).
    pub async fn request_reset_code(&self, browser: &Browser, mobile: &str) -> String {
        self.sent_code(browser, mobile, Some("reset")).await
    }

    async fn sent_code(&self, browser: &Browser, mobile: &str, purpose: Option<&str>) -> String {
        let r = self.ask_sms_code(browser, mobile, purpose).await;
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
        super::state_of(r).await
    }

    /// Follows a login's start (`path` is `/qq/authorize/?…` or a provider's): its 302 to
    /// the provider, and the `state` that carries.
    pub async fn state_from_authorize(&self, path: &str) -> String {
        let r = self.get(path).await;
        assert_eq!(r.status(), 302, "{path}");
        let to = reqwest::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
        to.query_pairs()
            .find(|(k, _)| k == "state")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_else(|| panic!("no state in {to}"))
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
