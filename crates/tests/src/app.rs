//! The API, the files server and a worker served on port 0 over a [`TestDb`] and a
//! [`TestObjects`]; clients come from [`crate::client`].

use std::sync::Arc;

use fluidcloud_core::api_key::KeyMode;
use fluidcloud_core::config::Settings;
use fluidcloud_core::model::Plan;
use fluidcloud_core::scope::Scopes;
use fluidcloud_db::{NewApiKey, NewTenant, Store};
use fluidcloud_services::ServiceContext;
use uuid::Uuid;

pub use crate::client::{ApiClient, Reply, Uploaded, send};
use crate::db::TestDb;
use crate::objects::TestObjects;

/// Names a clamd (`tcp://host:port`) to scan with instead of the built-in scanner.
pub const CLAMD_ENV: &str = "FLUIDCLOUD_TEST_CLAMD_ADDRESS";

/// A running API and worker on a fresh database and object store.
pub struct TestApp {
    pub db: TestDb,
    pub objects: TestObjects,
    /// The settings every server of this app runs with.
    pub settings: Arc<Settings>,
    /// The store the server uses (for arranging data and for admin operations).
    pub store: Store,
    /// What the server's workflows and jobs use: the object store client and the scanner.
    pub services: ServiceContext,
    /// `http://127.0.0.1:<port>`.
    pub base_url: String,
    /// The files (raw-link) server: `http://127.0.0.1:<port>`.
    pub files_url: String,
    pub http: reqwest::Client,
}

/// With `TEST_LOG=1` (any value but `0`), the services' logs are shown in readable form
/// with each test's output (`cargo test -- --nocapture` to see passing tests' too).
/// Filtered by `RUST_LOG` when set, else `info`.
pub fn init_test_logging() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    if std::env::var("TEST_LOG").is_ok_and(|v| !v.is_empty() && v != "0") {
        ONCE.call_once(|| {
            let filter = tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
            // Another subscriber may already be installed (a test of its own): keep it.
            let _ = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_test_writer()
                .try_init();
        });
    }
}

