//! Why a dependency failed us: the one "service unavailable" cause of the core's
//! services, with its source kept. The web layer answers it with a 503.

use crate::codes::StoreError;
use crate::db::DbError;
use crate::login::password::HashError;

#[derive(Debug, thiserror::Error)]
pub enum Unavailable {
    #[error("code store")]
    Store(#[from] StoreError),
    #[error("database")]
    Db(#[from] DbError),
    #[error("password hashing")]
    Hash(#[from] HashError),
    #[error("blocking task")]
    Blocking(#[from] tokio::task::JoinError),
}
