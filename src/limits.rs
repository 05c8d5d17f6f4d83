//! Abuse limits, kept in the code store so that they hold across instances: fixed windows
//! counted per client and per account. `RATE_LIMITS=off` turns them off (the 60 s SMS
//! flag is not one of them and always applies).
//!
//! Every limit counts *first* and decides on the new count (one atomic `INCR` + expire),
//! so N concurrent attempts get at most the limit through, however they are timed.
//!
//! Two kinds of use:
//! - [`count`], for requests that cost us something but guard no account (captchas,
//!   availability lookups, starting a QQ login): refused over the limit; let through,
//!   with a warning, while the code store is down.
//! - [`Guard`], for attempts on an account (a password check, a bind): refused over the
//!   limit, and refused too (fail closed) while the store cannot be asked, since a
//!   limit not checked is a password guessed for free.

use std::net::IpAddr;
use std::time::Duration;

use crate::codes::{CodeStore, StoreError};

/// What becomes of an attempt's count when the attempt succeeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnSuccess {
    /// It stays counted (every request counts).
    Keep,
    /// It is given back: the limit counts failures (and attempts in flight).
    Refund,
    /// The whole count is forgotten: a success proves the owner (an account's failures).
    Clear,
}

/// At most `limit` counted events per `window` for one subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub name: &'static str,
    pub limit: i64,
    pub window: Duration,
    pub on_success: OnSuccess,
}

const MINUTE: Duration = Duration::from_secs(60);
const QUARTER_HOUR: Duration = Duration::from_secs(15 * 60);

/// SMS codes sent to any mobile from one client.
pub const SMS_PER_IP: Rule = Rule {
    name: "sms_ip",
    limit: 20,
    window: Duration::from_secs(3600),
    on_success: OnSuccess::Keep,
};
/// Captcha pictures drawn for one client.
pub const CAPTCHA_PER_IP: Rule = Rule {
    name: "captcha_ip",
    limit: 60,
    window: MINUTE,
    on_success: OnSuccess::Keep,
};
/// QQ logins started (`/qq/login/`, `/qq/authorize/`) by one client: each leaves a
/// `state` in the store for ten minutes.
pub const QQ_LOGINS_PER_IP: Rule = Rule {
    name: "qq_login_ip",
    limit: 30,
    window: MINUTE,
    on_success: OnSuccess::Keep,
};
/// Failed password checks of one account, from anywhere: past this, every password
/// check of the account needs the image captcha as well.
pub const LOGIN_FAILS_PER_ACCOUNT: Rule = Rule {
    name: "login_account",
    limit: 5,
    window: QUARTER_HOUR,
    on_success: OnSuccess::Clear,
};
/// Failed password checks of one account from one client network: past this, that
/// network is locked out of the account (429) for the rest of the window. The owner,
/// coming from another network, answers the captcha instead.
pub const LOGIN_FAILS_PER_ACCOUNT_NET: Rule = Rule {
    name: "login_account_net",
    limit: 5,
    window: QUARTER_HOUR,
    on_success: OnSuccess::Clear,
};
/// Failed password logins from one client.
pub const LOGIN_FAILS_PER_IP: Rule = Rule {
    name: "login_ip",
    limit: 30,
    window: QUARTER_HOUR,
    on_success: OnSuccess::Refund,
};
/// Refused binds (form and API) naming one mobile or account, from anywhere: past
/// this, a bind naming it needs the image captcha.
pub const BIND_FAILS_PER_ACCOUNT: Rule = Rule {
    name: "bind_account",
    limit: 20,
    window: QUARTER_HOUR,
    on_success: OnSuccess::Clear,
};
/// Refused binds naming one mobile or account from one client network: past this, 429.
pub const BIND_FAILS_PER_ACCOUNT_NET: Rule = Rule {
    name: "bind_account_net",
    limit: 20,
    window: QUARTER_HOUR,
    on_success: OnSuccess::Clear,
};
/// Refused binds and registrations from one client.
pub const FORM_FAILS_PER_IP: Rule = Rule {
    name: "form_ip",
    limit: 60,
    window: QUARTER_HOUR,
    on_success: OnSuccess::Refund,
};
/// Password-recovery attempts naming one mobile, from anywhere: past this, 429 (a code
/// allows five wrong tries anyway; this stops walking many codes of one mobile).
pub const RESET_FAILS_PER_MOBILE: Rule = Rule {
    name: "reset_mobile",
    limit: 20,
    window: QUARTER_HOUR,
    on_success: OnSuccess::Clear,
};
/// "Is this username / mobile taken?" lookups from one client.
pub const LOOKUPS_PER_IP: Rule = Rule {
    name: "lookup_ip",
    limit: 60,
    window: MINUTE,
    on_success: OnSuccess::Keep,
};

