//! The answers that serve no bytes: probes, metrics, CORS preflights, 404 and 405,
//! and the optional per-address limit in front of the links.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use fluidcloud_core::time::now;
use fluidcloud_core::window::window_of;

use crate::FilesState;
use crate::serve::{not_found_response, plain};

/// The optional per-address limit (`files.rate_limit_per_ip`).
pub async fn limit_per_ip(
    State(state): State<FilesState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if let Some(counter) = &state.per_ip
        && let Some(ConnectInfo(peer)) = request.extensions().get::<ConnectInfo<SocketAddr>>()
    {
        let (window_start, reset) = window_of(now().timestamp(), state.window_secs);
        if counter.hit(&peer.ip(), window_start) > state.settings.rate_limit_per_ip {
            let mut response = plain(
                StatusCode::TOO_MANY_REQUESTS,
                "too many requests; slow down\n",
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, reset.into());
            return response;
        }
    }
    next.run(request).await
}

/// Prometheus metrics of this process; the cache counters are read at scrape time.
pub async fn metrics(State(state): State<FilesState>) -> Response {
    fluidcloud_http::observe::metrics_response(&state.metrics)
}

pub async fn not_found() -> Response {
    not_found_response()
}

/// Links answer `GET`, `HEAD` and CORS preflights; anything else is 405 in the same
/// plain, uncached shape as every other error.
pub async fn method_not_allowed() -> Response {
    let mut response = plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
    response.headers_mut().insert(
        header::ALLOW,
        HeaderValue::from_static("GET, HEAD, OPTIONS"),
    );
    response
}

/// A CORS preflight: pages on any origin may fetch links with ranges, validators and
/// a link password (`Authorization` is never implied by a wildcard, so it is named).
pub async fn preflight() -> Response {
    let mut response = plain(StatusCode::NO_CONTENT, "");
    let headers = response.headers_mut();
    headers.remove(header::CONTENT_TYPE);
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, HEAD"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("Range, If-None-Match, If-Range, Authorization"),
    );
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    response
}

pub async fn healthz() -> Response {
    plain(StatusCode::OK, "ok\n")
}

/// Ready when the metadata database and the object store both answer.
pub async fn readyz(State(state): State<FilesState>) -> Response {
    fluidcloud_http::ready::check(&state.store, &state.objects, None)
        .await
        .into_response()
}
