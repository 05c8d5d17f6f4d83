//! Wiring: builds every part from `Settings`, binds the listener (port 0 works), serves.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Instant;

use actix_session::config::{BrowserSession, CookieContentSecurity};
use actix_session::storage::CookieSessionStore;
use actix_session::SessionMiddleware;
use actix_web::cookie::{Key, SameSite};
use actix_web::dev::{Server, Service, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, App, HttpServer};
use tracing::Instrument;
use url::Url;

use crate::codes::sms::SmsProvider;
use crate::codes::{CodeStore, MemoryStore, RedisStore};
use crate::config::ProviderMode;
use crate::config::{ConfigError, QqMode, Settings, SmsProviderKind};
use crate::db;
use crate::providers::{Providers, WechatClient, WeiboClient};
use crate::qq::simulator::Simulator;
use crate::qq::QqClient;
use crate::signer::Signer;
use crate::state::{AppState, Clock};
use crate::web::error::AppError;
use crate::web::metrics::Metrics;
use crate::web::routes::dev_providers::{WechatSim, WeiboSim};
use crate::web::{request_id, routes, session};

pub use crate::web::session::SESSION_COOKIE;
/// Largest request body accepted (spec section 9).
pub const MAX_BODY: usize = 16 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// A setting is wrong or points at something unusable: exit 2.
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot serve: {0}")]
    Io(#[from] std::io::Error),
}

fn config_err(var: &'static str, reason: impl std::fmt::Display) -> StartupError {
    StartupError::Config(ConfigError {
        var,
        reason: reason.to_string(),
    })
}

