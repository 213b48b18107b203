//! The served OpenAPI document is complete for every operation, so a route added later
//! cannot forget the shared statuses, the error envelope, the headers or an example:
//! 401, both 403s, 429 (with `Retry-After`) and 503 everywhere; 413/422 where a body is
//! parsed; 422 where parameters are; 404 where a record is named; `X-Request-Id` and
//! `X-RateLimit-*` on every response; `X-Next-Cursor` on every page; both security
//! schemes; and the bounds the handlers enforce.

use fluidcloud_tests::TestApp;
use fluidcloud_tests::app::send;
use serde_json::Value;

async fn document() -> Value {
    let app = TestApp::spawn().await;
    send(
        app.http
            .get(format!("{}/api/v1/openapi.json", app.base_url)),
    )
    .await
    .expect(200)
    .body
}

/// Every (method, path, operation) of the document.
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut found = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            found.push((method.to_uppercase(), path.clone(), operation.clone()));
        }
    }
    assert!(found.len() >= 30, "only {} operations", found.len());
    found
}

fn error_ref(response: &Value) -> Option<&str> {
    response["content"]["application/json"]["schema"]["$ref"].as_str()
}

#[tokio::test]
async fn every_operation_declares_the_shared_statuses_headers_and_examples() {
    let doc = document().await;
    let mut problems = Vec::new();
    for (method, path, op) in operations(&doc) {
        let label = format!("{method} {path}");
        let params = op["parameters"].as_array().cloned().unwrap_or_default();
        let mut required = vec!["401", "403", "429", "503"];
        if op.get("requestBody").is_some() {
            required.extend(["413", "422"]);
        }
        if !params.is_empty() {
            required.push("422");
        }
        if params.iter().any(|p| p["in"] == "path") {
            required.push("404");
        }
        let responses = op["responses"].as_object().expect("responses");
        for status in required {
            if !responses.contains_key(status) {
                problems.push(format!("{label}: no {status}"));
            }
        }
        for (status, response) in responses {
            let headers = &response["headers"];
            for header in [
                "X-Request-Id",
                "X-RateLimit-Limit",
                "X-RateLimit-Remaining",
                "X-RateLimit-Reset",
            ] {
                if headers.get(header).is_none() {
                    problems.push(format!("{label} {status}: no {header} header"));
                }
            }
            if status.starts_with('4') || status.starts_with('5') {
                if error_ref(response) != Some("#/components/schemas/Error") {
                    problems.push(format!("{label} {status}: not the error envelope"));
                }
            } else if let Some(content) = response["content"].get("application/json")
                && content.get("example").is_none()
            {
                problems.push(format!("{label} {status}: body without an example"));
            }
        }
        let forbidden = &op["responses"]["403"]["content"]["application/json"]["examples"];
        for kind in ["insufficient_scope", "feature_not_in_plan"] {
            if forbidden[kind]["value"]["detail"]["error"] != kind {
                problems.push(format!("{label} 403: no {kind} example"));
            }
        }
        if op["responses"]["429"]["headers"]
            .get("Retry-After")
            .is_none()
        {
            problems.push(format!("{label} 429: no Retry-After"));
        }
        if params.iter().any(|p| p["name"] == "cursor")
            && op["responses"]["200"]["headers"]
                .get("X-Next-Cursor")
                .is_none()
        {
            problems.push(format!("{label}: a page without X-Next-Cursor"));
        }
        if let Some(body) = op.get("requestBody")
            && body["content"]["application/json"].get("example").is_none()
        {
            problems.push(format!("{label}: request body without an example"));
        }
        let schemes: Vec<_> = op["security"]
            .as_array()
            .map(|s| {
                s.iter()
                    .filter_map(|s| s.as_object())
                    .flat_map(|s| s.keys().cloned())
                    .collect()
            })
            .unwrap_or_default();
        if schemes != ["api_key", "bearer"] {
            problems.push(format!("{label}: security {schemes:?}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["api_key"]["name"], "X-API-Key");
    assert_eq!(schemes["api_key"]["in"], "header");
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    let error = &doc["components"]["schemas"]["Error"];
    assert_eq!(
        error["required"],
        serde_json::json!(["detail", "request_id"])
    );
    assert_eq!(error["properties"]["detail"]["oneOf"][0]["type"], "string");
    assert_eq!(error["properties"]["detail"]["oneOf"][1]["type"], "object");
}

fn parameter<'a>(doc: &'a Value, path: &str, method: &str, name: &str) -> &'a Value {
    doc["paths"][path][method]["parameters"]
        .as_array()
        .and_then(|params| params.iter().find(|p| p["name"] == name))
        .unwrap_or_else(|| panic!("{method} {path} has no parameter {name}"))
}

fn property<'a>(doc: &'a Value, schema: &str, name: &str) -> &'a Value {
    let property = &doc["components"]["schemas"][schema]["properties"][name];
    assert!(!property.is_null(), "{schema}.{name} missing");
    property
}

#[tokio::test]
async fn bounds_are_the_enforced_ones() {
    let doc = document().await;
    for path in [
        "/api/v1/spaces",
        "/api/v1/files",
        "/api/v1/folders",
        "/api/v1/shares",
    ] {
        let limit = &parameter(&doc, path, "get", "limit")["schema"];
        assert_eq!(
            (limit["minimum"].as_i64(), limit["maximum"].as_i64()),
            (Some(1), Some(1000)),
            "{path}"
        );
    }
    let days = property(&doc, "CreateShare", "expires_in_days");
    assert_eq!(
        (days["minimum"].as_i64(), days["maximum"].as_i64()),
        (Some(1), Some(365))
    );
    let password = property(&doc, "CreateShare", "password");
    assert_eq!(
        (
            password["minLength"].as_i64(),
            password["maxLength"].as_i64()
        ),
        (Some(4), Some(128))
    );
    assert_eq!(property(&doc, "CreateShare", "max_downloads")["minimum"], 1);
    let space = property(&doc, "CreateSpace", "name");
    assert_eq!(
        (space["minLength"].as_i64(), space["maxLength"].as_i64()),
        (Some(1), Some(200))
    );
    for (schema, field) in [
        ("CreateFolder", "name"),
        ("InitiateUpload", "original_name"),
        ("CompleteUpload", "original_name"),
    ] {
        let name = property(&doc, schema, field);
        assert_eq!(
            (name["minLength"].as_i64(), name["maxLength"].as_i64()),
            (Some(1), Some(255)),
            "{schema}.{field}"
        );
        assert!(name["pattern"].is_string(), "{schema}.{field}");
    }
    assert_eq!(property(&doc, "CreateSpace", "app")["maxLength"], 64);
    assert_eq!(property(&doc, "InitiateUpload", "size")["minimum"], 0);
}
