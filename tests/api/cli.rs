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
    let redis_port = crate::helpers::free_port();
    let unreachable_redis = format!("redis://127.0.0.1:{redis_port}/0");
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
