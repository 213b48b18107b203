//! The outermost middleware: gives every request an id, renders the error envelope,
//! and logs one line per request.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use serde_json::json;

use crate::error::{ErrorDetail, detail_for_status};
use crate::ratelimit::Verdict;

/// The header carrying the request id, both ways.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The request id, available to handlers as an extension.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Where the rate limiter leaves its verdict for the response headers.
#[derive(Debug, Clone, Default)]
pub struct RateSlot(pub Arc<OnceLock<Verdict>>);

/// An incoming id is echoed only when it is short and plain, so it cannot inject
/// anything into logs or headers.
fn acceptable(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

pub async fn request_context(mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable(v))
        .map_or_else(|| uuid::Uuid::new_v4().simple().to_string(), str::to_owned);
    request.extensions_mut().insert(RequestId(id.clone()));
    let rate = RateSlot::default();
    request.extensions_mut().insert(rate.clone());
    let method = request.method().clone();
    let path = request.uri().path().to_owned();

    let mut response = next.run(request).await;

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
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    tracing::info!(request_id = %id, %method, path, status = status.as_u16(), latency_ms, "request");
    response
}

#[cfg(test)]
mod tests {
    use super::acceptable;

    #[test]
    fn only_plain_ids_are_echoed() {
        assert!(acceptable("abc-123_x.y:z"));
        assert!(!acceptable(""));
        assert!(!acceptable("a b"));
        assert!(!acceptable("a\nb"));
        assert!(!acceptable(&"a".repeat(129)));
    }
}
