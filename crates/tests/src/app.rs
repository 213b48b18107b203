//! The API served on port 0 over a [`TestDb`], and a client with one helper per
//! endpoint.

use std::sync::Arc;

use fluidcloud_core::api_key::KeyMode;
use fluidcloud_core::config::Settings;
use fluidcloud_core::model::Plan;
use fluidcloud_core::scope::Scopes;
use fluidcloud_db::{NewApiKey, NewTenant, Store};
use fluidcloud_worker::JobContext;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use uuid::Uuid;

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
    /// What the server's jobs use: the object store client and the scanner.
    pub jobs: JobContext,
    /// `http://127.0.0.1:<port>`.
    pub base_url: String,
    /// The files (raw-link) server: `http://127.0.0.1:<port>`.
    pub files_url: String,
    pub http: reqwest::Client,
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
            self.jobs.clone(),
            self.settings.worker.clone(),
            std::time::Duration::from_secs(1),
            std::future::pending(),
        ));
    }

    /// Spawns the API only: jobs wait until [`TestApp::start_worker`].
    pub async fn spawn_without_worker(adjust: impl FnOnce(&mut Settings)) -> TestApp {
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
        let jobs = state.jobs.clone();
        TestApp {
            db,
            objects,
            settings,
            store: state.store,
            jobs,
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

/// A response reduced to what tests assert on.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Reply {
    /// Asserts the status, showing the body when it differs.
    #[track_caller]
    pub fn expect(self, status: u16) -> Reply {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            self.text
        );
        self
    }

    /// The `detail` of an error envelope.
    pub fn detail(&self) -> &Value {
        &self.body["detail"]
    }

    pub fn id(&self) -> Uuid {
        self.body["id"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .expect("body has an id")
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Calls the API as one key.
#[derive(Clone)]
pub struct ApiClient {
    pub http: reqwest::Client,
    pub base_url: String,
    pub key: String,
    pub key_id: Uuid,
    pub tenant_id: Uuid,
}

impl ApiClient {
    /// Any request under `/api/v1` with this client's key in `X-API-Key`.
    pub async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Reply {
        let request = self
            .http
            .request(method, format!("{}/api/v1{path}", self.base_url))
            .header("X-API-Key", &self.key);
        send(match body {
            Some(body) => request.json(body),
            None => request,
        })
        .await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Reply {
        self.call(Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.call(Method::DELETE, path, None).await
    }

    pub async fn me(&self) -> Reply {
        self.get("/me").await
    }

    pub async fn list_spaces(&self) -> Reply {
        self.get("/spaces").await
    }

    /// The id of the tenant's first space (the default `My files` when new).
    pub async fn default_space(&self) -> Uuid {
        let reply = self.list_spaces().await.expect(200);
        reply.body[0]["id"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .expect("a space")
    }

    pub async fn create_space(&self, name: &str) -> Reply {
        self.post("/spaces", &serde_json::json!({ "name": name }))
            .await
    }

    pub async fn create_folder(
        &self,
        space_id: Uuid,
        parent_id: Option<Uuid>,
        name: &str,
    ) -> Reply {
        self.post(
            "/folders",
            &serde_json::json!({ "name": name, "space_id": space_id, "parent_id": parent_id }),
        )
        .await
    }

    pub async fn list_folders(&self, query: &str) -> Reply {
        self.get(&format!("/folders?{query}")).await
    }

    pub async fn update_folder(&self, id: Uuid, body: &Value) -> Reply {
        self.patch(&format!("/folders/{id}"), body).await
    }

    pub async fn trash_folder(&self, id: Uuid) -> Reply {
        self.delete(&format!("/folders/{id}")).await
    }

    pub async fn restore_folder(&self, id: Uuid) -> Reply {
        self.post(&format!("/folders/{id}/restore"), &Value::Null)
            .await
    }

    pub async fn folder_stats(&self, id: Uuid) -> Reply {
        self.get(&format!("/folders/{id}/stats")).await
    }
}

/// What a full upload (initiate → PUT → complete) produced.
#[derive(Debug)]
pub struct Uploaded {
    pub ticket: Value,
    pub file: Reply,
}

impl ApiClient {
    pub async fn initiate(
        &self,
        space_id: Uuid,
        name: &str,
        content_type: &str,
        size: u64,
    ) -> Reply {
        self.post(
            "/uploads/initiate",
            &serde_json::json!({
                "original_name": name, "content_type": content_type, "size": size, "space_id": space_id,
            }),
        )
        .await
    }

    /// PUTs bytes to a single-mode ticket's URL with the headers it lists.
    pub async fn put_single(&self, ticket: &Value, bytes: Vec<u8>) -> reqwest::StatusCode {
        // The URL signs the length; reqwest leaves the header out of an empty body.
        let mut request = self
            .http
            .put(ticket["upload_url"].as_str().expect("upload_url"))
            .header("content-length", bytes.len())
            .body(bytes);
        for (name, value) in ticket["headers"].as_object().expect("headers") {
            request = request.header(name.as_str(), value.as_str().expect("header value"));
        }
        request.send().await.expect("the store answers").status()
    }

    /// PUTs each part of a multipart ticket; returns the `parts` list for complete.
    pub async fn put_parts(&self, ticket: &Value, bytes: &[u8]) -> Value {
        let part_size = usize::try_from(ticket["part_size"].as_u64().expect("part_size")).unwrap();
        let mut parts = Vec::new();
        for (part, chunk) in ticket["part_urls"]
            .as_array()
            .expect("part_urls")
            .iter()
            .zip(bytes.chunks(part_size))
        {
            let response = self
                .http
                .put(part["url"].as_str().unwrap())
                .body(chunk.to_vec())
                .send()
                .await
                .expect("the store answers");
            assert!(
                response.status().is_success(),
                "part upload failed: {}",
                response.status()
            );
            let etag = response.headers()["etag"].to_str().unwrap().to_owned();
            parts.push(serde_json::json!({ "PartNumber": part["part_number"], "ETag": etag }));
        }
        Value::Array(parts)
    }

    /// The complete body the SDK would send for a ticket.
    pub fn completion(
        ticket: &Value,
        space_id: Uuid,
        name: &str,
        mime: &str,
        bytes: &[u8],
    ) -> Value {
        use sha2::Digest;
        serde_json::json!({
            "file_id": ticket["file_id"], "key": ticket["key"], "upload_id": ticket.get("upload_id"),
            "parts": null, "original_name": name, "mime": mime, "size": bytes.len(),
            "sha256": hex::encode(sha2::Sha256::digest(bytes)), "space_id": space_id,
            "folder_id": null, "app": null, "client_key": null,
        })
    }

    /// Uploads `bytes` the way the SDK does and returns the ticket and the complete reply.
    pub async fn upload_with(
        &self,
        space_id: Uuid,
        name: &str,
        mime: &str,
        bytes: &[u8],
        adjust: impl FnOnce(&mut Value),
    ) -> Uploaded {
        let ticket = self
            .initiate(space_id, name, mime, bytes.len() as u64)
            .await
            .expect(200)
            .body;
        let mut body = Self::completion(&ticket, space_id, name, mime, bytes);
        if ticket["mode"] == "single" {
            let status = self.put_single(&ticket, bytes.to_vec()).await;
            assert!(status.is_success(), "presigned PUT failed: {status}");
        } else {
            body["parts"] = self.put_parts(&ticket, bytes).await;
        }
        adjust(&mut body);
        let file = self.post("/uploads/complete", &body).await;
        Uploaded { ticket, file }
    }

    /// Uploads `bytes` and returns the created file (asserting 201).
    pub async fn upload(&self, space_id: Uuid, name: &str, mime: &str, bytes: &[u8]) -> Value {
        self.upload_with(space_id, name, mime, bytes, |_| {})
            .await
            .file
            .expect(201)
            .body
    }

    /// Polls the file until `done` holds for it (or 20 s pass); returns it.
    pub async fn wait_for(&self, file_id: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let file = self
                .get(&format!("/files/{file_id}"))
                .await
                .expect(200)
                .body;
            if done(&file) || std::time::Instant::now() > deadline {
                return file;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
    }

    /// Polls the file until its scan is no longer pending (or 20 s pass).
    pub async fn wait_for_scan(&self, file_id: &str) -> Value {
        self.wait_for_scan_within(file_id, std::time::Duration::from_secs(20))
            .await
    }

    /// Polls the file until its scan is no longer pending (or `limit` passes).
    pub async fn wait_for_scan_within(&self, file_id: &str, limit: std::time::Duration) -> Value {
        let deadline = std::time::Instant::now() + limit;
        loop {
            let file = self
                .get(&format!("/files/{file_id}"))
                .await
                .expect(200)
                .body;
            if file["scan_status"] != "pending" || std::time::Instant::now() > deadline {
                return file;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
    }
}

/// Sends a request and reads the whole reply.
pub async fn send(request: reqwest::RequestBuilder) -> Reply {
    let response = request.send().await.expect("request reaches the server");
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.expect("read body");
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        body,
        text,
    }
}
