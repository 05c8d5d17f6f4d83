//! bcrypt, always on the blocking pool (a hash takes a quarter of a second).

use crate::domain::Password;

/// bcrypt could not run (its thread died, or the library refused).
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

/// Runs `f` on the blocking pool, in the caller's tracing span.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, HashError> {
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || span.in_scope(f))
        .await
        .map_err(|e| HashError(e.to_string()))
}

pub async fn hash(password: &Password, cost: u32) -> Result<String, HashError> {
    let pw = password.expose().to_owned();
    blocking(move || bcrypt::hash(pw, cost))
        .await?
        .map_err(|e| HashError(e.to_string()))
}

/// Whether `password` matches `hash`. With no hash (no such user) it does the same
/// amount of work and answers false, so the answer's timing tells nothing.
pub async fn verify(password: &str, hash: Option<&str>, cost: u32) -> Result<bool, HashError> {
    let pw = password.to_owned();
    let hash = hash.map(str::to_owned);
    blocking(move || match hash {
        Some(h) => bcrypt::verify(pw, &h).unwrap_or(false),
        None => {
            let _ = bcrypt::hash(pw, cost);
            false
        }
    })
    .await
}