pub struct Application {
    addr: SocketAddr,
    server: Server,
    state: AppState,
    /// `/metrics` on `METRICS_LISTEN`, and where it listens.
    metrics_server: Option<(SocketAddr, Server)>,
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        Self::build_with_clock(settings, Clock::system()).await
    }

    /// [`Self::build`] on another clock (tests of timeouts).
    pub async fn build_with_clock(settings: Settings, clock: Clock) -> Result<Self, StartupError> {
        let listener = TcpListener::bind(settings.listen).map_err(|e| {
            config_err(
                "QQBIND_LISTEN",
                format!("cannot listen on {}: {e}", settings.listen),
            )
        })?;
        let addr = listener.local_addr()?;

        let cannot_open = |e: db::DbError| {
            let url = db::display_url(&settings.database_url);
            let why = db::connect_error(&settings.database_url).unwrap_or_else(|| e.to_string());
            config_err("DATABASE_URL", format!("cannot open {url}: {why}"))
        };
        let pool = db::build_pool_with(&settings.database_url, settings.db_busy_timeout)
            .map_err(cannot_open)?;
        let migrate_pool = pool.clone();
        let applied = tokio::task::spawn_blocking(move || db::run_migrations(&migrate_pool))
            .await
            .map_err(|e| config_err("DATABASE_URL", e))?
            .map_err(|e| config_err("DATABASE_URL", e))?;
        if applied > 0 {
            tracing::info!(applied, "database migrations applied");
        }
        let database = db::Db::new(pool, &settings.database_url).map_err(cannot_open)?;

        let codes = match &settings.redis_url {
            Some(url) => {
                let store =
                    RedisStore::new(url.as_str()).map_err(|e| config_err("REDIS_URL", e))?;
                store
                    .ping()
                    .await
                    .map_err(|e| config_err("REDIS_URL", format!("cannot reach Redis: {e}")))?;
                CodeStore::Redis(store)
            }
            None => {
                tracing::warn!(
                    "REDIS_URL is not set: verification codes live in this process (one instance only)"
                );
                CodeStore::Memory(MemoryStore::new())
            }
        };

        let sms_name = match &settings.sms_provider {
            SmsProviderKind::Log => "log",
            SmsProviderKind::Tencent(_) => "tencent",
        };
        let metrics = Metrics::new(sms_name).map_err(|e| std::io::Error::other(e.to_string()))?;
        let metrics_listener = match settings.metrics_listen {
            None => None,
            Some(at) => Some(TcpListener::bind(at).map_err(|e| {
                config_err("METRICS_LISTEN", format!("cannot listen on {at}: {e}"))
            })?),
        };

        let host = if addr.ip().is_unspecified() {
            SocketAddr::from(([127, 0, 0, 1], addr.port()))
        } else {
            addr
        };
        let base = format!("http://{host}");
        let (qq, simulator) = match &settings.qq {
            QqMode::Real(app) => (
                QqClient::new(
                    app.graph_url.clone(),
                    app.client_id.clone(),
                    app.client_secret.clone(),
                    app.redirect_uri.clone(),
                )
                .map_err(|e| config_err("QQ_GRAPH_URL", e))?,
                None,
            ),
            QqMode::Simulated => {
                let redirect = format!("{base}/oauth_callback/");
                let sim = Simulator::new(redirect.clone());
                let parse = |s: &str| Url::parse(s).map_err(|e| config_err("QQBIND_LISTEN", e));
                let client = QqClient::new(
                    parse(&format!("{base}/dev/qq"))?,
                    sim.client_id.clone(),
                    crate::config::Secret::new(sim.client_secret.clone()),
                    parse(&redirect)?,
                )
                .map_err(|e| config_err("QQ_GRAPH_URL", e))?;
                tracing::warn!(
                    "dev mode: QQ is SIMULATED by this server at {base}/dev/qq/ (set QQ_CLIENT_ID, QQ_CLIENT_SECRET, QQ_REDIRECT_URI and SECRET_KEY for the real QQ Connect)"
                );
                (client, Some(sim))
            }
        };
        if !settings.dev_mode() && matches!(settings.sms_provider, SmsProviderKind::Log) {
            tracing::warn!(
                "SMS_PROVIDER=log outside dev mode: no SMS is sent, codes go to this log only (and /dev/sms/ is not served)"
            );
        }
        if settings.secret_key_generated {
            tracing::warn!("SECRET_KEY is not set: a random key was made for this start; sessions end when it stops");
        }

        let observer = metrics.provider_observer();
        let parse = |s: &str| Url::parse(s).map_err(|e| config_err("QQBIND_LISTEN", e));
        let mut sims = DevSims {
            qq: simulator,
            ..DevSims::default()
        };
        let wechat_in_app = match &settings.wechat {
            ProviderMode::Real(app) => app.mp.clone(),
            _ => None,
        };
        let wechat = match &settings.wechat {
            ProviderMode::Off => None,
            ProviderMode::Real(app) => Some(
                WechatClient::new(
                    &app.open_url,
                    &app.api_url,
                    app.app_id.clone(),
                    app.app_secret.clone(),
                    app.redirect_uri.clone(),
                )
                .map_err(|e| config_err("WECHAT_API_URL", e))?,
            ),
            ProviderMode::Simulated => {
                let redirect = format!("{base}/oauth/wechat/callback/");
                let sim = Simulator::app("wx5f0c1d2e3a4b6c7d", redirect.clone());
                let dev = parse(&format!("{base}/dev/wechat"))?;
                let client = WechatClient::new(
                    &dev,
                    &dev,
                    sim.client_id.clone(),
                    crate::config::Secret::new(sim.client_secret.clone()),
                    parse(&redirect)?,
                )
                .map_err(|e| config_err("WECHAT_API_URL", e))?;
                tracing::warn!("dev mode: WeChat is SIMULATED by this server at {base}/dev/wechat/ (set WECHAT_APP_ID, WECHAT_APP_SECRET and WECHAT_REDIRECT_URI for the real one)");
                sims.wechat = Some(WechatSim(sim));
                Some(client)
            }
        }
        .map(|c| c.with_observer(observer.clone()));
        let wechat_in_app = wechat
            .as_ref()
            .zip(wechat_in_app)
            .map(|(c, mp)| c.in_app(mp.app_id, mp.app_secret));
        let weibo = match &settings.weibo {
            ProviderMode::Off => None,
            ProviderMode::Real(app) => Some(
                WeiboClient::new(
                    &app.api_url,
                    app.client_id.clone(),
                    app.client_secret.clone(),
                    app.redirect_uri.clone(),
                )
                .map_err(|e| config_err("WEIBO_API_URL", e))?,
            ),
            ProviderMode::Simulated => {
                let redirect = format!("{base}/oauth/weibo/callback/");
                let sim = Simulator::app("3512345678", redirect.clone());
                let client = WeiboClient::new(
                    &parse(&format!("{base}/dev/weibo"))?,
                    sim.client_id.clone(),
                    crate::config::Secret::new(sim.client_secret.clone()),
                    parse(&redirect)?,
                )
                .map_err(|e| config_err("WEIBO_API_URL", e))?;
                tracing::warn!("dev mode: Weibo is SIMULATED by this server at {base}/dev/weibo/ (set WEIBO_CLIENT_ID, WEIBO_CLIENT_SECRET and WEIBO_REDIRECT_URI for the real one)");
                sims.weibo = Some(WeiboSim(sim));
                Some(client)
            }
        }
        .map(|c| c.with_observer(observer.clone()));

        let settings_unionid = settings.qq_unionid;
        let state = AppState {
            signer: Signer::new(settings.secret_key.expose().as_bytes()),
            sms: SmsProvider::new(&settings.sms_provider),
            settings: Arc::new(settings),
            db: database,
            codes,
            providers: Providers::new(
                qq.with_observer(metrics.qq_observer())
                    .with_unionid(settings_unionid),
                wechat,
                weibo,
            )
            .with_wechat_in_app(wechat_in_app),
            clock,
            counts: metrics.counts(),
            logins: crate::counts::LoginLog::default(),
        };
        let server = build_server(listener, state.clone(), sims, metrics.clone())?;
        tokio::spawn(maintain(state.clone()));
        tokio::spawn(flush_counts(state.clone()));
        let metrics_server = match metrics_listener {
            None => None,
            Some(l) => {
                let at = l.local_addr()?;
                tracing::info!(%at, "metrics on http://{at}/metrics");
                Some((at, metrics_server(l, state.clone(), metrics)?))
            }
        };
        tracing::info!(%addr, store = state.codes.kind(), "qqbind listening on http://{addr}/login/");
        Ok(Self {
            addr,
            server,
            state,
            metrics_server,
        })
    }

    /// Where `/metrics` listens, when `METRICS_LISTEN` is set.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics_server.as_ref().map(|(at, _)| at.port())
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The shared state (tests read the code store and database through it).
    pub fn state(&self) -> AppState {
        self.state.clone()
    }

    pub async fn run_until_stopped(self) -> Result<(), std::io::Error> {
        if let Some((_, metrics)) = self.metrics_server {
            tokio::spawn(metrics);
        }
        self.server.await
    }
}

