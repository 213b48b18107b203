//! The handles the scan pipeline, reconcile and the upload workflows need.

use std::sync::Arc;
use std::time::Duration;

use fluidcloud_core::config::{ScanEngine, ScanSettings, Settings};
use fluidcloud_core::metrics::Metrics;
use fluidcloud_db::Store;
use fluidcloud_scan::Scanner;
use fluidcloud_storage::{ObjectStore, StoreSettings};

/// The metadata store, the object store, the scanner, the settings and the process's
/// metrics. Cheap to clone: every field is shared.
#[derive(Clone, Debug)]
pub struct ServiceContext {
    /// The metadata database.
    pub store: Store,
    /// The S3 client (presigning, reads, deletes).
    pub objects: ObjectStore,
    /// The built-in scanner or clamd, as configured.
    pub scanner: Scanner,
    /// The settings this process started with.
    pub settings: Arc<Settings>,
    /// Counters of this process (scans, jobs, uploads).
    pub metrics: Metrics,
}

impl ServiceContext {
    /// Builds the object-store client and the scanner the settings describe.
    pub fn from_settings(store: Store, settings: Arc<Settings>) -> anyhow::Result<Self> {
        Ok(ServiceContext {
            store,
            objects: ObjectStore::new(&StoreSettings::from(&settings.storage)),
            scanner: scanner(&settings.scan)?,
            settings,
            metrics: Metrics::default(),
        })
    }
}

/// The scanner the settings name.
pub fn scanner(settings: &ScanSettings) -> anyhow::Result<Scanner> {
    Ok(match settings.engine {
        ScanEngine::Builtin => {
            let file = Some(settings.signatures_file.as_str()).filter(|f| !f.is_empty());
            Scanner::builtin(file.map(std::path::Path::new))?
        }
        ScanEngine::Clamd => Scanner::clamd(
            settings
                .clamd_address
                .parse()
                .map_err(|e: String| anyhow::anyhow!("scan.clamd_address: {e}"))?,
            Duration::from_secs(settings.timeout_secs),
        ),
    })
}

/// How often the job queue's depth is sampled for the `fluidcloud_jobs_queue_depth`
/// gauge, so a `/metrics` scrape itself costs no query.
const QUEUE_DEPTH_EVERY: Duration = Duration::from_secs(10);

/// Samples the job queue's depth into the metrics in the background (`-1` while the
/// database does not answer). Runs until the process exits.
pub fn sample_queue_depth(context: &ServiceContext) {
    let (store, metrics) = (context.store.clone(), context.metrics.clone());
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(QUEUE_DEPTH_EVERY);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let depth = store.queue_depth().await.map_or(-1, |depth| depth);
            metrics.set_queue_depth(depth);
        }
    });
}
