//! `fluidcloud-api`: the `/api/v1` service.
//!
//! [`router`] builds the whole application so tests can serve it on port 0 and the
//! `fluidcloud dev` command can run it next to the other services; [`serve`] runs it
//! until a shutdown signal, finishing the requests in flight.

pub mod auth;
mod cors;
pub mod error;
pub mod extract;
pub mod openapi;
pub mod ratelimit;
pub mod request_id;
mod routes;
mod slash;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use fluidcloud_core::config::Settings;
use fluidcloud_core::metrics::Metrics;
use fluidcloud_core::signing::Signer;
use fluidcloud_db::Store;
use fluidcloud_scan::Scanner;
use fluidcloud_services::ServiceContext;
use fluidcloud_services::fetch::Importer;
use fluidcloud_storage::ObjectStore;
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;

pub use auth::KeyCache;

/// Everything a request handler may use. Cloned per request; every field is shared.
#[derive(Clone)]
pub struct AppState {
    /// The metadata store.
    pub store: Store,
    /// Cached API-key lookups.
    pub keys: Arc<KeyCache>,
    /// The settings this process started with.
    pub settings: Arc<Settings>,
    /// The object store: presigning, reads, deletes.
    pub objects: ObjectStore,
    /// The scanner, for inline scans.
    pub scanner: Scanner,
    /// Signs download URLs and share tokens.
    pub signer: Signer,
    /// Fetches `import-url` sources, refusing private addresses.
    pub importer: Importer,
    /// Per-key request budgets.
    pub limiter: Arc<ratelimit::RateLimiter>,
    /// This process's counters (shared with its inline scans).
    pub metrics: Metrics,
}

impl AppState {
    /// Builds the state and starts the cache's eviction task. The store's change feed
    /// must be running (see [`Store::start_change_feed`]) for the cache to be used.
    pub fn new(store: Store, settings: Arc<Settings>) -> anyhow::Result<Self> {
        let keys = KeyCache::new(
            store.clone(),
            Duration::from_secs(settings.auth.cache_ttl_secs),
            settings.auth.cache_max_entries,
        );
        tokio::spawn(Arc::clone(&keys).follow_changes());
        let counted = Arc::clone(&keys);
        let services = ServiceContext::from_settings(store, Arc::clone(&settings))?;
        services.metrics.counter_fn(
            "fluidcloud_key_cache_hits",
            "API-key lookups answered from the cache",
            move || counted.hits_and_misses().0,
        );
        let counted = Arc::clone(&keys);
        services.metrics.counter_fn(
            "fluidcloud_key_cache_misses",
            "API-key lookups that went to the database",
            move || counted.hits_and_misses().1,
        );
        fluidcloud_services::sample_queue_depth(&services);
        let signer = Signer::new(&settings.signing)?;
        let importer = Importer::new(&settings.import)?;
        let limiter = ratelimit::RateLimiter::new(&services.store, &settings.rate_limits);
        Ok(AppState {
            store: services.store,
            objects: services.objects,
            scanner: services.scanner,
            metrics: services.metrics,
            limiter,
            keys,
            settings,
            signer,
            importer,
        })
    }

    /// What the upload workflows and inline scans run with: this state's handles.
    pub fn services(&self) -> ServiceContext {
        ServiceContext {
            store: self.store.clone(),
            objects: self.objects.clone(),
            scanner: self.scanner.clone(),
            settings: Arc::clone(&self.settings),
            metrics: self.metrics.clone(),
        }
    }
}

/// The complete application: `/api/v1`, health probes, and the middleware stack.
pub fn router(state: AppState) -> Router {
    let (api, doc) = openapi::routes().split_for_parts();
    let known = slash::KnownRoutes::new(
        doc.paths
            .paths
            .keys()
            .map(String::as_str)
            .chain([openapi::DOCUMENT_PATH])
            .chain(routes::health::PATHS),
    );
    let timeout = Duration::from_secs(state.settings.api.request_timeout_secs);
    let body_limit = state.settings.api.max_json_body_bytes;
    let cors = cors::layer(&state.settings.api.cors_allowed_origins);
    let router = Router::new()
        .merge(api)
        .merge(routes::health::router())
        .route_layer(axum::middleware::from_fn_with_state(
            fluidcloud_http::observe::RequestMetrics {
                service: "api",
                metrics: state.metrics.clone(),
            },
            fluidcloud_http::observe::track,
        ))
        .fallback(move |uri: axum::http::Uri| async move { known.fallback(&uri) })
        .with_state(state)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .layer(CatchPanicLayer::new());
    // Inside the request context, so preflights and errors carry X-Request-Id too, and
    // outside everything else, so timeouts and panics carry the CORS headers.
    let router = match cors {
        Some(cors) => router.layer(cors),
        None => router,
    };
    router.layer(axum::middleware::from_fn(request_id::request_context))
}

/// Serves `router` on `listener` until `shutdown` completes, then lets in-flight
/// requests finish; headers must arrive within `header_read_timeout`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    header_read_timeout: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    fluidcloud_http::serve::serve(listener, router, header_read_timeout, shutdown).await
}
