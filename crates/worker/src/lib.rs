//! `fluidcloud-worker`: the background job runner.
//!
//! Jobs (scans, upload expiry, purges) arrive with the uploads work; until then the
//! worker only holds its database connection and the change feed, and stops cleanly.

use std::future::Future;

use fluidcloud_db::Store;

/// Runs the worker until `shutdown` completes.
pub async fn run(store: Store, shutdown: impl Future<Output = ()>) {
    tracing::info!(backend = ?store.kind(), "worker running; no job kinds are enabled in this build");
    shutdown.await;
}
