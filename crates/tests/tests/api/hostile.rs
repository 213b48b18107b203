//! A sweep over every documented route with hostile bodies, paths and queries: nothing
//! a client sends may produce a server error (also on PostgreSQL, where NUL bytes would
//! fail a naive insert).

use fluidcloud_tests::TestApp;
use reqwest::Method;
use serde_json::{Value, json};

use super::matrices::documented_routes;

/// Every field any route reads.
const FIELDS: &[&str] = &[
    "name",
    "app",
    "space_id",
    "parent_id",
    "folder_id",
    "original_name",
    "content_type",
    "size",
    "file_id",
    "key",
    "upload_id",
    "parts",
    "mime",
    "sha256",
    "client_key",
    "url",
    "expires_in_days",
    "permission",
    "password",
    "max_downloads",
];

#[tokio::test]
async fn hostile_input_never_gets_a_server_error() {
    let app = TestApp::spawn().await;
    let client = app.tenant().await;
    let space = client.default_space().await;
    let nul = "a\u{0}b";
    let long = "x".repeat(100_000);
    let mut bodies: Vec<Value> = vec![
        Value::Null,
        json!([]),
        json!("text"),
        json!(12),
        json!({ "parts": [{ "PartNumber": -1, "ETag": nul }] }),
        serde_json::from_str(&format!("{}{}", "[".repeat(200), "]".repeat(200)))
            .unwrap_or(Value::Null),
    ];
    for value in [
        json!(nul),
        json!(long),
        json!(-1),
        json!(1e300),
        json!(u64::MAX),
        json!({}),
        json!([nul]),
        json!(true),
    ] {
        let mut body = serde_json::Map::new();
        for field in FIELDS {
            body.insert((*field).to_owned(), value.clone());
        }
        bodies.push(Value::Object(body.clone()));
        // The same with the ids valid, so the handlers get past them.
        body.insert("space_id".into(), json!(space));
        body.remove("parent_id");
        body.remove("folder_id");
        bodies.push(Value::Object(body));
    }
    let queries = [
        "space_id=%00&parent_id=%00&folder_id=%00".to_owned(),
        format!("space_id={space}&app=%00&client_key=%00&trash=%00&recursive=%00"),
        format!("space_id={space}&limit=99999999999999&cursor=%00"),
        format!(
            "space_id={space}&client_key={}&app={}",
            "k".repeat(5000),
            "a".repeat(5000)
        ),
        "client_key=%00".to_owned(),
        "file_id=%00&include_inactive=%00".to_owned(),
    ];
    for route in documented_routes(&app).await {
        let method = Method::from_bytes(route.method.as_bytes()).unwrap();
        let path = route.path.trim_start_matches("/api/v1");
        for id in [
            "%00",
            "..",
            "%2e%2e%2f",
            &"9".repeat(300),
            "00000000-0000-0000-0000-000000000000",
        ] {
            let path = path.replace("{id}", id);
            for query in &queries {
                let reply = client
                    .call(method.clone(), &format!("{path}?{query}"), None)
                    .await;
                assert!(
                    reply.status.as_u16() < 500,
                    "{method} {path}?{query}: {}",
                    reply.text
                );
            }
            for body in &bodies {
                let reply = client.call(method.clone(), &path, Some(body)).await;
                assert!(
                    reply.status.as_u16() < 500,
                    "{method} {path} {body}: {}",
                    reply.text
                );
                if reply.status.as_u16() >= 400 {
                    assert!(
                        reply.body["request_id"].is_string(),
                        "{method} {path}: {}",
                        reply.text
                    );
                }
            }
        }
    }
}
