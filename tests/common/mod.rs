//! What the api and e2e suites share: which outside programs this machine has.
//!
//! Plain `cargo test` on a machine with nothing but Rust runs every SQLite + in-process
//! store case and skips the PostgreSQL, Redis and browser cases, saying once (one line
//! each) what to install. `.ci/run` sets `QQBIND_TESTS_REQUIRE_ALL=1`: there a missing
//! program fails the test instead of skipping it.

use std::io::Write;
use std::sync::Once;

/// An outside program some tests need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// A PostgreSQL superuser URL in `QQBIND_TEST_POSTGRES`.
    Postgres,
    /// `redis-server` on the `PATH`.
    Redis,
    /// Debian's `chromium` and `chromedriver`.
    Browser,
}

impl Need {
    fn present(self) -> bool {
        let runs = |cmd: &str| {
            std::process::Command::new(cmd)
                .arg("--version")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        match self {
            Self::Postgres => {
                std::env::var("QQBIND_TEST_POSTGRES").is_ok_and(|v| !v.trim().is_empty())
            }
            Self::Redis => runs("redis-server"),
            Self::Browser => {
                std::path::Path::new("/usr/bin/chromium").exists() && runs("chromedriver")
            }
        }
    }

    fn advice(self) -> &'static str {
        match self {
            Self::Postgres => "PostgreSQL tests skipped: set QQBIND_TEST_POSTGRES to a superuser URL (apt-get install postgresql; `bash .ci/run` starts a throw-away cluster)",
            Self::Redis => "Redis tests skipped: install redis-server (apt-get install redis-server)",
            Self::Browser => "browser tests skipped: install chromium and chromedriver (apt-get install chromium chromium-driver)",
        }
    }

    fn once(self) -> &'static Once {
        static POSTGRES: Once = Once::new();
        static REDIS: Once = Once::new();
        static BROWSER: Once = Once::new();
        match self {
            Self::Postgres => &POSTGRES,
            Self::Redis => &REDIS,
            Self::Browser => &BROWSER,
        }
    }
}

/// Whether this machine has `need`. When it does not, says so once per test binary
/// (written past the harness's capture, so it shows) and the caller skips; under
/// `QQBIND_TESTS_REQUIRE_ALL=1` it panics instead.
pub fn have(need: Need) -> bool {
    static CHECKED: std::sync::OnceLock<[bool; 3]> = std::sync::OnceLock::new();
    let present = CHECKED
        .get_or_init(|| [Need::Postgres, Need::Redis, Need::Browser].map(Need::present))
        [need as usize];
    if present {
        return true;
    }
    if std::env::var_os("QQBIND_TESTS_REQUIRE_ALL").is_some() {
        panic!("{} (QQBIND_TESTS_REQUIRE_ALL is set)", need.advice());
    }
    need.once().call_once(|| {
        let _ = writeln!(std::io::stderr(), "note: {}", need.advice());
    });
    false
}
