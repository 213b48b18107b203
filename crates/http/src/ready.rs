//! The readiness check behind every service's `/readyz`: can this process do its work?
//!
//! The metadata database and the object store for all three services, the scanner for
//! those that scan. Checks run concurrently; each answers within the client timeouts
//! of its dependency.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use fluidcloud_db::Store;
use fluidcloud_scan::Scanner;
use fluidcloud_storage::ObjectStore;
use serde_json::{Map, Value};

/// What the dependencies answered; `Err` holds why one is unreachable (for logs).
#[derive(Debug)]
pub struct Readiness {
    checks: Vec<(&'static str, Result<(), String>)>,
}

/// Checks the dependencies this process needs; `scanner` only where it scans.
pub async fn check(store: &Store, objects: &ObjectStore, scanner: Option<&Scanner>) -> Readiness {
    let scan = async {
        match scanner {
            Some(scanner) => Some(scanner.ping().await.map_err(|e| e.to_string())),
            None => None,
        }
    };
    let (database, object_store, scanner) = tokio::join!(
        async { store.ping().await.map_err(|e| e.to_string()) },
        async { objects.ping().await.map_err(|e| e.to_string()) },
        scan
    );
    let mut checks = vec![("database", database), ("object_store", object_store)];
    if let Some(scanner) = scanner {
        checks.push(("scanner", scanner));
    }
    Readiness { checks }
}

impl Readiness {
    /// The first dependency that did not answer, and why.
    pub fn failure(&self) -> Option<(&'static str, &str)> {
        self.checks.iter().find_map(|(name, result)| match result {
            Ok(()) => None,
            Err(cause) => Some((*name, cause.as_str())),
        })
    }

    /// `{"status": "ready"|"unavailable", "<dependency>": "ok"|"unreachable", …}`.
    pub fn body(&self) -> Value {
        let mut body = Map::new();
        let status = if self.failure().is_none() {
            "ready"
        } else {
            "unavailable"
        };
        body.insert("status".into(), status.into());
        for (name, result) in &self.checks {
            let state = if result.is_ok() { "ok" } else { "unreachable" };
            body.insert((*name).into(), state.into());
        }
        Value::Object(body)
    }
}

impl IntoResponse for Readiness {
    fn into_response(self) -> Response {
        let status = match self.failure() {
            None => StatusCode::OK,
            Some((dependency, cause)) => {
                tracing::warn!(dependency, cause, "not ready");
                StatusCode::SERVICE_UNAVAILABLE
            }
        };
        (status, Json(self.body())).into_response()
    }
}