/// Over a limit: when to try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("操作过于频繁，请{}分钟后再试", minutes(*retry_after))]
pub struct Limited {
    pub retry_after: Duration,
    /// The rule's name (`sms_ip`, `login_account_net` …): what metrics count it by.
    pub rule: &'static str,
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

/// A guarded attempt refused before any work was done.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error(transparent)]
    Limited(#[from] Limited),
    /// The code store could not be asked: the attempt is refused (fail closed).
    #[error("abuse limit not checkable")]
    Unavailable(#[source] StoreError),
}

/// Who is asking, as the limits count them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Client {
    pub ip: IpAddr,
}

impl Client {
    pub fn new(ip: IpAddr) -> Self {
        Self { ip }
    }

    /// The bucket of "per client" limits: an IPv4 address, or an IPv6 client's /64 (one
    /// subscriber gets a whole /64 and may pick any address in it).
    pub fn bucket(&self) -> String {
        match self.ip {
            IpAddr::V4(v4) => v4.to_string(),
            IpAddr::V6(_) => self.network(),
        }
    }

    /// The client's network: an IPv4 /24 or an IPv6 /64. A lock-out by strangers holds
    /// for their network only.
    pub fn network(&self) -> String {
        let prefix = if self.ip.is_ipv4() { 24 } else { 64 };
        match ipnet::IpNet::new(self.ip, prefix) {
            Ok(net) => net.trunc().to_string(),
            Err(_) => self.ip.to_string(),
        }
    }

    /// The address as an audit entry keeps it.
    pub fn address(&self) -> String {
        self.ip.to_string()
    }
}

fn key(rule: &Rule, subject: &str) -> String {
    format!("qqbind:rl:{}:{subject}", rule.name)
}

/// Counts one event and returns `Err(Limited)` when that goes over the limit.
async fn take(codes: &CodeStore, rule: &Rule, subject: &str) -> Result<i64, StoreError> {
    codes.incr(&key(rule, subject), rule.window).await
}

async fn limited(codes: &CodeStore, rule: &Rule, subject: &str) -> Limited {
    let left = codes.ttl(&key(rule, subject)).await.ok().flatten();
    Limited {
        retry_after: left.unwrap_or(rule.window),
        rule: rule.name,
    }
}

/// Counts this request against `rule` and refuses it when that goes over the limit: one
/// store round trip, for rules where every request counts and no account is at stake.
/// While the store is down the request goes through (logged).
pub async fn count(
    codes: &CodeStore,
    enabled: bool,
    rule: &Rule,
    subject: &str,
) -> Result<(), Limited> {
    if !enabled {
        return Ok(());
    }
    match take(codes, rule, subject).await {
        Ok(n) if n <= rule.limit => Ok(()),
        Ok(_) => Err(limited(codes, rule, subject).await),
        Err(e) => {
            tracing::warn!(error = %e, rule = rule.name, "code store down: limit not checked");
            Ok(())
        }
    }
}

/// [`count`] that fails closed: for work that needs the store anyway (sending an SMS).
pub async fn count_strict(
    codes: &CodeStore,
    enabled: bool,
    rule: &Rule,
    subject: &str,
) -> Result<(), Refused> {
    if !enabled {
        return Ok(());
    }
    let n = take(codes, rule, subject)
        .await
        .map_err(Refused::Unavailable)?;
    if n > rule.limit {
        return Err(limited(codes, rule, subject).await.into());
    }
    Ok(())
}

/// Gives back one event counted by [`count_strict`] (the work it guarded did not happen).
pub async fn refund(codes: &CodeStore, enabled: bool, rule: &Rule, subject: &str) {
    if enabled {
        if let Err(e) = codes.decr(&key(rule, subject)).await {
            tracing::warn!(error = %e, rule = rule.name, "code store down: count not given back");
        }
    }
}

/// The limits of one attempt on an account (a password check, a bind). Each rule is
/// counted as it is admitted, before the work it guards; a success then gives back or
/// forgets what the rules say ([`OnSuccess`]). Fails closed: a store that cannot be
/// asked refuses the attempt.
pub struct Guard {
    codes: CodeStore,
    enabled: bool,
    client: Client,
    taken: Vec<(Rule, String)>,
    captcha_needed: bool,
}

impl Guard {
    pub fn new(codes: &CodeStore, enabled: bool, client: Client) -> Self {
        Self {
            codes: codes.clone(),
            enabled,
            client,
            taken: Vec::new(),
            captcha_needed: false,
        }
    }

    pub fn client(&self) -> Client {
        self.client
    }

    async fn take(&mut self, rule: &Rule, subject: &str) -> Result<i64, Refused> {
        let n = take(&self.codes, rule, subject)
            .await
            .map_err(Refused::Unavailable)?;
        self.taken.push((*rule, subject.to_owned()));
        Ok(n)
    }

