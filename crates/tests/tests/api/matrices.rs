//! Matrices generated from the route table the router serves (its OpenAPI document):
//! every route's scope is enforced exactly, and every route that takes an id answers
//! another tenant's id exactly as it answers a random one.

use std::collections::BTreeSet;

use fluidcloud_core::Scope;
use fluidcloud_core::scope::Scopes;
use fluidcloud_tests::TestApp;
use fluidcloud_tests::app::{ApiClient, Reply, send};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

/// The routes SPEC.md defines so far, with the scope each requires.
const SPEC_ROUTES: &[(&str, &str, Option<&str>)] = &[
    ("GET", "/api/v1/me", None),
    ("GET", "/api/v1/spaces", Some("spaces:read")),
    ("POST", "/api/v1/spaces", Some("spaces:write")),
    ("PATCH", "/api/v1/spaces/{id}", Some("spaces:write")),
    ("DELETE", "/api/v1/spaces/{id}", Some("spaces:write")),
    ("GET", "/api/v1/folders", Some("folders:read")),
    ("POST", "/api/v1/folders", Some("folders:write")),
    ("GET", "/api/v1/folders/{id}", Some("folders:read")),
    ("PATCH", "/api/v1/folders/{id}", Some("folders:write")),
    ("DELETE", "/api/v1/folders/{id}", Some("folders:write")),
    (
        "POST",
        "/api/v1/folders/{id}/restore",
        Some("folders:write"),
    ),
    ("GET", "/api/v1/folders/{id}/stats", Some("folders:read")),
];

/// One route as the OpenAPI document describes it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct DocumentedRoute {
    method: String,
    path: String,
    scopes: Vec<String>,
}

/// Reads the route table from the served document.
async fn documented_routes(app: &TestApp) -> Vec<DocumentedRoute> {
    let doc = send(
        app.http
            .get(format!("{}/api/v1/openapi.json", app.base_url)),
    )
    .await
    .expect(200);
    let mut routes = Vec::new();
    for (path, item) in doc.body["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            let scopes = operation["security"][0]["api_key"]
                .as_array()
                .map(|s| s.iter().map(|v| v.as_str().unwrap().to_owned()).collect())
                .unwrap_or_default();
            routes.push(DocumentedRoute {
                method: method.to_uppercase(),
                path: path.clone(),
                scopes,
            });
        }
    }
    routes.sort();
    routes
}

#[tokio::test]
async fn the_document_describes_exactly_the_spec_routes() {
    let app = TestApp::spawn().await;
    let documented: BTreeSet<_> = documented_routes(&app)
        .await
        .into_iter()
        .map(|r| (r.method, r.path, r.scopes))
        .collect();
    let expected: BTreeSet<_> = SPEC_ROUTES
        .iter()
        .map(|(m, p, s)| {
            (
                m.to_string(),
                p.to_string(),
                s.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            )
        })
        .collect();
    let missing: Vec<_> = expected.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&expected).collect();
    assert!(
        missing.is_empty(),
        "routes missing from the OpenAPI document: {missing:?}"
    );
    assert!(
        extra.is_empty(),
        "documented routes SPEC.md does not define: {extra:?}"
    );
}

#[tokio::test]
async fn every_documented_route_is_served() {
    let app = TestApp::spawn().await;
    let client = app.tenant().await;
    for route in documented_routes(&app).await {
        let path = route
            .path
            .trim_start_matches("/api/v1")
            .replace("{id}", &Uuid::new_v4().to_string());
        let method = Method::from_bytes(route.method.as_bytes()).unwrap();
        let reply = client.call(method, &path, Some(&json!({}))).await;
        // A served route answers in its own terms; an unrouted one says "route not found".
        assert_ne!(
            reply.detail(),
            "route not found",
            "{route:?} is documented but not routed"
        );
        assert_ne!(
            reply.status.as_u16(),
            405,
            "{route:?} is documented but not routed"
        );
        assert!(reply.status.as_u16() < 500, "{route:?}: {}", reply.text);
    }
}

#[tokio::test]
async fn each_route_refuses_a_key_missing_exactly_its_scope() {
    let app = TestApp::spawn().await;
    let owner = app.tenant().await;
    for route in documented_routes(&app).await {
        let method = Method::from_bytes(route.method.as_bytes()).unwrap();
        let path = route
            .path
            .trim_start_matches("/api/v1")
            .replace("{id}", &Uuid::new_v4().to_string());
        let Some(scope) = route.scopes.first() else {
            // Scope-free routes (GET /me) accept a key with no scopes at all.
            let bare = app.key_for(owner.tenant_id, Scopes::new(vec![])).await;
            bare.call(method, &path, None).await.expect(200);
            continue;
        };
        let scope: Scope = scope.parse().unwrap();
        let others = Scope::ALL.into_iter().filter(|s| *s != scope).collect();
        let key = app.key_for(owner.tenant_id, Scopes::new(others)).await;
        let reply = key.call(method, &path, Some(&json!({}))).await.expect(403);
        assert_eq!(
            reply.detail(),
            &json!({ "error": "insufficient_scope", "required": [scope], "missing": [scope] }),
            "{route:?}"
        );
        assert!(reply.body["request_id"].is_string());
    }
}