/// The metrics listener: `GET /metrics` and nothing else.
fn metrics_server(
    listener: TcpListener,
    state: AppState,
    metrics: Metrics,
) -> Result<Server, StartupError> {
    let state = web::Data::new(state);
    let metrics = web::Data::new(metrics);
    Ok(HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(metrics.clone())
            .route("/metrics", web::get().to(crate::web::metrics::scrape))
    })
    .workers(1)
    .listen(listener)?
    .shutdown_timeout(2)
    .run())
}

/// The simulators dev mode serves (each only while its provider is simulated).
#[derive(Default)]
struct DevSims {
    qq: Option<Simulator>,
    wechat: Option<WechatSim>,
    weibo: Option<WeiboSim>,
}

fn build_server(
    listener: TcpListener,
    state: AppState,
    sims: DevSims,
    metrics: Metrics,
) -> Result<Server, StartupError> {
    let key = Key::derive_from(state.settings.secret_key.expose().as_bytes());
    let secure = state.settings.session_cookie_secure;
    let dev_mode = sims.qq.is_some();
    // The outbox lists every mobile and code: dev mode only, whatever the provider.
    let dev_outbox = dev_mode && state.sms.outbox().is_some();
    let remembered_max_age = state.settings.session_max_age.as_secs();
    let settings = state.settings.clone();
    let trusted = state.settings.trusted_proxies.clone();
    let data = web::Data::new(state);
    let simulator = sims.qq.map(web::Data::new);
    let wechat_sim = sims.wechat.map(web::Data::new);
    let weibo_sim = sims.weibo.map(web::Data::new);

    let server = HttpServer::new(move || {
        let trusted = trusted.clone();
        let metrics = metrics.clone();
        let session = SessionMiddleware::builder(CookieSessionStore::default(), key.clone())
            .cookie_name(SESSION_COOKIE.to_owned())
            .cookie_secure(secure)
            .cookie_http_only(true)
            .cookie_same_site(SameSite::Lax)
            .cookie_content_security(CookieContentSecurity::Private)
            .session_lifecycle(BrowserSession::default())
            .build();
        let mut app = App::new()
            .app_data(data.clone())
            .app_data(web::PayloadConfig::new(MAX_BODY))
            .app_data(
                web::FormConfig::default()
                    .limit(MAX_BODY)
                    .error_handler(|e, _| form_error(&e)),
            )
            .app_data(
                web::QueryConfig::default()
                    .error_handler(|_, _| AppError::BadRequest("请求参数格式错误".into()).into()),
            )
            .app_data(
                web::PathConfig::default()
                    .error_handler(|_, _| AppError::BadRequest("请求路径格式错误".into()).into()),
            );
        if let Some(sim) = &simulator {
            app = app.app_data(sim.clone());
        }
        if let Some(sim) = &wechat_sim {
            app = app.app_data(sim.clone());
        }
        if let Some(sim) = &weibo_sim {
            app = app.app_data(sim.clone());
        }
        let (dev_wechat, dev_weibo) = (wechat_sim.is_some(), weibo_sim.is_some());
        app.configure(|cfg| {
            crate::web::api::configure(cfg, &settings);
            routes::configure(cfg, dev_mode, dev_outbox);
            if dev_wechat || dev_weibo {
                routes::dev_providers::configure(cfg);
            }
        })
        .default_service(web::to(routes::pages::not_found))
        // Inside the session layer, once per answer: every error outside the API is a
        // branded page with the visitor's header, and a session that wants to be
        // remembered is noted.
        .wrap_fn(|req, srv| {
            let fut = srv.call(req);
            async move {
                let res: ServiceResponse = fut.await?;
                let mut res = crate::web::error::brand_error_page(res);
                session::note_remember(&mut res);
                Ok(res)
            }
        })
        .wrap(session)
        // Outside it, one layer (each is a boxed future more on every request): the
        // request's id and its span around everything; a remembered session's cookie
        // made to outlive the browser (14 days); the metrics and the request's log line
        // (path only: query strings carry codes and tokens); the security headers on
        // every answer, errors and static files included.
        .wrap_fn(move |req, srv| {
            let id = request_id::assign(&req, &trusted);
            // At ERROR level: a span below the filter's level is not made at all, and
            // then the lines of a request run with `RUST_LOG=warn` would lose its id.
            let span = tracing::error_span!("request", request_id = %id);
            let started = Instant::now();
            let fut = span.in_scope(|| srv.call(req));
            let metrics = metrics.clone();
            async move {
                let mut res: ServiceResponse = fut.await?;
                session::persist_remembered(&mut res, remembered_max_age);
                metrics.record(&res, started);
                tracing::info!(
                    method = %res.request().method(), path = res.request().path(),
                    status = res.status().as_u16(),
                    ms = started.elapsed().as_millis() as u64, "request"
                );
                let headers = res.headers_mut();
                headers.insert(request_id::HEADER, request_id::header_value(&id));
                for (name, value) in SECURITY_HEADERS {
                    if !headers.contains_key(&name) {
                        headers.insert(name, HeaderValue::from_static(value));
                    }
                }
                Ok(res)
            }
            .instrument(span)
        })
    })
    // A worker's blocking pool runs the database's work and bcrypt: more threads than
    // the pool has connections only wait (each with memory of its own), so a burst of
    // writers queues instead of growing the pool to hundreds of threads.
    .worker_max_blocking_threads(BLOCKING_THREADS_PER_WORKER)
    .listen(listener)?
    .shutdown_timeout(10)
    .run();
    Ok(server)
}

