//! Matrices generated from the route table the router serves (its OpenAPI document):
//! every route's scope is enforced exactly, and every route that takes an id answers
//! another tenant's id exactly as it answers a random one.
//!
//! Kept in one module past the usual ~500 lines on purpose: the SPEC route table, the
//! scope matrix and the isolation matrix share the route list and its fixtures, and a
//! new route must be added to all three in one place.

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
    ("POST", "/api/v1/uploads/initiate", Some("files:write")),
    // The hosted rate-limit page's name for initiate (SPEC §4).
    ("POST", "/api/v1/uploads", Some("files:write")),
    ("POST", "/api/v1/uploads/complete", Some("files:write")),
    ("POST", "/api/v1/uploads/import-url", Some("files:write")),
    ("DELETE", "/api/v1/uploads/{file_id}", Some("files:write")),
    ("GET", "/api/v1/files", Some("files:read")),
    ("GET", "/api/v1/files/resolve", Some("files:read")),
    ("GET", "/api/v1/files/{id}", Some("files:read")),
    ("PATCH", "/api/v1/files/{id}", Some("files:write")),
    ("DELETE", "/api/v1/files/{id}", Some("files:write")),
    ("POST", "/api/v1/files/{id}/restore", Some("files:write")),
    ("GET", "/api/v1/files/{id}/download", Some("files:read")),
    ("GET", "/api/v1/files/{id}/preview", Some("files:read")),
    ("DELETE", "/api/v1/gdpr/files/{id}", Some("files:write")),
    ("DELETE", "/api/v1/gdpr/trash", Some("files:write")),
    ("GET", "/api/v1/quota", Some("quota:read")),
    ("POST", "/api/v1/shares", Some("shares:write")),
    ("GET", "/api/v1/shares", Some("shares:read")),
    ("DELETE", "/api/v1/shares/{id}", Some("shares:write")),
];

/// One route as the OpenAPI document describes it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct DocumentedRoute {
    pub(super) method: String,
    pub(super) path: String,
    scopes: Vec<String>,
}

/// Reads the route table from the served document.
pub(super) async fn documented_routes(app: &TestApp) -> Vec<DocumentedRoute> {
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
    file: Uuid,
    share: Uuid,
    /// An upload initiated and never sent.
    upload: Uuid,
}

impl Owned {
    /// The id of A's record of the kind a route path takes.
    fn id_for(&self, path: &str) -> Uuid {
        let resource = path
            .trim_start_matches("/api/v1/")
            .split('/')
            .next()
            .unwrap_or_default();
        match resource {
            "spaces" => self.space,
            "folders" => self.folder,
            "files" | "gdpr" => self.file,
            "shares" => self.share,
            "uploads" => self.upload,
            other => panic!("no owned record for /{other}: extend the isolation matrix"),
        }
    }
}

async fn arrange_owned(a: &ApiClient) -> Owned {
    let space = a.create_space("A's space").await.expect(201).id();
    let folder = a
        .create_folder(space, None, "A's folder")
        .await
        .expect(201)
        .id();
    let file = a.upload(space, "a.txt", "text/plain", b"A's bytes").await;
    let file = file["id"].as_str().unwrap().parse().unwrap();
    let share = a
        .post("/shares", &json!({ "file_id": file }))
        .await
        .expect(201)
        .id();
    let upload = a
        .post(
            "/uploads/initiate",
            &json!({ "original_name": "open.bin", "content_type": "application/octet-stream",
                     "size": 3, "space_id": space }),
        )
        .await
        .expect(200)
        .body["file_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    Owned {
        space,
        folder,
        file,
        share,
        upload,
    }
}

/// One request of the isolation matrix.
#[derive(Debug)]
struct Probe {
    method: Method,
    path: String,
    body: Option<Value>,
}

impl Probe {
    fn with_method(self, method: Method) -> Probe {
        Probe { method, ..self }
    }

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
        ("PATCH", p) if p.starts_with("/api/v1/files") => {
            Some(json!({ "original_name": "renamed" }))
        }
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
        let owned_id = owned.id_for(&route.path);
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

    // Files: listing A's space or folder, uploading into them, completing A's upload,
    // moving B's file into A's folder, resolving A's client key.
    let b_file = b.upload(b_space, "b.txt", "text/plain", b"B's bytes").await;
    let b_file_path = format!("/files/{}", b_file["id"].as_str().unwrap());
    let a_ticket = a
        .initiate(owned.space, "x.bin", "application/octet-stream", 3)
        .await
        .expect(200)
        .body;
    let mut a_completion = ApiClient::completion(
        &a_ticket,
        owned.space,
        "x.bin",
        "application/octet-stream",
        b"abc",
    );
    let random_ticket = json!({ "file_id": random, "key": a_ticket["key"] });
    let unknown_completion = ApiClient::completion(
        &random_ticket,
        owned.space,
        "x.bin",
        "application/octet-stream",
        b"abc",
    );
    a_completion["upload_id"] = Value::Null;
    let mut more: Vec<(Probe, Probe)> = vec![
        (
            with_body(Method::POST, "/shares", json!({ "file_id": owned.file })),
            with_body(Method::POST, "/shares", json!({ "file_id": random })),
        ),
        (
            get(format!("/shares?file_id={}", owned.file)),
            get(format!("/shares?file_id={random}")),
        ),
        (
            get(format!("/files?space_id={}", owned.space)),
            get(format!("/files?space_id={random}")),
        ),
        (
            get(format!(
                "/files?space_id={b_space}&folder_id={}",
                owned.folder
            )),
            get(format!("/files?space_id={b_space}&folder_id={random}")),
        ),
        (
            get(format!("/files?space_id={}&trash=true", owned.space)),
            get(format!("/files?space_id={random}&trash=true")),
        ),
        (
            with_body(
                Method::POST,
                "/uploads/initiate",
                json!({ "original_name": "x", "content_type": "text/plain", "size": 1, "space_id": owned.space }),
            ),
            with_body(
                Method::POST,
                "/uploads/initiate",
                json!({ "original_name": "x", "content_type": "text/plain", "size": 1, "space_id": random }),
            ),
        ),
        (
            with_body(
                Method::POST,
                "/uploads/initiate",
                json!({ "original_name": "x", "content_type": "text/plain", "size": 1, "space_id": b_space, "folder_id": owned.folder }),
            ),
            with_body(
                Method::POST,
                "/uploads/initiate",
                json!({ "original_name": "x", "content_type": "text/plain", "size": 1, "space_id": b_space, "folder_id": random }),
            ),
        ),
        (
            with_body(Method::POST, "/uploads/complete", a_completion),
            with_body(Method::POST, "/uploads/complete", unknown_completion),
        ),
        (
            with_body(
                Method::PATCH,
                &b_file_path,
                json!({ "folder_id": owned.folder }),
            ),
            with_body(Method::PATCH, &b_file_path, json!({ "folder_id": random })),
        ),
        (
            get(format!("/gdpr/trash?space_id={}", owned.space)).with_method(Method::DELETE),
            get(format!("/gdpr/trash?space_id={random}")).with_method(Method::DELETE),
        ),
    ];
    a.patch(
        &format!("/files/{}", owned.file),
        &json!({ "original_name": "a.txt" }),
    )
    .await
    .expect(200);
    let keyed = a
        .upload_with(owned.space, "k.txt", "text/plain", b"k", |body| {
            body["client_key"] = json!("shared-key")
        })
        .await;
    keyed.file.expect(201);
    more.push((
        get("/files/resolve?client_key=shared-key".into()),
        get("/files/resolve?client_key=no-such-key".into()),
    ));
    for (foreign, unknown) in more {
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
