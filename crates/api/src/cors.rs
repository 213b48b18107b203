//! CORS for browser clients (`api.cors_allowed_origins`, SPEC §3): preflights answered
//! on every route before authentication (browsers never send keys with them), and the
//! headers a client reads — paging, rate limits, the request id — exposed to pages of
//! the allowed origins. With no origins configured there is no layer at all, so no
//! response carries a CORS header.

use std::time::Duration;

use axum::http::{HeaderName, HeaderValue, Method, header};
use fluidcloud_core::cors::AllowedOrigins;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::routes::NEXT_CURSOR;

/// Request headers a page may send: the key (either way) and the JSON body's type.
const ALLOWED_HEADERS: [HeaderName; 4] = [
    header::AUTHORIZATION,
    header::CONTENT_TYPE,
    HeaderName::from_static("x-api-key"),
    HeaderName::from_static("x-request-id"),
];

/// Response headers a page may read besides the CORS-safelisted ones.
const EXPOSED_HEADERS: [HeaderName; 6] = [
    NEXT_CURSOR,
    header::RETRY_AFTER,
    HeaderName::from_static("x-ratelimit-limit"),
    HeaderName::from_static("x-ratelimit-remaining"),
    HeaderName::from_static("x-ratelimit-reset"),
    HeaderName::from_static("x-request-id"),
];

/// How long a browser may reuse a preflight's answer.
const PREFLIGHT_MAX_AGE: Duration = Duration::from_secs(600);

/// The CORS layer for `origins`; `None` when no origin is allowed.
pub fn layer(origins: &AllowedOrigins) -> Option<CorsLayer> {
    let allow_origin = match origins {
        AllowedOrigins::None => return None,
        AllowedOrigins::Any => AllowOrigin::any(),
        // Normalised origins are ASCII, so each is a valid header value.
        AllowedOrigins::List(list) => {
            AllowOrigin::list(list.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
        }
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow_origin)
            .allow_methods([
                Method::GET,
                Method::HEAD,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
            ])
            .allow_headers(ALLOWED_HEADERS)
            .expose_headers(EXPOSED_HEADERS)
            .max_age(PREFLIGHT_MAX_AGE),
    )
}
