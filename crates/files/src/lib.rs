//! `fluidcloud-files`: the raw-link server, on its own cookieless origin.
//!
//! `GET`/`HEAD /s/<token>` serves share links and `/d/<signed>` the owner's short-lived
//! download and preview URLs (SPEC §6). Tokens are MAC-checked before any lookup;
//! lookups are cached and evicted through the change feed, so a revoked link stops
//! everywhere within a second; small objects come from a bounded memory cache (object
//! keys are immutable, so it is never stale) and the rest streams from the store with
//! back-pressure.

mod blobs;
mod downloads;
mod headers;
mod passwords;
mod probes;
mod serve;

use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use fluidcloud_core::config::{FilesSettings, Settings};
use fluidcloud_core::metrics::Metrics;
use fluidcloud_core::model::File;
use fluidcloud_core::signing::Signer;
use fluidcloud_core::window::WindowCounter;
use fluidcloud_db::cache::LookupCache;
use fluidcloud_db::{Change, Store};
use fluidcloud_storage::ObjectStore;
use tokio::net::TcpListener;
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

pub use blobs::BlobCache;
pub use downloads::DownloadCounter;

/// What the files server's handlers share. Cheap to clone.
#[derive(Clone)]
pub struct FilesState {
    /// The metadata store (links, files; writes only download counts).
    pub store: Store,
    /// Where the bytes are.
    pub objects: ObjectStore,
    /// Checks token and URL MACs.
    pub signer: Signer,
    /// Token digest → link and file.
    pub shares: Arc<LookupCache<[u8; 32], serve::ServedLink>>,
    /// File id → file, for `/d/` URLs.
    pub files: Arc<LookupCache<Uuid, File>>,
    /// Small objects in memory.
    pub blobs: Arc<BlobCache>,
    /// Download counts of links without a cap, flushed in batches.
    pub downloads: Arc<DownloadCounter>,
    /// Recently verified link passwords.
    pub passwords: Arc<passwords::PasswordCache>,
    /// Wrong link passwords per client address in the current minute.
    pub password_failures: Arc<WindowCounter<IpAddr>>,
    /// Requests per client address in the current window, when that limit is on.
    pub per_ip: Option<Arc<WindowCounter<IpAddr>>>,
    /// Seconds in a rate-limit window.
    pub window_secs: i64,
    /// Request counters of this process.
    pub metrics: Metrics,
    pub settings: Arc<FilesSettings>,
    /// `listeners.header_read_timeout_secs`.
    pub header_read_timeout: Duration,
}

impl FilesState {
    /// Builds the state and starts its background tasks (cache eviction, download
    /// count flushes). The store's change feed must be running for caches to be used.
    pub fn new(store: Store, objects: ObjectStore, settings: &Settings) -> anyhow::Result<Self> {
        let files = &settings.files;
        let ttl = Duration::from_secs(files.lookup_cache_ttl_secs);
        let state = FilesState {
            shares: Arc::new(LookupCache::new(
                store.clone(),
                ttl,
                files.lookup_cache_max_entries,
            )),
            files: Arc::new(LookupCache::new(
                store.clone(),
                ttl,
                files.lookup_cache_max_entries,
            )),
            blobs: Arc::new(BlobCache::new(
                files.cache_bytes,
                files.cache_max_object_bytes,
            )),
            downloads: Arc::new(DownloadCounter::default()),
            passwords: Arc::new(passwords::PasswordCache::new(Duration::from_secs(
                files.password_cache_secs,
            ))),
            signer: Signer::new(&settings.signing)?,
            password_failures: Arc::new(WindowCounter::default()),
            per_ip: (files.rate_limit_per_ip > 0).then(|| Arc::new(WindowCounter::default())),
            window_secs: i64::try_from(settings.rate_limits.window_secs).unwrap_or(60),
            metrics: Metrics::default(),
            settings: Arc::new(files.clone()),
            header_read_timeout: settings.listeners.header_read_timeout(),
            objects,
            store,
        };
        state.count_cache_use();
        tokio::spawn(state.clone().follow_changes());
        tokio::spawn(
            Arc::clone(&state.downloads).flush_every(state.store.clone(), Duration::from_secs(1)),
        );
        Ok(state)
    }

    async fn follow_changes(self) {
        let mut changes = self.store.subscribe();
        loop {
            match changes.recv().await {
                Ok(Change::Share(id)) => self
                    .shares
                    .evict(|_, share| share.is_some_and(|s| s.access.share_id == id)),
                Ok(Change::File(id)) => {
                    self.shares
                        .evict(|_, share| share.is_some_and(|s| s.access.file_id == id));
                    self.files.evict(|file_id, _| *file_id == id);
                }
                Ok(Change::All) | Err(RecvError::Lagged(_)) => {
                    self.shares.clear();
                    self.files.clear();
                }
                Ok(Change::ApiKey(_) | Change::Tenant(_)) => {}
                Err(RecvError::Closed) => return,
            }
        }
    }

    /// Exposes the caches' hits and misses as counters read at scrape time.
    fn count_cache_use(&self) {
        let metrics = &self.metrics;
        let shares = Arc::clone(&self.shares);
        metrics.counter_fn(
            "fluidcloud_link_cache_hits",
            "Link lookups answered from memory",
            move || shares.hits_and_misses().0,
        );
        let shares = Arc::clone(&self.shares);
        metrics.counter_fn(
            "fluidcloud_link_cache_misses",
            "Link lookups that went to the database",
            move || shares.hits_and_misses().1,
        );
        let blobs = Arc::clone(&self.blobs);
        metrics.counter_fn(
            "fluidcloud_object_cache_hits",
            "Small objects served from memory",
            move || blobs.hits_and_misses().0,
        );
        let blobs = Arc::clone(&self.blobs);
        metrics.counter_fn(
            "fluidcloud_object_cache_misses",
            "Small objects fetched from the store",
            move || blobs.hits_and_misses().1,
        );
    }

    /// Writes pending download counts; call before the process exits.
    pub async fn flush(&self) {
        self.downloads.flush(&self.store).await;
    }
}

pub fn router(state: FilesState) -> Router {
    let mut links = Router::new()
        .route(
            "/s/{token}",
            get(serve::share)
                .options(probes::preflight)
                .fallback(probes::method_not_allowed),
        )
        .route(
            "/d/{signed}",
            get(serve::download)
                .options(probes::preflight)
                .fallback(probes::method_not_allowed),
        );
    // Every layer costs on the hottest path; this one only when it has work to do.
    if state.per_ip.is_some() {
        links = links.route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            probes::limit_per_ip,
        ));
    }
    Router::new()
        .route("/healthz", get(probes::healthz))
        .route("/readyz", get(probes::readyz))
        .route("/metrics", get(probes::metrics))
        .merge(links)
        .route_layer(axum::middleware::from_fn_with_state(
            fluidcloud_http::observe::RequestMetrics {
                service: "files",
                metrics: state.metrics.clone(),
            },
            fluidcloud_http::observe::track,
        ))
        .layer(axum::middleware::from_fn(fluidcloud_http::observe::traced))
        .fallback(probes::not_found)
        .with_state(state)
}

/// Serves until `shutdown` completes, lets in-flight downloads finish, then writes the
/// pending download counts.
pub async fn serve(
    listener: TcpListener,
    state: FilesState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let header_read_timeout = state.header_read_timeout;
    let result = fluidcloud_http::serve::serve(
        listener,
        router(state.clone()),
        header_read_timeout,
        shutdown,
    )
    .await;
    state.flush().await;
    result
}