    /// Counts this attempt against `rule` for `subject`; refused when that goes over.
    pub async fn admit(&mut self, rule: &Rule, subject: &str) -> Result<(), Refused> {
        if !self.enabled {
            return Ok(());
        }
        if self.take(rule, subject).await? > rule.limit {
            let l = limited(&self.codes, rule, subject).await;
            tracing::warn!(
                rule = rule.name,
                network = %self.client.network(),
                retry_after_s = l.retry_after.as_secs(),
                "locked out"
            );
            return Err(l.into());
        }
        Ok(())
    }

    /// Counts this attempt against `rule` for `subject` without refusing it: true when
    /// the count is over the limit (the attempt then needs the image captcha). Also notes
    /// whether the *next* attempt will need it ([`Self::captcha_needed`]).
    pub async fn strained(&mut self, rule: &Rule, subject: &str) -> Result<bool, Refused> {
        if !self.enabled {
            return Ok(false);
        }
        let n = self.take(rule, subject).await?;
        self.captcha_needed |= n >= rule.limit;
        Ok(n > rule.limit)
    }

    /// Whether a form refused now should show the image captcha for the next try.
    pub fn captcha_needed(&self) -> bool {
        self.captcha_needed
    }

    /// The attempt succeeded: account counts are forgotten, per-client failures given back.
    pub async fn succeeded(&mut self) {
        self.captcha_needed = false;
        for (rule, subject) in std::mem::take(&mut self.taken) {
            let k = key(&rule, &subject);
            let done = match rule.on_success {
                OnSuccess::Keep => Ok(()),
                OnSuccess::Refund => self.codes.decr(&k).await.map(|_| ()),
                OnSuccess::Clear => self.codes.delete(&k).await,
            };
            if let Err(e) = done {
                tracing::warn!(error = %e, rule = rule.name, "code store down: count not cleared");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codes::MemoryStore;

    #[test]
    fn ipv6_clients_are_counted_per_64_and_ipv4_networks_are_24s() {
        let c = |s: &str| Client::new(s.parse().unwrap());
        assert_eq!(c("203.0.113.7").bucket(), "203.0.113.7");
        assert_eq!(c("203.0.113.7").network(), "203.0.113.0/24");
        assert_eq!(c("2001:db8:1:2:aaaa::1").bucket(), "2001:db8:1:2::/64");
        assert_eq!(
            c("2001:db8:1:2:ffff:ffff:ffff:ffff").bucket(),
            c("2001:db8:1:2::9").bucket()
        );
        assert_ne!(c("2001:db8:1:3::1").bucket(), c("2001:db8:1:2::1").bucket());
        assert_eq!(c("2001:db8:1:2::9").network(), "2001:db8:1:2::/64");
    }

    #[test]
    fn the_message_rounds_the_wait_up_to_minutes() {
        let l = |s| Limited {
            retry_after: Duration::from_secs(s),
            rule: "test",
        };
        assert_eq!(l(900).to_string(), "操作过于频繁，请15分钟后再试");
        assert_eq!(l(61).to_string(), "操作过于频繁，请2分钟后再试");
        assert_eq!(l(0).to_string(), "操作过于频繁，请1分钟后再试");
        assert_eq!(l(0).retry_after_secs(), "1");
    }

    #[tokio::test]
    async fn concurrent_attempts_get_at_most_the_limit_through() {
        let codes = CodeStore::Memory(MemoryStore::new());
        let client = Client::new("203.0.113.7".parse().unwrap());
        let attempts = (0..100).map(|_| {
            let codes = codes.clone();
            tokio::spawn(async move {
                let mut g = Guard::new(&codes, true, client);
                g.admit(&LOGIN_FAILS_PER_ACCOUNT_NET, "user:1")
                    .await
                    .is_ok()
            })
        });
        let mut through = 0;
        for a in attempts {
            through += usize::from(a.await.unwrap());
        }
        assert_eq!(through as i64, LOGIN_FAILS_PER_ACCOUNT_NET.limit);
    }

    #[tokio::test]
    async fn a_success_clears_account_counts_and_gives_back_client_counts() {
        let codes = CodeStore::Memory(MemoryStore::new());
        let client = Client::new("203.0.113.7".parse().unwrap());
        let mut failing = Guard::new(&codes, true, client);
        failing.admit(&LOGIN_FAILS_PER_IP, "ip").await.unwrap();
        failing
            .admit(&LOGIN_FAILS_PER_ACCOUNT_NET, "acct")
            .await
            .unwrap();
        let mut ok = Guard::new(&codes, true, client);
        ok.admit(&LOGIN_FAILS_PER_IP, "ip").await.unwrap();
        ok.admit(&LOGIN_FAILS_PER_ACCOUNT_NET, "acct")
            .await
            .unwrap();
        ok.succeeded().await;
        let ip = codes.get(&key(&LOGIN_FAILS_PER_IP, "ip")).await.unwrap();
        assert_eq!(ip.as_deref(), Some("1"));
        let account = codes.get(&key(&LOGIN_FAILS_PER_ACCOUNT_NET, "acct")).await;
        assert_eq!(account.unwrap(), None);
    }
}
