//! Abuse limits, kept in the code store so that they hold across instances: fixed windows
//! counted per client IP and per account. `RATE_LIMITS=off` turns them off (the 60 s SMS
//! flag is not one of them and always applies).
//!
//! While the code store is down the limits let requests through (with a warning in the
//! log): password login must keep working through a Redis outage.

use std::net::IpAddr;
use std::time::Duration;

use actix_web::HttpRequest;

use crate::codes::StoreError;
use crate::state::AppState;

/// At most `limit` counted events per `window` for one subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub name: &'static str,
    pub limit: i64,
    pub window: Duration,
}

const MINUTE: Duration = Duration::from_secs(60);

/// SMS codes sent to any mobile from one client IP.
pub const SMS_PER_IP: Rule = Rule {
    name: "sms_ip",
    limit: 20,
    window: Duration::from_secs(3600),
};
/// Captcha pictures drawn for one client IP.
pub const CAPTCHA_PER_IP: Rule = Rule {
    name: "captcha_ip",
    limit: 60,
    window: MINUTE,
};
/// Failed password logins of one account.
pub const LOGIN_FAILS_PER_ACCOUNT: Rule = Rule {
    name: "login_account",
    limit: 5,
    window: Duration::from_secs(15 * 60),
};
/// Failed password logins from one client IP.
pub const LOGIN_FAILS_PER_IP: Rule = Rule {
    name: "login_ip",
    limit: 30,
    window: Duration::from_secs(15 * 60),
};
/// Refused binds (form and API) for one mobile or account.
pub const BIND_FAILS_PER_ACCOUNT: Rule = Rule {
    name: "bind_account",
    limit: 20,
    window: Duration::from_secs(15 * 60),
};
/// Refused binds and registrations from one client IP.
pub const FORM_FAILS_PER_IP: Rule = Rule {
    name: "form_ip",
    limit: 60,
    window: Duration::from_secs(15 * 60),
};

/// "Is this username / mobile taken?" lookups from one client IP.
pub const LOOKUPS_PER_IP: Rule = Rule {
    name: "lookup_ip",
    limit: 60,
    window: MINUTE,
};

/// Over a limit: when to try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("操作过于频繁，请{}分钟后再试", minutes(*retry_after))]
pub struct Limited {
    pub retry_after: Duration,
}

fn minutes(d: Duration) -> u64 {
    d.as_secs().div_ceil(60).max(1)
}

impl Limited {
    /// The `Retry-After` header's value (seconds).
    pub fn retry_after_secs(&self) -> String {
        self.retry_after.as_secs().max(1).to_string()
    }
}

fn key(rule: &Rule, subject: &str) -> String {
    format!("qqbind:rl:{}:{subject}", rule.name)
}

/// `Err(Limited)` when `subject` has used up `rule` in the current window.
pub async fn check(state: &AppState, rule: &Rule, subject: &str) -> Result<(), Limited> {
    if !state.settings.rate_limits {
        return Ok(());
    }
    match used(state, rule, subject).await {
        Ok(None) => Ok(()),
        Ok(Some(retry_after)) => Err(Limited { retry_after }),
        Err(e) => {
            tracing::warn!(error = %e, rule = rule.name, "code store down: limit not checked");
            Ok(())
        }
    }
}

/// `Some(time left)` when the window is used up.
async fn used(
    state: &AppState,
    rule: &Rule,
    subject: &str,
) -> Result<Option<Duration>, StoreError> {
    let k = key(rule, subject);
    let count: i64 = state
        .codes
        .get(&k)
        .await?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if count < rule.limit {
        return Ok(None);
    }
    Ok(Some(state.codes.ttl(&k).await?.unwrap_or(rule.window)))
}

/// Counts this request against `rule` and refuses it when that goes over the limit: one
/// store round trip, for rules where every request counts.
pub async fn count(state: &AppState, rule: &Rule, subject: &str) -> Result<(), Limited> {
    if !state.settings.rate_limits {
        return Ok(());
    }
    let k = key(rule, subject);
    match state.codes.incr(&k, rule.window).await {
        Ok(n) if n <= rule.limit => Ok(()),
        Ok(_) => {
            let retry_after = state.codes.ttl(&k).await.ok().flatten();
            Err(Limited {
                retry_after: retry_after.unwrap_or(rule.window),
            })
        }
        Err(e) => {
            tracing::warn!(error = %e, rule = rule.name, "code store down: limit not checked");
            Ok(())
        }
    }
}

/// Counts one event for `subject` (the window starts at the first).
pub async fn hit(state: &AppState, rule: &Rule, subject: &str) {
    if state.settings.rate_limits {
        if let Err(e) = state.codes.incr(&key(rule, subject), rule.window).await {
            tracing::warn!(error = %e, rule = rule.name, "code store down: event not counted");
        }
    }
}