/// Threads each worker may run blocking work on (database calls, bcrypt).
const BLOCKING_THREADS_PER_WORKER: usize = 16;

/// Set on every answer unless its handler set its own.
const SECURITY_HEADERS: [(header::HeaderName, &str); 4] = [
    (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
    (header::X_FRAME_OPTIONS, "DENY"),
    (header::REFERRER_POLICY, "same-origin"),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
];

/// Scripts and styles from this origin only (no inline script anywhere), no framing;
/// QQ avatars are images from QQ's hosts.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data: https: http:; connect-src 'self'; \
     object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

fn form_error(e: &actix_web::error::UrlencodedError) -> actix_web::Error {
    use actix_web::error::UrlencodedError;
    match e {
        UrlencodedError::Overflow { .. } => actix_web::error::InternalError::from_response(
            "payload too large",
            actix_web::HttpResponse::PayloadTooLarge()
                .content_type("text/plain; charset=utf-8")
                .body("提交的数据过大"),
        )
        .into(),
        _ => AppError::BadRequest("表单数据格式错误".into()).into(),
    }
}

/// What the app keeps tidy by itself, hourly: logins older than `LOGIN_HISTORY_DAYS`
/// go, and accounts whose closing cooled off are erased. One pass; failures are logged
/// and tried again at the next.
pub async fn maintain_once(state: &AppState) {
    state.logins.flush(&state.db).await;
    let now = state.clock.now();
    let s = &state.settings;
    match crate::self_service::prune_login_history(&state.db, s.login_history_days, now).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(pruned = n, "old logins pruned from the history"),
        Err(e) => tracing::warn!(error = %e, "login history not pruned"),
    }
    if s.account_delete_grace_days > 0 {
        match crate::self_service::erase_due(&state.db, s.account_delete_grace_days, now).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(erased = n, "closed accounts erased after their cooling-off"),
            Err(e) => tracing::warn!(error = %e, "closed accounts not erased"),
        }
    }
}

async fn maintain(state: AppState) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(3_600));
    loop {
        every.tick().await;
        maintain_once(&state).await;
    }
}

/// Every 2 s, as the spec has it: the login history's batch is compact (its lines share
/// their addresses and User-Agents), and half as many batches rewrite half as many
/// pages of the history's account index, which every batch touches nearly all of.
async fn flush_counts(state: AppState) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(2));
    loop {
        every.tick().await;
        state.logins.flush(&state.db).await;
        state.counts.flush(&state.db).await;
    }
}
