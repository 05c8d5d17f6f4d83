//! bcrypt, always on the blocking pool (a hash takes a quarter of a second).

use crate::domain::Password;
use crate::error::AppError;

pub async fn hash(password: &Password, cost: u32) -> Result<String, AppError> {
    let pw = password.expose().to_owned();
    actix_web::web::block(move || bcrypt::hash(pw, cost))
        .await
        .map_err(AppError::internal)?
        .map_err(AppError::internal)
}

/// Whether `password` matches `hash`. With no hash (no such user) it does the same
/// amount of work and answers false, so the answer's timing tells nothing.
pub async fn verify(password: &str, hash: Option<&str>, cost: u32) -> Result<bool, AppError> {
    let pw = password.to_owned();
    let hash = hash.map(str::to_owned);
    actix_web::web::block(move || match hash {
        Some(h) => bcrypt::verify(pw, &h).unwrap_or(false),
        None => {
            let _ = bcrypt::hash(pw, cost);
            false
        }
    })
    .await
    .map_err(AppError::internal)
}
