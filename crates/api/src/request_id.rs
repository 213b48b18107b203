//! The outermost middleware: gives every request an id and a tracing span, renders the
//! error envelope, and logs one line per request.
//!
//! The span (`request`: request id, method, then the matched route, the tenant once
//! the key is known, the status and latency) wraps everything the request runs, so
//! every log line written on its behalf carries those fields.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use serde_json::json;
use tracing::Instrument;

use crate::error::{ErrorDetail, detail_for_status};
use crate::ratelimit::Verdict;

pub use fluidcloud_http::request::REQUEST_ID_HEADER;

/// The request id, available to handlers as an extension.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Where the rate limiter leaves its verdict for the response headers.
#[derive(Debug, Clone, Default)]
pub struct RateSlot(pub Arc<OnceLock<Verdict>>);

pub async fn request_context(mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = fluidcloud_http::request::presented_id(request.headers())
        .map_or_else(|| uuid::Uuid::new_v4().simple().to_string(), str::to_owned);
    request.extensions_mut().insert(RequestId(id.clone()));
    let rate = RateSlot::default();
    request.extensions_mut().insert(rate.clone());
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let span = fluidcloud_http::request::request_span(&id, &method);

    let mut response = next.run(request).instrument(span.clone()).await;

    let status = response.status();
    if status.is_client_error() || status.is_server_error() {
        let detail = response
            .extensions_mut()
            .remove::<ErrorDetail>()
            .map_or_else(|| detail_for_status(status), |d| d.0);
        let body = json!({ "detail": detail, "request_id": id }).to_string();
        response.headers_mut().remove(header::CONTENT_LENGTH);
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        *response.body_mut() = Body::from(body);
    }
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    if let Some(verdict) = rate.0.get() {
        let headers = response.headers_mut();
        headers.insert("x-ratelimit-limit", verdict.limit.into());
        headers.insert("x-ratelimit-remaining", verdict.remaining.into());
        headers.insert("x-ratelimit-reset", verdict.reset_secs.into());
    }
    fluidcloud_http::request::finish(&span, status.as_u16(), started);
    span.in_scope(|| tracing::info!(path, "request"));
    response
}