/// Forgets `subject`'s count (a successful login clears its failures).
pub async fn clear(state: &AppState, rule: &Rule, subject: &str) {
    if state.settings.rate_limits {
        if let Err(e) = state.codes.delete(&key(rule, subject)).await {
            tracing::warn!(error = %e, rule = rule.name, "code store down: count not cleared");
        }
    }
}

/// The client's address: the socket's peer, or, when that peer is a trusted proxy
/// (`TRUSTED_PROXIES`), the nearest `X-Forwarded-For` entry that is not.
pub fn client_ip(req: &HttpRequest, trusted: &[ipnet::IpNet]) -> IpAddr {
    let peer = req
        .peer_addr()
        .map(|a| a.ip())
        .unwrap_or(IpAddr::from([0, 0, 0, 0]));
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let forwarded: Vec<IpAddr> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    // Right to left: each trusted hop appended the address it saw.
    forwarded
        .into_iter()
        .rev()
        .find(|ip| !is_trusted(ip))
        .unwrap_or(peer)
}

/// The client address of `req`, as the limits key it.
pub fn ip_of(state: &AppState, req: &HttpRequest) -> String {
    client_ip(req, &state.settings.trusted_proxies).to_string()
}

/// One guarded attempt (a login, a bind, a registration): refused up front while the
/// client IP or the account is over its limit; a failure counts against both.
pub struct Attempt<'a> {
    state: &'a AppState,
    ip: String,
    ip_rule: Rule,
    account: Option<(String, Rule)>,
}

impl<'a> Attempt<'a> {
    pub fn new(state: &'a AppState, req: &HttpRequest, ip_rule: Rule) -> Self {
        Self {
            state,
            ip: ip_of(state, req),
            ip_rule,
            account: None,
        }
    }

    /// Also limits `account` (a mobile, a user id…) by `rule`.
    pub fn account(mut self, account: impl Into<String>, rule: Rule) -> Self {
        let account = account.into();
        if !account.is_empty() {
            self.account = Some((account, rule));
        }
        self
    }

    pub async fn check(&self) -> Result<(), Limited> {
        check(self.state, &self.ip_rule, &self.ip).await?;
        if let Some((account, rule)) = &self.account {
            check(self.state, rule, account).await?;
        }
        Ok(())
    }

    pub async fn failed(&self) {
        hit(self.state, &self.ip_rule, &self.ip).await;
        if let Some((account, rule)) = &self.account {
            hit(self.state, rule, account).await;
        }
    }

    /// A success clears the account's failures (not the IP's).
    pub async fn succeeded(&self) {
        if let Some((account, rule)) = &self.account {
            clear(self.state, rule, account).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn ip(peer: &str, xff: Option<&str>, trusted: &[&str]) -> String {
        let mut req = TestRequest::default().peer_addr(format!("{peer}:4000").parse().unwrap());
        if let Some(v) = xff {
            req = req.insert_header(("x-forwarded-for", v));
        }
        let nets: Vec<ipnet::IpNet> = trusted.iter().map(|n| n.parse().unwrap()).collect();
        client_ip(&req.to_http_request(), &nets).to_string()
    }

    #[test]
    fn the_client_is_the_nearest_untrusted_hop() {
        // No trusted proxy: the header is ignored.
        assert_eq!(ip("203.0.113.7", Some("1.2.3.4"), &[]), "203.0.113.7");
        // From a proxy we do not trust: ignored too.
        assert_eq!(
            ip("203.0.113.7", Some("1.2.3.4"), &["10.0.0.0/8"]),
            "203.0.113.7"
        );
        // Behind two trusted hops, a client that forged its own first entry.
        assert_eq!(
            ip(
                "10.0.0.1",
                Some("6.6.6.6, 198.51.100.9, 10.0.0.2"),
                &["10.0.0.0/8"]
            ),
            "198.51.100.9"
        );
        // Only trusted hops, or garbage: the peer.
        assert_eq!(
            ip("10.0.0.1", Some("10.0.0.2"), &["10.0.0.0/8"]),
            "10.0.0.1"
        );
        assert_eq!(
            ip("10.0.0.1", Some("not an ip"), &["10.0.0.0/8"]),
            "10.0.0.1"
        );
        assert_eq!(ip("10.0.0.1", None, &["10.0.0.0/8"]), "10.0.0.1");
    }

    #[test]
    fn the_message_rounds_the_wait_up_to_minutes() {
        let l = |s| Limited {
            retry_after: Duration::from_secs(s),
        };
        assert_eq!(l(900).to_string(), "操作过于频繁，请15分钟后再试");
        assert_eq!(l(61).to_string(), "操作过于频繁，请2分钟后再试");
        assert_eq!(l(0).to_string(), "操作过于频繁，请1分钟后再试");
        assert_eq!(l(0).retry_after_secs(), "1");
    }
}
