//! The `qqbind` command: `serve` (default) or `migrate`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use qqbind::config::Settings;
use qqbind::startup::{Application, StartupError};

#[derive(Parser)]
#[command(
    name = "qqbind",
    version,
    about = "QQ login and account binding for a web shop"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the web application (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
}

fn fail(e: impl std::fmt::Display, code: u8) -> ExitCode {
    eprintln!("qqbind: {e}");
    ExitCode::from(code)
}

#[actix_web::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    qqbind::telemetry::init();
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => return fail(format_args!("configuration error: {e}"), 2),
    };
    match cli.command.unwrap_or(Command::Serve) {
        Command::Migrate => {
            let pool = match qqbind::db::build_pool(&settings.database_url) {
                Ok(p) => p,
                Err(e) => return fail(format_args!("configuration error: DATABASE_URL: {e}"), 2),
            };
            match qqbind::db::run_migrations(&pool) {
                Ok(n) => {
                    println!("{n} migration(s) applied");
                    ExitCode::SUCCESS
                }
                Err(e) => fail(e, 1),
            }
        }
        Command::Serve => match Application::build(settings).await {
            Err(StartupError::Config(e)) => fail(format_args!("configuration error: {e}"), 2),
            Err(e) => fail(e, 1),
            Ok(app) => match app.run_until_stopped().await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(e, 1),
            },
        },
    }
}
