//! What the benches share: loopback ports, child servers, waiting for a server to
//! answer, reading a page's CSRF token, percentiles and /proc figures.
// Each bench uses a part of this.
#![allow(dead_code)]

use std::process::Child;
use std::time::{Duration, Instant};

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child server, killed (and reaped) when dropped.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until `url` answers at all (any status); panics after 20 s.
pub async fn wait_until_answers(client: &reqwest::Client, url: &str) {
    let started = Instant::now();
    while client.get(url).send().await.is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{url} did not answer"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The CSRF token of the first form in `page`.
pub fn csrf_token(page: &str) -> Option<String> {
    page.split("name=\"csrf_token\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .map(str::to_owned)
}

/// Logs `client` in on `/login/` by password (the form with its CSRF token); the answer
/// (302 when it worked).
pub async fn password_login(
    client: &reqwest::Client,
    base: &str,
    username: &str,
    password: &str,
) -> reqwest::Response {
    let page = client
        .get(format!("{base}/login/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = csrf_token(&page).unwrap_or_default();
    client
        .post(format!("{base}/login/"))
        .form(&[
            ("username", username),
            ("password", password),
            ("csrf_token", &csrf),
        ])
        .send()
        .await
        .unwrap()
}

/// The `p` quantile of `sorted` (nearest rank).
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// A `/proc/<pid>/status` figure in KiB (`VmRSS`, `VmHWM`), 0 when unreadable.
pub fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}
