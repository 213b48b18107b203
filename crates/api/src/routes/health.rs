//! Liveness and readiness probes and Prometheus metrics, outside `/api/v1` and without
//! authentication (expose them to your monitoring network only).

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::ApiError;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

/// Counts every routed request by its route template.
pub async fn track(
    State(state): State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let started = std::time::Instant::now();
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .cloned();
    let method = request.method().clone();
    let response = next.run(request).await;
    let seconds = started.elapsed().as_secs_f64();
    state.metrics.http(
        "api",
        route
            .as_ref()
            .map_or("unmatched", axum::extract::MatchedPath::as_str),
        method.as_str(),
        response.status().as_u16(),
        seconds,
    );
    response
}

/// Prometheus metrics of this process.
async fn metrics(State(state): State<AppState>) -> impl axum::response::IntoResponse {
    let depth = state.store.queue_depth().await.map_or(-1.0, |d| d as f64);
    let (hits, misses) = state.keys.hits_and_misses();
    let text = state.metrics.render(&[
        (
            "fluidcloud_jobs_queue_depth",
            "Jobs waiting or running (-1: unknown).",
            depth,
        ),
        (
            "fluidcloud_key_cache_hits",
            "API-key lookups answered from the cache.",
            hits as f64,
        ),
        (
            "fluidcloud_key_cache_misses",
            "API-key lookups that went to the database.",
            misses as f64,
        ),
    ]);
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        text,
    )
}

/// The process is up and serving.
async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// The process can do its work: the metadata database and the object store answer.
async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    state
        .store
        .ping()
        .await
        .map_err(|_| ApiError::Unavailable("metadata database unreachable"))?;
    state
        .objects
        .ping()
        .await
        .map_err(|_| ApiError::Unavailable("object store unreachable"))?;
    Ok(Json(
        json!({ "status": "ready", "database": "ok", "object_store": "ok" }),
    ))
}
