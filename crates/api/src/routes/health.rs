//! Liveness and readiness probes and Prometheus metrics, outside `/api/v1` and without
//! authentication (expose them to your monitoring network only). The checks and the
//! metrics layer are those every service shares ([`fluidcloud_http`]).

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::ApiError;

/// The paths [`router`] answers.
pub const PATHS: [&str; 3] = ["/healthz", "/readyz", "/metrics"];

pub fn router() -> Router<AppState> {
    let [healthz_path, readyz_path, metrics_path] = PATHS;
    Router::new()
        .route(healthz_path, get(healthz))
        .route(readyz_path, get(readyz))
        .route(metrics_path, get(metrics))
}

/// Prometheus metrics of this process; a scrape costs no database query.
async fn metrics(State(state): State<AppState>) -> Response {
    fluidcloud_http::observe::metrics_response(&state.metrics)
}

/// The process is up and serving.
async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// The process can do its work: the metadata database and the object store answer.
/// Not ready is a 503 in the error envelope, naming the dependency.
async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let readiness = fluidcloud_http::ready::check(&state.store, &state.objects, None).await;
    match readiness.failure() {
        None => Ok(Json(readiness.body())),
        Some(("database", cause)) => Err(ApiError::unavailable_because(
            "metadata database unreachable",
            cause,
        )),
        Some((_, cause)) => Err(ApiError::unavailable_because(
            "object store unreachable",
            cause,
        )),
    }
}
