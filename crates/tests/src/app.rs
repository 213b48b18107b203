//! The API served on port 0 over a [`TestDb`], and a client with one helper per
//! endpoint.

use std::sync::Arc;

use fluidcloud_core::api_key::KeyMode;
use fluidcloud_core::config::Settings;
use fluidcloud_core::model::Plan;
use fluidcloud_core::scope::Scopes;
use fluidcloud_db::{NewApiKey, NewTenant, Store};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use uuid::Uuid;

use crate::db::TestDb;

/// A running API on a fresh database.
pub struct TestApp {
    pub db: TestDb,
    /// The store the server uses (for arranging data and for admin operations).
    pub store: Store,
    /// `http://127.0.0.1:<port>`.
    pub base_url: String,
    pub http: reqwest::Client,
}

/// The built-in settings, as every test server uses them.
pub fn test_settings(database_url: &str) -> Settings {
    let mut settings = Settings::load(None).expect("default settings");
    settings.database.url = database_url.to_owned();
    settings
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        let db = TestDb::new().await;
        let (store, base_url) = Self::serve_api(&db).await;
        TestApp {
            db,
            store,
            base_url,
            http: reqwest::Client::new(),
        }
    }

    /// Starts one more API process-equivalent (own pool, own caches, own change feed)
    /// on the same database and returns its base URL.
    pub async fn serve_api(db: &TestDb) -> (Store, String) {
        let store = db.store().await;
        let settings = Arc::new(test_settings(&db.url));
        let state = fluidcloud_api::AppState::new(store.clone(), settings);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("local addr");
        tokio::spawn(fluidcloud_api::serve(
            listener,
            fluidcloud_api::router(state),
            std::future::pending(),
        ));
        (store, format!("http://{addr}"))
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
