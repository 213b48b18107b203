//! The object store a test uses: the embedded S3 endpoint on port 0 over a temporary
//! folder, or a real S3 store named by the environment:
//!
//! - `FLUIDCLOUD_TEST_S3_ENDPOINT` (e.g. `http://127.0.0.1:8333`)
//! - `FLUIDCLOUD_TEST_S3_ACCESS_KEY`, `FLUIDCLOUD_TEST_S3_SECRET_KEY`
//! - `FLUIDCLOUD_TEST_S3_BUCKET` (default `fluidcloud-test`), `FLUIDCLOUD_TEST_S3_REGION`
//!   (default `us-east-1`)

use fluidcloud_core::cors::AllowedOrigins;
use fluidcloud_storage::{ObjectStore, StoreSettings, embedded};
use tempfile::TempDir;

pub const S3_ENDPOINT_ENV: &str = "FLUIDCLOUD_TEST_S3_ENDPOINT";

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

/// An object store for one test.
pub struct TestObjects {
    pub settings: StoreSettings,
    pub store: ObjectStore,
    /// The embedded store's folder; `None` for an external store.
    pub dir: Option<TempDir>,
}

impl TestObjects {
    pub async fn new() -> TestObjects {
        let (settings, dir) = match std::env::var(S3_ENDPOINT_ENV) {
            Ok(endpoint) if !endpoint.is_empty() => (
                StoreSettings {
                    endpoint,
                    public_endpoint: None,
                    region: env_or("FLUIDCLOUD_TEST_S3_REGION", "us-east-1"),
                    bucket: env_or("FLUIDCLOUD_TEST_S3_BUCKET", "fluidcloud-test"),
                    access_key_id: env_or("FLUIDCLOUD_TEST_S3_ACCESS_KEY", ""),
                    secret_access_key: env_or("FLUIDCLOUD_TEST_S3_SECRET_KEY", "").into(),
                    force_path_style: true,
                    timeouts: Default::default(),
                },
                None,
            ),
            _ => {
                let (settings, dir) = embedded_store(&AllowedOrigins::None).await;
                (settings, Some(dir))
            }
        };
        Self::with(settings, dir).await
    }

    /// The embedded store, whatever the environment names, answering CORS for `cors`.
    pub async fn embedded(cors: &AllowedOrigins) -> TestObjects {
        let (settings, dir) = embedded_store(cors).await;
        Self::with(settings, Some(dir)).await
    }

    async fn with(settings: StoreSettings, dir: Option<TempDir>) -> TestObjects {
        let store = ObjectStore::new(&settings);
        store.ensure_bucket().await.expect("the test bucket exists");
        TestObjects {
            settings,
            store,
            dir,
        }
    }
}

/// Serves an embedded store on port 0 over a new temporary folder.
async fn embedded_store(cors: &AllowedOrigins) -> (StoreSettings, TempDir) {
    let dir = tempfile::tempdir().expect("temporary folder");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
    let credentials = embedded::Credentials::generate();
    let server = embedded::serve(
        dir.path(),
        &credentials,
        cors,
        &fluidcloud_core::config::ListenerSettings {
            header_read_timeout_secs: 10,
            body_read_timeout_secs: 10,
        },
        listener,
        std::future::pending(),
    )
    .expect("embedded object store");
    tokio::spawn(server);
    let settings = StoreSettings {
        endpoint,
        public_endpoint: None,
        region: "us-east-1".into(),
        bucket: "fluidcloud".into(),
        access_key_id: credentials.access_key_id.clone(),
        secret_access_key: credentials.secret_access_key.into(),
        force_path_style: true,
        timeouts: Default::default(),
    };
    (settings, dir)
}
