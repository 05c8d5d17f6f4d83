//! The binary: configuration errors stop it with exit 2 and one line naming the variable.

use std::process::Command;

fn run_with(env: &[(&str, &str)]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_qqbind"))
        .env_clear()
        .env("DATABASE_URL", dir.path().join("t.db"))
        .env("QQBIND_LISTEN", "127.0.0.1:0")
        .env("RUST_LOG", "off")
        .envs(env.iter().copied())
        .current_dir(dir.path())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_configuration_exits_2_with_one_line_naming_the_variable() {
    // A listener that never speaks Redis: held for the whole test, so no other test's
    // redis-server can take the port.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let unreachable_redis = format!(
        "redis://127.0.0.1:{}/0",
        silent.local_addr().unwrap().port()
    );
    for (env, var) in [
        (vec![("SECRET_KEY", "too-short")], "SECRET_KEY"),
        (vec![("QQBIND_LISTEN", "not-an-address")], "QQBIND_LISTEN"),
        (vec![("REDIS_URL", "::nonsense")], "REDIS_URL"),
        (vec![("REDIS_URL", unreachable_redis.as_str())], "REDIS_URL"),
        (vec![("QQ_CLIENT_ID", "101518219")], "QQ_CLIENT_SECRET"),
        (
            vec![
                ("QQ_CLIENT_ID", "1"),
                ("QQ_CLIENT_SECRET", "s"),
                ("QQ_REDIRECT_URI", "https://shop.example/oauth_callback/"),
            ],
            "SECRET_KEY",
        ),
        (vec![("OPENID_TOKEN_TTL", "soon")], "OPENID_TOKEN_TTL"),
    ] {
        let (code, stderr) = run_with(&env);
        assert_eq!(code, Some(2), "{env:?}: {stderr}");
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{env:?}: {stderr}");
        assert!(lines[0].contains(var), "{env:?}: {stderr}");
        assert!(
            !stderr.contains("too-short") || var != "SECRET_KEY",
            "the secret is not echoed"
        );
    }
}

#[test]
fn migrate_applies_the_migrations_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db");
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_qqbind"))
            .arg("migrate")
            .env_clear()
            .env("DATABASE_URL", &db)
            .env("RUST_LOG", "off")
            .output()
            .unwrap()
    };
    let first = run();
    assert!(first.status.success());
    assert_eq!(
        String::from_utf8_lossy(&first.stdout).trim(),
        "1 migration(s) applied"
    );
    let second = run();
    assert_eq!(
        String::from_utf8_lossy(&second.stdout).trim(),
        "0 migration(s) applied"
    );
}

/// The real binary, real QQ mode against the fake QQ: a failed and a successful QQ
/// exchange and a refused bind leave no secret in the log, even at debug level.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_holds_no_secret() {
    use crate::helpers::*;
    let qq = FakeQq::start().await;
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("qqbind.log");
    let secret_key = "log-test-secret-key-0123456789abcdef-xyz";
    let mut child = Command::new(env!("CARGO_BIN_EXE_qqbind"))
        .env_clear()
        .env("DATABASE_URL", dir.path().join("t.db"))
        .env("QQBIND_LISTEN", "127.0.0.1:0")
        .env("QQ_CLIENT_ID", CLIENT_ID)
        .env("QQ_CLIENT_SECRET", CLIENT_SECRET)
        .env("QQ_REDIRECT_URI", REDIRECT_URI)
        .env("QQ_GRAPH_URL", &qq.url)
        .env("SECRET_KEY", secret_key)
        .env("SESSION_COOKIE_SECURE", "false")
        .env("RUST_LOG", "debug")
        .current_dir(dir.path())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    // The app picks its port; its start-up line says which.
    let started = std::time::Instant::now();
    let base = loop {
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        if let Some(addr) = between(&log, "qqbind listening on http://", "/login/") {
            break format!("http://{addr}");
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "app did not start: {log}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    let b = Browser {
        base: base.clone(),
        client: reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        jar,
    };
    qq.set_token(TokenReply::JsonpError);
    let state = b.start_qq_login("/").await;
    assert_eq!(
        b.callback(&format!("code-{OPENID}"), &state).await.status(),
        502
    );
    qq.set_token(TokenReply::QueryString);
    let state = b.start_qq_login("/").await;
    let page = b
        .callback(&format!("code-{OPENID}"), &state)
        .await
        .text()
        .await
        .unwrap();
    let r = b
        .post_form(
            "/oauth_callback/",
            &[
                ("mobile", "13800138000"),
                ("password", PASSWORD),
                ("sms_code", "123456"),
                ("access_token", &input_value(&page, "access_token").unwrap()),
                ("csrf_token", &input_value(&page, "csrf_token").unwrap()),
            ],
        )
        .await;
    assert_eq!(r.status(), 400);
    let _ = child.kill();
    let _ = child.wait();

    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        log.contains("QQ login failed"),
        "the failure is logged: {log}"
    );
    for secret in [
        CLIENT_SECRET,
        &format!("tok-{OPENID}"),
        PASSWORD,
        secret_key,
        &format!("ref-{OPENID}"),
    ] {
        assert!(!log.contains(secret), "{secret} in the log");
    }
}
