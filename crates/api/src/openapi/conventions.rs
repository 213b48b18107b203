//! The conventions every `/api/v1` operation shares (SPEC §2, §3, §5), added to the
//! document in one pass instead of being repeated on each handler: the error envelope,
//! the statuses the edge can answer before any handler runs (401, both 403s, 429,
//! 503), 413 and 422 for operations that parse a body or parameters, 404 for
//! operations that name a record, and the response headers (`X-Request-Id`,
//! `X-RateLimit-*`, `Retry-After`, `X-Next-Cursor`).
//!
//! Handlers still declare their own statuses (400, 402, 404, 409, 413 for a declared
//! size…) and their success bodies; this pass gives every error status the envelope
//! and a description, and every body an example from [`super::examples`]. A route
//! added later gets all of it without doing anything, and `api::openapi_document`
//! (crates/tests) fails if one does not.

use serde_json::{Value, json};
use utoipa::openapi::header::Header;
use utoipa::openapi::path::Operation;
use utoipa::openapi::{Content, OpenApi, RefOr, Response, Schema};

use super::examples;

/// Component name of the error envelope's schema.
pub const ERROR_SCHEMA: &str = "Error";

/// Adds the shared statuses, envelopes, headers and examples to every operation.
pub struct Conventions;

impl utoipa::Modify for Conventions {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components
            .schemas
            .insert(ERROR_SCHEMA.into(), schema(error_schema()));
        for (name, schema) in components.schemas.iter_mut() {
            if let (RefOr::T(Schema::Object(object)), Some(example)) =
                (schema, examples::for_schema(name))
            {
                object.examples = vec![example];
            }
        }
        for item in openapi.paths.paths.values_mut() {
            for operation in [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ]
            .into_iter()
            .flatten()
            {
                apply(operation);
            }
        }
    }
}

fn schema(value: Value) -> RefOr<Schema> {
    serde_json::from_value(value).expect("a valid schema literal")
}

/// `{"detail": <string or object>, "request_id": "<id>"}` (SPEC §3, Errors).
fn error_schema() -> Value {
    json!({
        "type": "object",
        "description": "Every non-2xx body.",
        "required": ["detail", "request_id"],
        "properties": {
            "detail": {
                "description": "What went wrong: a sentence, or an object with an `error` code \
                    (402 `quota_exceeded`, 403 `insufficient_scope` / `feature_not_in_plan`).",
                "oneOf": [
                    {"type": "string"},
                    {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}
                ]
            },
            "request_id": {
                "type": "string",
                "description": "The same value as the `X-Request-Id` header."
            }
        },
        "examples": [{"detail": "space not found", "request_id": "9f0c2b7e-3d5a-4c1e-8f47-2a6b1d0e9c35"}]
    })
}

fn header(schema_value: Value, description: &str) -> Header {
    let mut header = Header::new(match schema(schema_value) {
        RefOr::T(schema) => schema,
        RefOr::Ref(_) => unreachable!("header schemas are inline"),
    });
    header.description = Some(description.into());
    header
}

/// Headers every response of an authenticated operation may carry.
fn common_headers() -> Vec<(&'static str, Header)> {
    vec![
        (
            "X-Request-Id",
            header(
                json!({"type": "string"}),
                "The request's id: the incoming `X-Request-Id` when it is 1–128 characters \
                 of `[A-Za-z0-9-_.:]`, else a generated one. Always present.",
            ),
        ),
        (
            "X-RateLimit-Limit",
            header(
                json!({"type": "integer", "minimum": -1}),
                "The key's overall budget per window (`-1`: unlimited while an action's \
                 budget is counted). Absent when nothing limits the request.",
            ),
        ),
        (
            "X-RateLimit-Remaining",
            header(
                json!({"type": "integer", "minimum": -1}),
                "Requests left in the window (`-1` as for the limit).",
            ),
        ),
        (
            "X-RateLimit-Reset",
            header(
                json!({"type": "integer", "minimum": 0}),
                "Seconds until the window restarts.",
            ),
        ),
    ]
}

