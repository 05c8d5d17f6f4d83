//! `/metrics` (Prometheus text format, the `prometheus` crate) on its own listener,
//! `METRICS_LISTEN`, never on the public port. One registry per app.
//!
//! Requests are counted by route *pattern* (`/sms_codes/{mobile}/`), never by raw path;
//! no label ever holds a mobile, openid, IP or token. What only a handler knows (which
//! bind row refused, which limit) rides on the answer as [`Events`] and is counted here.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::dev::ServiceResponse;
use actix_web::HttpResponse;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};

use crate::codes::CodeStore;
use crate::state::AppState;

/// Something a handler saw, counted by the metrics layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A provider login's outcome: `bound`, `bind_form`, `link_form`, `refused`, `failed`.
    Login(crate::domain::Provider, &'static str),
    /// A refused bind: the spec's row (`1`–`9`) or `captcha`, `limited`, `disabled`.
    BindRefused(&'static str),
    /// An SMS request: `sent`, `refused`, `failed`.
    Sms(&'static str),
    /// A limit's refusal (the rule's name).
    Limited(&'static str),
    /// A provider login started (the funnel's first step).
    LoginStarted(crate::domain::Provider),
    /// A bind form (or API bind) that bound an identity (the funnel's last step).
    Bound(crate::domain::Provider),
}

/// The events of one answer (in its extensions).
#[derive(Debug, Clone, Default)]
pub struct Events(pub Vec<Event>);

/// Notes `event` on the answer `resp`.
pub fn note(resp: &mut HttpResponse, event: Event) {
    let mut ext = resp.extensions_mut();
    match ext.get_mut::<Events>() {
        Some(events) => events.0.push(event),
        None => {
            ext.insert(Events(vec![event]));
        }
    }
}

/// [`note`], for an answer on its way.
pub fn noted(mut resp: HttpResponse, event: Event) -> HttpResponse {
    note(&mut resp, event);
    resp
}

/// The name a dashboard count has for `e`.
pub fn day_event(e: &Event) -> String {
    match e {
        Event::Login(p, outcome) => format!("login:{p}:{outcome}"),
        Event::BindRefused(row) => format!("bind_refused:{row}"),
        Event::Sms(outcome) => format!("sms:{outcome}"),
        Event::Limited(rule) => format!("limited:{rule}"),
        Event::LoginStarted(p) => format!("login_started:{p}"),
        Event::Bound(p) => format!("bound:{p}"),
    }
}

/// Every metric of one app.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    /// The dashboard's durable daily counts of the same events.
    counts: crate::counts::Counter,
    sms_provider: &'static str,
    requests: IntCounterVec,
    request_seconds: HistogramVec,
    upstream_calls: IntCounterVec,
    upstream_seconds: HistogramVec,
    logins: IntCounterVec,
    bind_refusals: IntCounterVec,
    sms: IntCounterVec,
    limit_refusals: IntCounterVec,
    store_up: IntGauge,
    breaker_open: IntGauge,
    db_pool_size: IntGauge,
    db_pool_in_use: IntGauge,
}

const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

type Made<T> = Result<T, prometheus::Error>;

fn counter(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> Made<IntCounterVec> {
    let c = IntCounterVec::new(Opts::new(name, help), labels)?;
    registry.register(Box::new(c.clone()))?;
    Ok(c)
}

fn histogram(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> Made<HistogramVec> {
    let opts = HistogramOpts::new(name, help).buckets(BUCKETS.to_vec());
    let h = HistogramVec::new(opts, labels)?;
    registry.register(Box::new(h.clone()))?;
    Ok(h)
}

fn gauge(registry: &Registry, name: &str, help: &str) -> Made<IntGauge> {
    let g = IntGauge::new(name, help)?;
    registry.register(Box::new(g.clone()))?;
    Ok(g)
}

impl Metrics {
    /// The metrics of an app whose SMS provider is `sms_provider` (`log`, `tencent`).
    pub fn new(sms_provider: &'static str) -> Result<Self, prometheus::Error> {
        let r = Registry::new();
        let inner = Inner {
            requests: counter(
                &r,
                "qqbind_http_requests_total",
                "Answers by route pattern, method and status",
                &["route", "method", "status"],
            )?,
            request_seconds: histogram(
                &r,
                "qqbind_http_request_duration_seconds",
                "Time to answer, by route pattern",
                &["route"],
            )?,
            upstream_calls: counter(
                &r,
                "qqbind_upstream_calls_total",
                "Calls to a login provider by endpoint and outcome (ok, timeout, http, body, provider)",
                &["provider", "endpoint", "outcome"],
            )?,
            upstream_seconds: histogram(
                &r,
                "qqbind_upstream_duration_seconds",
                "Time a login provider took to answer, by endpoint",
                &["provider", "endpoint"],
            )?,
            logins: counter(
                &r,
                "qqbind_logins_total",
                "Provider logins by outcome (bound, bind_form, link_form, refused, failed)",
                &["provider", "outcome"],
            )?,
            bind_refusals: counter(
                &r,
                "qqbind_bind_refusals_total",
                "Refused binds by the spec's row (1-9) or captcha, limited, disabled",
                &["row"],
            )?,
            sms: counter(
                &r,
                "qqbind_sms_total",
                "SMS code requests by provider and outcome (sent, refused, failed)",
                &["provider", "outcome"],
            )?,
            limit_refusals: counter(
                &r,
                "qqbind_limit_refusals_total",
                "Requests refused by an abuse limit, by limit",
                &["limit"],
            )?,
            store_up: gauge(&r, "qqbind_code_store_up", "1 when the code store answers")?,
            breaker_open: gauge(
                &r,
                "qqbind_code_store_breaker_open",
                "1 while the Redis circuit breaker is open",
            )?,
            db_pool_size: gauge(&r, "qqbind_db_pool_connections", "Database pool connections")?,
            db_pool_in_use: gauge(
                &r,
                "qqbind_db_pool_connections_in_use",
                "Database pool connections in use",
            )?,
            registry: r,
            sms_provider,
            counts: crate::counts::Counter::default(),
        };
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// The daily counter the dashboard reads (shared with the app's state).
    pub fn counts(&self) -> crate::counts::Counter {
        self.inner.counts.clone()
    }

    /// What the WeChat and Weibo clients tell of each call.
    pub fn provider_observer(&self) -> crate::providers::Observer {
        let m = self.clone();
        Arc::new(move |provider, endpoint, took: Duration, failed| {
            let i = &m.inner;
            i.upstream_seconds
                .with_label_values(&[provider.as_str(), endpoint])
                .observe(took.as_secs_f64());
            i.upstream_calls
                .with_label_values(&[provider.as_str(), endpoint, failed.unwrap_or("ok")])
                .inc();
        })
    }

    /// What the QQ client tells of each call.
    pub fn qq_observer(&self) -> crate::qq::client::Observer {
        let m = self.clone();
        Arc::new(move |endpoint, took: Duration, failed| {
            let i = &m.inner;
            i.upstream_seconds
                .with_label_values(&["qq", endpoint])
                .observe(took.as_secs_f64());
            i.upstream_calls
                .with_label_values(&["qq", endpoint, failed.unwrap_or("ok")])
                .inc();
        })
    }

    /// Counts one answer (and what its handler noted), `started` when it came in.
    pub fn record(&self, res: &ServiceResponse, started: Instant) {
        let i = &self.inner;
        let route = res
            .request()
            .match_pattern()
            .unwrap_or_else(|| "unmatched".to_owned());
        let method = res.request().method().as_str();
        let status = res.status();
        i.requests
            .with_label_values(&[route.as_str(), method, status.as_str()])
            .inc();
        i.request_seconds
            .with_label_values(&[route.as_str()])
            .observe(started.elapsed().as_secs_f64());
        let noted = res.response().extensions();
        let events = noted.get::<Events>().map_or(&[][..], |e| &e.0);
        let mut login_seen = false;
        let mut sms_seen = false;
        for e in events {
            match e {
                Event::Login(provider, outcome) => {
                    login_seen = true;
                    i.logins
                        .with_label_values(&[provider.as_str(), outcome])
                        .inc();
                }
                Event::BindRefused(row) => i.bind_refusals.with_label_values(&[row]).inc(),
                Event::Sms(outcome) => {
                    sms_seen = true;
                    i.sms.with_label_values(&[i.sms_provider, outcome]).inc();
                }
                Event::Limited(rule) => i.limit_refusals.with_label_values(&[rule]).inc(),
                Event::LoginStarted(_) | Event::Bound(_) => {}
            }
            i.counts.add(&day_event(e));
        }
        // What the answer's status says where no handler was left to say it (an error
        // answered before or instead of the handler's own page).
        let callback = match route.as_str() {
            "/oauth_callback/" | "/oauth_callback" => Some(crate::domain::Provider::Qq),
            "/oauth/{provider}/callback/" => res
                .request()
                .match_info()
                .get("provider")
                .and_then(crate::domain::Provider::parse),
            _ => None,
        };
        if let (Some(provider), true) = (
            callback,
            method == "GET" && !login_seen && status.as_u16() >= 400,
        ) {
            let outcome = if status.is_server_error() {
                "failed"
            } else {
                "refused"
            };
            i.logins
                .with_label_values(&[provider.as_str(), outcome])
                .inc();
            i.counts.add(&day_event(&Event::Login(provider, outcome)));
        }
        let sms_route = matches!(
            route.as_str(),
            "/sms_codes/{mobile}/" | "/api/sms_codes/{mobile}/"
        );
        if sms_route && !sms_seen {
            let outcome = match status.as_u16() {
                200 => "sent",
                500.. => "failed",
                _ => "refused",
            };
            i.sms.with_label_values(&[i.sms_provider, outcome]).inc();
            i.counts.add(&day_event(&Event::Sms(outcome)));
        }
    }

    /// The text a scrape gets, with the gauges read now.
    pub async fn render(&self, state: &AppState) -> String {
        let i = &self.inner;
        i.store_up.set(i64::from(state.codes.ping().await.is_ok()));
        i.breaker_open.set(match &state.codes {
            CodeStore::Redis(r) => i64::from(r.is_tripped()),
            CodeStore::Memory(_) => 0,
        });
        let pool = state.db.pool().state();
        i.db_pool_size.set(i64::from(pool.connections));
        i.db_pool_in_use
            .set(i64::from(pool.connections - pool.idle_connections));
        let mut out = Vec::new();
        let _ = TextEncoder::new().encode(&i.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

/// `GET /metrics` on the metrics listener.
pub async fn scrape(
    state: actix_web::web::Data<AppState>,
    metrics: actix_web::web::Data<Metrics>,
) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(metrics.render(&state).await)
}