/// The built-in settings pointed at a test database and object store, with the
/// scanner the environment names.
pub fn test_settings(database_url: &str, objects: &TestObjects) -> Settings {
    let mut settings = Settings::load(None).expect("default settings");
    settings.database.url = database_url.into();
    // Production has no default signing key; each test app gets its own.
    settings.signing.current = "test".into();
    settings.signing.keys.insert(
        "test".into(),
        fluidcloud_core::signing::generate_secret().into(),
    );
    let storage = &mut settings.storage;
    storage.endpoint.clone_from(&objects.settings.endpoint);
    storage.public_endpoint = String::new();
    storage.region.clone_from(&objects.settings.region);
    storage.bucket.clone_from(&objects.settings.bucket);
    storage
        .access_key_id
        .clone_from(&objects.settings.access_key_id);
    storage
        .secret_access_key
        .clone_from(&objects.settings.secret_access_key);
    if let Ok(address) = std::env::var(CLAMD_ENV)
        && !address.is_empty()
    {
        settings.scan.engine = fluidcloud_core::config::ScanEngine::Clamd;
        settings.scan.clamd_address = address;
    }
    // Tests wait for workers; let them look often.
    settings.worker.poll_interval_ms = 50;
    settings.worker.sweep_interval_secs = 1;
    settings
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    /// Spawns with adjusted settings.
    pub async fn spawn_with(adjust: impl FnOnce(&mut Settings)) -> TestApp {
        let app = Self::spawn_without_worker(adjust).await;
        app.start_worker();
        app
    }

    /// Runs one more worker for this app (the way a `fluidcloud-worker` process would).
    pub fn start_worker(&self) {
        tokio::spawn(fluidcloud_worker::run(
            self.services.clone(),
            self.settings.worker.clone(),
            std::time::Duration::from_secs(1),
            std::future::pending(),
        ));
    }

    /// Spawns the API only: jobs wait until [`TestApp::start_worker`].
    pub async fn spawn_without_worker(adjust: impl FnOnce(&mut Settings)) -> TestApp {
        init_test_logging();
        let db = TestDb::new().await;
        let objects = TestObjects::new().await;
        let mut settings = test_settings(&db.url, &objects);
        // Links and download URLs point at the files server, so bind it first.
        let files_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let files_url = format!("http://{}", files_listener.local_addr().expect("addr"));
        settings.files.public_url.clone_from(&files_url);
        adjust(&mut settings);
        let settings = Arc::new(settings);
        let (state, base_url) = Self::serve_api(&db, &settings).await;
        Self::serve_files(&db, &settings, files_listener).await;
        let services = state.services();
        TestApp {
            db,
            objects,
            settings,
            store: state.store,
            services,
            base_url,
            files_url,
            http: reqwest::Client::new(),
        }
    }

    /// Starts a files server (own pool, caches and change feed) on `listener`.
    pub async fn serve_files(
        db: &TestDb,
        settings: &Arc<Settings>,
        listener: tokio::net::TcpListener,
    ) -> fluidcloud_files::FilesState {
        let store = db.store().await;
        let objects = fluidcloud_storage::ObjectStore::new(
            &fluidcloud_storage::StoreSettings::from(&settings.storage),
        );
        let state =
            fluidcloud_files::FilesState::new(store, objects, settings).expect("files state");
        tokio::spawn(fluidcloud_files::serve(
            listener,
            state.clone(),
            std::future::pending(),
        ));
        state
    }

    /// Another files server on this app's database; returns its base URL.
    pub async fn another_files_server(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        Self::serve_files(&self.db, &self.settings, listener).await;
        url
    }

    /// Starts one more API process-equivalent (own pool, own caches, own change feed)
    /// on the same database and returns its state and base URL.
    pub async fn serve_api(
        db: &TestDb,
        settings: &Arc<Settings>,
    ) -> (fluidcloud_api::AppState, String) {
        let store = db.store().await;
        let state = fluidcloud_api::AppState::new(store, Arc::clone(settings)).expect("API state");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("local addr");
        tokio::spawn(fluidcloud_api::serve(
            listener,
            fluidcloud_api::router(state.clone()),
            settings.listeners.header_read_timeout(),
            std::future::pending(),
        ));
        (state, format!("http://{addr}"))
    }

    /// Another API instance on this app's database.
    pub async fn another_api(&self) -> String {
        Self::serve_api(&self.db, &self.settings).await.1
    }

    /// A tenant with the given plan and a key holding every scope.
    pub async fn tenant_with_plan(&self, plan: Plan) -> ApiClient {
        let tenant = self
            .store
            .create_tenant(&NewTenant {
                name: format!("tenant-{}", Uuid::new_v4().simple()),
                plan,
            })
            .await
            .expect("create tenant");
        self.key_for(tenant.id, Scopes::all()).await
    }

    /// A tenant with an unlimited plan and an all-scopes key.
    pub async fn tenant(&self) -> ApiClient {
        self.tenant_with_plan(Plan::unlimited()).await
    }

    /// Another key of an existing tenant, holding exactly `scopes`.
    pub async fn key_for(&self, tenant_id: Uuid, scopes: Scopes) -> ApiClient {
        let (key, plaintext) = self
            .store
            .create_api_key(&NewApiKey {
                tenant_id,
                label: "test".into(),
                mode: KeyMode::Live,
                scopes,
            })
            .await
            .expect("create key");
        ApiClient {
            http: self.http.clone(),
            base_url: self.base_url.clone(),
            key: plaintext,
            key_id: key.id,
            tenant_id,
        }
    }

    /// The same client pointed at another server.
    pub fn client_at(&self, client: &ApiClient, base_url: &str) -> ApiClient {
        ApiClient {
            base_url: base_url.to_owned(),
            ..client.clone()
        }
    }
}