/// The shared statuses: (status, description, detail example(s)).
fn error_response(status: &str) -> (&'static str, Vec<(&'static str, Value)>) {
    match status {
        "400" => (
            "Parsed but unacceptable: a bad name, a folder cycle, a move across spaces, a \
             size mismatch at complete.",
            vec![("bad_request", json!("name must not be empty"))],
        ),
        "401" => (
            "Missing, malformed, unknown or revoked key.",
            vec![("unauthorized", json!("invalid or revoked API key"))],
        ),
        "402" => (
            "The storage pool or the share-link cap would be exceeded.",
            vec![(
                "quota_exceeded",
                json!({"error": "quota_exceeded", "limit": "storage", "used": 1_048_576,
                       "limit_value": 2_097_152, "requested": 4_194_304}),
            )],
        ),
        "403" => (
            "The key lacks a scope the route needs (`insufficient_scope`), or the tenant's \
             plan does not include API access (`feature_not_in_plan`).",
            vec![
                (
                    "insufficient_scope",
                    json!({"error": "insufficient_scope", "required": ["files:write"],
                           "missing": ["files:write"]}),
                ),
                (
                    "feature_not_in_plan",
                    json!({"error": "feature_not_in_plan", "feature": "api_access",
                           "message": "this tenant's plan does not include API access"}),
                ),
            ],
        ),
        "404" => (
            "Unknown id, or another tenant's id (never told apart).",
            vec![("not_found", json!("file not found"))],
        ),
        "409" => (
            "The record's state does not allow this (not clean yet, in the Trash, a \
             non-empty space, a repeated complete with different data).",
            vec![(
                "conflict",
                json!("File is not shareable yet (scan_status='pending'); must be 'clean'."),
            )],
        ),
        "413" => (
            "JSON body over 1 MiB, or a declared file size over the plan's or server's limit.",
            vec![("too_large", json!("JSON body larger than the 1 MiB limit"))],
        ),
        "422" => (
            "Malformed JSON, a wrong type or an out-of-range value; the detail names the \
             field or parameter.",
            vec![("unprocessable", json!("limit: must be between 1 and 1000"))],
        ),
        "429" => (
            "A rate limit is exhausted; retry after `Retry-After` seconds.",
            vec![(
                "rate_limited",
                json!("Too many requests — please slow down and try again shortly."),
            )],
        ),
        "503" => (
            "A dependency (metadata database, object store, import slots) is unavailable \
             right now; retrying later may work.",
            vec![(
                "unavailable",
                json!("metadata database unavailable; retry shortly"),
            )],
        ),
        _ => ("Error.", vec![("error", json!("error"))]),
    }
}

/// An error response with the envelope, its examples and (for 429) `Retry-After`.
fn envelope(status: &str, description: Option<String>) -> Response {
    let (default_description, details) = error_response(status);
    let mut content = Content::new(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
        ERROR_SCHEMA,
    ))));
    let request_id = "9f0c2b7e-3d5a-4c1e-8f47-2a6b1d0e9c35";
    if let [(_, detail)] = details.as_slice() {
        content.example = Some(json!({"detail": detail, "request_id": request_id}));
    } else {
        for (name, detail) in details {
            let example = utoipa::openapi::example::ExampleBuilder::new()
                .value(Some(json!({"detail": detail, "request_id": request_id})))
                .build();
            content.examples.insert(name.into(), RefOr::T(example));
        }
    }
    let mut response = Response::new(description.unwrap_or_else(|| default_description.into()));
    response.content.insert("application/json".into(), content);
    if status == "429" {
        response.headers.insert(
            "Retry-After".into(),
            header(
                json!({"type": "integer", "minimum": 1}),
                "Whole seconds until the window restarts. Always present on 429.",
            ),
        );
    }
    response
}

/// Whether a handler-written description is only utoipa's placeholder.
fn is_placeholder(description: &str) -> bool {
    description.is_empty()
}

fn apply(operation: &mut Operation) {
    let has_body = operation.request_body.is_some();
    let parameters = operation.parameters.as_deref().unwrap_or_default();
    let has_parameters = !parameters.is_empty();
    let names_a_record = parameters
        .iter()
        .any(|p| matches!(p.parameter_in, utoipa::openapi::path::ParameterIn::Path));
    let paged = parameters.iter().any(|p| p.name == "cursor");

    let mut statuses = vec!["401", "403", "429", "503"];
    if has_body {
        statuses.extend(["413", "422"]);
    }
    if has_parameters {
        statuses.push("422");
    }
    if names_a_record {
        statuses.push("404");
    }
    let responses = &mut operation.responses.responses;
    for status in statuses {
        responses
            .entry(status.into())
            .or_insert_with(|| RefOr::T(Response::new("")));
    }

    for (status, response) in responses.iter_mut() {
        let RefOr::T(response) = response else {
            continue;
        };
        let is_error = status.starts_with('4') || status.starts_with('5');
        if is_error && response.content.is_empty() {
            let description =
                (!is_placeholder(&response.description)).then(|| response.description.clone());
            *response = envelope(status, description);
        }
        if !is_error {
            for content in response.content.values_mut() {
                if content.example.is_none() {
                    content.example = content.schema.as_ref().and_then(examples::for_body);
                }
            }
            if paged && status == "200" {
                response.headers.insert(
                    "X-Next-Cursor".into(),
                    header(
                        json!({"type": "string"}),
                        "Present when more items exist: pass it back as `cursor`.",
                    ),
                );
            }
        }
        for (name, header) in common_headers() {
            response.headers.entry(name.into()).or_insert(header);
        }
    }

    if let Some(body) = &mut operation.request_body {
        for content in body.content.values_mut() {
            if content.example.is_none() {
                content.example = content.schema.as_ref().and_then(examples::for_body);
            }
        }
    }
}
