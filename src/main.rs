//! The `qqbind` command: `serve` (default), `migrate`, `createsuperuser`.

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
    /// Make an operator (staff) account for /admin/.
    Createsuperuser {
        #[arg(long)]
        username: String,
        #[arg(long)]
        mobile: String,
        /// Read the password from the first line of standard input instead of a prompt.
        #[arg(long)]
        password_stdin: bool,
    },
}

/// The new operator's password: one line of stdin, or typed twice at a prompt.
fn read_password(from_stdin: bool) -> Result<String, String> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .map_err(|e| format!("cannot read the password from stdin: {e}"))?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_owned());
    }
    let first = rpassword::prompt_password("Password: ")
        .map_err(|e| format!("cannot prompt for a password ({e}); use --password-stdin"))?;
    let again = rpassword::prompt_password("Password (again): ")
        .map_err(|e| format!("cannot prompt for a password ({e}); use --password-stdin"))?;
    if first != again {
        return Err("the two passwords differ".to_owned());
    }
    Ok(first)
}

fn create_superuser(
    settings: &Settings,
    username: &str,
    mobile: &str,
    from_stdin: bool,
) -> ExitCode {
    let (username, mobile) = match qqbind::accounts::superuser_names(username, mobile) {
        Ok(names) => names,
        Err(e) => return fail(format_args!("createsuperuser: {e}"), 2),
    };
    let pool = match qqbind::db::build_pool(&settings.database_url) {
        Ok(p) => p,
        Err(e) => return fail(format_args!("configuration error: DATABASE_URL: {e}"), 2),
    };
    if let Err(e) = qqbind::db::run_migrations(&pool) {
        return fail(e, 1);
    }
    let password = match read_password(from_stdin) {
        Ok(p) => p,
        Err(e) => return fail(format_args!("createsuperuser: {e}"), 2),
    };
    let mut conn = match pool.get() {
        Ok(c) => c,
        Err(e) => return fail(e, 1),
    };
    match qqbind::accounts::create_superuser(
        &mut conn,
        &username,
        &mobile,
        &password,
        settings.bcrypt_cost,
    ) {
        Ok(user) => {
            println!("superuser {} created (id {})", user.username, user.id);
            ExitCode::SUCCESS
        }
        Err(qqbind::accounts::SuperuserError::Db(e)) => {
            fail(format_args!("createsuperuser: {e}"), 1)
        }
        Err(e) => fail(format_args!("createsuperuser: {e}"), 2),
    }
}

fn fail(e: impl std::fmt::Display, code: u8) -> ExitCode {
    eprintln!("qqbind: {e}");
    ExitCode::from(code)
}

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[actix_web::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(e) = qqbind::telemetry::init_from_env() {
        return fail(format_args!("configuration error: {e}"), 2);
    }
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => return fail(format_args!("configuration error: {e}"), 2),
    };
    match cli.command.unwrap_or(Command::Serve) {
        Command::Createsuperuser {
            username,
            mobile,
            password_stdin,
        } => create_superuser(&settings, &username, &mobile, password_stdin),
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
