//! Request ids and the per-request tracing span.
//!
//! Every request runs inside a `request` span with its id and method; the matched
//! route, the tenant (once a key is known), the status and the latency are recorded
//! on it as they become known. JSON logs carry the span's fields on every line logged
//! on the request's behalf.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::http::{HeaderMap, Method};
use tracing::Span;
use tracing::field::Empty;

/// The header carrying the request id, both ways.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// An incoming id is used only when it is short and plain, so it cannot inject
/// anything into logs or headers.
pub fn acceptable(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// The id a client sent, when acceptable.
pub fn presented_id(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable(v))
}

/// A new id unique to this process run: a random prefix drawn once and a counter, so
/// making one costs no system call on the hot path.
pub fn new_request_id() -> String {
    static PREFIX: OnceLock<u32> = OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let prefix = *PREFIX.get_or_init(rand::random);
    format!("{prefix:08x}{:016x}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// The span of one request; record the rest with [`record_route`],
/// [`record_tenant`] and [`finish`].
pub fn request_span(id: &str, method: &Method) -> Span {
    tracing::info_span!(
        "request",
        request_id = id,
        method = method.as_str(),
        route = Empty,
        tenant_id = Empty,
        status = Empty,
        latency_ms = Empty,
    )
}

/// Records the matched route template on the current request's span.
pub fn record_route(route: &str) {
    Span::current().record("route", route);
}

/// Records the tenant on the current request's span, once the key is known.
pub fn record_tenant(tenant_id: impl std::fmt::Display) {
    Span::current().record("tenant_id", tracing::field::display(tenant_id));
}

/// Records the outcome on a request's span.
pub fn finish(span: &Span, status: u16, started: Instant) {
    span.record("status", status);
    span.record("latency_ms", started.elapsed().as_secs_f64() * 1000.0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_ids_are_echoed() {
        assert!(acceptable("abc-123_x.y:z"));
        assert!(!acceptable(""));
        assert!(!acceptable("a b"));
        assert!(!acceptable("a\nb"));
        assert!(!acceptable(&"a".repeat(129)));
    }

    #[test]
    fn generated_ids_are_distinct_and_plain() {
        let (a, b) = (new_request_id(), new_request_id());
        assert_ne!(a, b);
        assert_eq!(a.len(), 24);
        assert!(acceptable(&a));
    }
}
