//! `/healthz`: 200 when the database and the code store answer, 503 otherwise.

use actix_web::{web, HttpResponse};
use diesel::connection::SimpleConnection;

use crate::state::AppState;

pub async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    let database = state.db.read(|c| Ok(c.batch_execute("SELECT 1")?)).await;
    let store = state.codes.ping().await;
    let word = |ok: bool| if ok { "ok" } else { "down" };
    let all_ok = database.is_ok() && store.is_ok();
    if let Err(e) = &database {
        tracing::error!(error = %e, "health: database down");
    }
    if let Err(e) = &store {
        tracing::error!(error = %e, "health: code store down");
    }
    let body = serde_json::json!({
        "status": word(all_ok),
        "database": word(database.is_ok()),
        "code_store": word(store.is_ok()),
        "code_store_kind": state.codes.kind(),
    });
    if all_ok {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}
