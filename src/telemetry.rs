//! Logging: `tracing` to stderr, filtered by `RUST_LOG` (default `info`), as text or, with
//! `LOG_FORMAT=json`, one JSON object a line for log shippers. Every line of a request
//! carries its `request_id` (the span the web layer opens for it).

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// How log lines are written (`LOG_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

impl LogFormat {
    /// `LOG_FORMAT`: unset or `text`, or `json`.
    pub fn parse(v: Option<&str>) -> Result<Self, String> {
        match v.map(str::trim).unwrap_or_default() {
            "" | "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            other => Err(format!("LOG_FORMAT: {other:?} is not text or json")),
        }
    }
}

/// Logging as `LOG_FORMAT` says (read from the environment; a `.env` file counts).
pub fn init_from_env() -> Result<(), String> {
    let _ = dotenvy::dotenv();
    let format = LogFormat::parse(std::env::var("LOG_FORMAT").ok().as_deref())?;
    init_with(format);
    Ok(())
}

/// Text logging (tests, tools).
pub fn init() {
    init_with(LogFormat::Text);
}

pub fn init_with(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        // Colours for a person at a terminal only: a file or journald would keep the
        // escape codes as text.
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    // A second init (tests) is harmless.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
}

/// Blocking work (a query, bcrypt, drawing a captcha) on the runtime's blocking pool,
/// inside the caller's tracing span so that its log lines belong to the request.
pub async fn spawn_blocking<T, F>(f: F) -> Result<T, tokio::task::JoinError>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || span.in_scope(f)).await
}
