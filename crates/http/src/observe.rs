//! Request metrics (one layer for every service) and the `/metrics` answer.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use fluidcloud_core::metrics::{self, Metrics};
use tracing::Instrument;

use crate::request;

/// State of the [`track`] layer: which service counts, into which metrics.
#[derive(Clone, Debug)]
pub struct RequestMetrics {
    pub service: &'static str,
    pub metrics: Metrics,
}

/// A route layer: counts and times every routed request by route template, method
/// and status, and records the route on the request's span.
pub async fn track(
    State(tracked): State<RequestMetrics>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let route = request.extensions().get::<MatchedPath>().cloned();
    let method = request.method().clone();
    if let Some(route) = &route {
        request::record_route(route.as_str());
    }
    let response = next.run(request).await;
    tracked.metrics.http(
        tracked.service,
        route.as_ref().map_or("unmatched", MatchedPath::as_str),
        method.as_str(),
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

/// An outer layer for services without one of their own: runs the request inside its
/// span (the client's `X-Request-Id` when plain, else a new id) and records the status
/// and latency on it. Logs nothing by itself; lines logged inside carry the fields.
pub async fn traced(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let span = match request::presented_id(request.headers()) {
        Some(id) => request::request_span(id, request.method()),
        None => request::request_span(&request::new_request_id(), request.method()),
    };
    let response = next.run(request).instrument(span.clone()).await;
    request::finish(&span, response.status().as_u16(), started);
    response
}

/// The `/metrics` answer. Rendering reads counters only, never the database.
pub fn metrics_response(metrics: &Metrics) -> Response {
    ([(CONTENT_TYPE, metrics::CONTENT_TYPE)], metrics.render()).into_response()
}