/// Ids of tenant A's records, for tenant B to try.
struct Owned {
    space: Uuid,
    folder: Uuid,
}

async fn arrange_owned(a: &ApiClient) -> Owned {
    let space = a.create_space("A's space").await.expect(201).id();
    let folder = a
        .create_folder(space, None, "A's folder")
        .await
        .expect(201)
        .id();
    Owned { space, folder }
}

/// One request of the isolation matrix.
#[derive(Debug)]
struct Probe {
    method: Method,
    path: String,
    body: Option<Value>,
}

impl Probe {
    async fn send(&self, client: &ApiClient, request_id: &str) -> Reply {
        let request = client
            .http
            .request(
                self.method.clone(),
                format!("{}/api/v1{}", client.base_url, self.path),
            )
            .header("X-API-Key", &client.key)
            .header("X-Request-Id", request_id);
        send(match &self.body {
            Some(body) => request.json(body),
            None => request,
        })
        .await
    }
}

/// A body that is valid for the route, so only the id can make it fail.
fn valid_body(method: &str, path: &str) -> Option<Value> {
    match (method, path) {
        ("PATCH", p) if p.starts_with("/api/v1/spaces") => Some(json!({ "name": "renamed" })),
        ("PATCH", p) if p.starts_with("/api/v1/folders") => Some(json!({ "name": "renamed" })),
        _ => None,
    }
}

#[tokio::test]
async fn another_tenants_ids_are_indistinguishable_from_random_ones() {
    let app = TestApp::spawn().await;
    let a = app.tenant().await;
    let b = app.tenant().await;
    let owned = arrange_owned(&a).await;
    let b_space = b.default_space().await;
    let b_folder = b
        .create_folder(b_space, None, "B's folder")
        .await
        .expect(201)
        .id();

    // Routes with the id in the path, straight from the route table.
    let mut cases: Vec<(Probe, Probe)> = Vec::new();
    for route in documented_routes(&app)
        .await
        .into_iter()
        .filter(|r| r.path.contains("{id}"))
    {
        let owned_id = if route.path.starts_with("/api/v1/spaces") {
            owned.space
        } else {
            owned.folder
        };
        let method = Method::from_bytes(route.method.as_bytes()).unwrap();
        let probe = |id: Uuid| Probe {
            method: method.clone(),
            path: route
                .path
                .trim_start_matches("/api/v1")
                .replace("{id}", &id.to_string()),
            body: valid_body(&route.method, &route.path),
        };
        cases.push((probe(owned_id), probe(Uuid::new_v4())));
    }
    // Routes with ids in the query or the body.
    let random = Uuid::new_v4();
    let get = |path: String| Probe {
        method: Method::GET,
        path,
        body: None,
    };
    let with_body = |method: Method, path: &str, body: Value| Probe {
        method,
        path: path.to_owned(),
        body: Some(body),
    };
    cases.push((
        get(format!("/folders?space_id={}", owned.space)),
        get(format!("/folders?space_id={random}")),
    ));
    cases.push((
        get(format!("/folders?space_id={}&trash=true", owned.space)),
        get(format!("/folders?space_id={random}&trash=true")),
    ));
    cases.push((
        get(format!(
            "/folders?space_id={b_space}&parent_id={}",
            owned.folder
        )),
        get(format!("/folders?space_id={b_space}&parent_id={random}")),
    ));
    cases.push((
        with_body(
            Method::POST,
            "/folders",
            json!({ "name": "x", "space_id": owned.space }),
        ),
        with_body(
            Method::POST,
            "/folders",
            json!({ "name": "x", "space_id": random }),
        ),
    ));
    cases.push((
        with_body(
            Method::POST,
            "/folders",
            json!({ "name": "x", "space_id": b_space, "parent_id": owned.folder }),
        ),
        with_body(
            Method::POST,
            "/folders",
            json!({ "name": "x", "space_id": b_space, "parent_id": random }),
        ),
    ));
    let b_folder_path = format!("/folders/{b_folder}");
    cases.push((
        with_body(
            Method::PATCH,
            &b_folder_path,
            json!({ "parent_id": owned.folder }),
        ),
        with_body(
            Method::PATCH,
            &b_folder_path,
            json!({ "parent_id": random }),
        ),
    ));

    for (foreign, unknown) in cases {
        // The same request id on both, so the two bodies can be compared byte for byte.
        let request_id = Uuid::new_v4().to_string();
        let foreign_reply = foreign.send(&b, &request_id).await;
        let unknown_reply = unknown.send(&b, &request_id).await;
        assert_eq!(
            foreign_reply.status.as_u16(),
            404,
            "{foreign:?}: {}",
            foreign_reply.text
        );
        assert_eq!(foreign_reply.text, unknown_reply.text, "{foreign:?}");
    }

    // And nothing of A's changed.
    let space = a.get("/spaces").await.expect(200);
    assert!(
        space
            .body
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["name"] == "A's space")
    );
    let folder = a
        .get(&format!("/folders/{}", owned.folder))
        .await
        .expect(200);
    assert_eq!(folder.body["name"], "A's folder");
    assert_eq!(folder.body["deleted_at"], Value::Null);
}
