//! `fluidcloud-files`: the raw-link server on its own cookieless origin.
//!
//! Until the raw-links work lands, `/s/<token>` and `/d/<signed>` answer 501; the
//! health probes are real.

use std::future::Future;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use fluidcloud_db::Store;
use tokio::net::TcpListener;

/// What the files server's handlers share.
#[derive(Clone)]
pub struct FilesState {
    /// The metadata store (read-only here).
    pub store: Store,
}

pub fn router(state: FilesState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/s/{token}", get(not_yet))
        .route("/d/{signed}", get(not_yet))
        .with_state(state)
}

pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

fn plain(status: StatusCode, text: &'static str) -> impl IntoResponse {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        text,
    )
}

async fn healthz() -> impl IntoResponse {
    plain(StatusCode::OK, "ok\n")
}

async fn readyz(State(state): State<FilesState>) -> impl IntoResponse {
    match state.store.ping().await {
        Ok(()) => plain(StatusCode::OK, "ready\n"),
        Err(_) => plain(
            StatusCode::SERVICE_UNAVAILABLE,
            "metadata database unreachable\n",
        ),
    }
}

async fn not_yet() -> impl IntoResponse {
    plain(
        StatusCode::NOT_IMPLEMENTED,
        "raw links are not served by this build yet\n",
    )
}
