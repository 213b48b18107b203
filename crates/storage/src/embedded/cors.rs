//! CORS for the embedded store, as a bucket CORS rule gives it on a real store, so a
//! web page on an allowed origin can PUT to presigned URLs and read the answer
//! (`ETag` included, which multipart completion needs). The origins are
//! `api.cors_allowed_origins`: in `fluidcloud dev` the page that may call the API may
//! upload too. Answers follow S3's: a preflight from an origin that is not allowed,
//! or to a store with no origins at all, is 403; allowed preflights echo the requested
//! headers (a rule with `AllowedHeaders: ["*"]`).

use std::future::{Future, ready};
use std::pin::Pin;
use std::sync::Arc;

use fluidcloud_core::cors::AllowedOrigins;
use http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE, ACCESS_CONTROL_REQUEST_HEADERS,
    ACCESS_CONTROL_REQUEST_METHOD, CONTENT_TYPE, ORIGIN, VARY,
};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use s3s::service::S3Service;
use s3s::{Body, HttpError};

/// Methods a page may use: everything presigned URLs and the S3 API need.
const METHODS: &str = "GET, HEAD, PUT, POST, DELETE";
/// Response headers a page may read besides the safelisted ones.
const EXPOSED: &str = "ETag";
/// Seconds a browser may reuse a preflight's answer.
const MAX_AGE: &str = "3600";

/// The S3 service with CORS answered in front of it.
#[derive(Clone)]
pub(super) struct WithCors {
    inner: S3Service,
    origins: Arc<AllowedOrigins>,
}

impl WithCors {
    pub(super) fn new(inner: S3Service, origins: AllowedOrigins) -> Self {
        WithCors {
            inner,
            origins: Arc::new(origins),
        }
    }
}

type Answer = Result<Response<Body>, HttpError>;

impl hyper::service::Service<Request<Body>> for WithCors {
    type Response = Response<Body>;
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Answer> + Send>>;

    fn call(&self, request: Request<Body>) -> Self::Future {
        if request.method() == Method::OPTIONS
            && request
                .headers()
                .contains_key(ACCESS_CONTROL_REQUEST_METHOD)
        {
            return Box::pin(ready(Ok(preflight(&self.origins, request.headers()))));
        }
        let allowed = allowed_origin(&self.origins, request.headers());
        // Answers differ by origin only when a list decides; `*` is the same for all.
        let varies = matches!(*self.origins, AllowedOrigins::List(_));
        let inner = self.inner.clone();
        let answer = async move { inner.call(request).await };
        Box::pin(async move {
            let mut response = answer.await?;
            let headers = response.headers_mut();
            if let Some(origin) = allowed {
                headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
                headers.insert(
                    ACCESS_CONTROL_EXPOSE_HEADERS,
                    HeaderValue::from_static(EXPOSED),
                );
            }
            if varies {
                headers.append(VARY, HeaderValue::from_static("Origin"));
            }
            Ok(response)
        })
    }
}

/// The `Access-Control-Allow-Origin` value for a request from an allowed origin.
fn allowed_origin(origins: &AllowedOrigins, headers: &HeaderMap) -> Option<HeaderValue> {
    let origin = headers.get(ORIGIN)?;
    let allowed = origin.to_str().is_ok_and(|o| origins.allows(o));
    match origins {
        AllowedOrigins::Any => Some(HeaderValue::from_static("*")),
        _ if allowed => Some(origin.clone()),
        _ => None,
    }
}

/// The answer to a preflight (`OPTIONS` with `Access-Control-Request-Method`).
fn preflight(origins: &AllowedOrigins, headers: &HeaderMap) -> Response<Body> {
    if !origins.is_enabled() {
        return refused("CORS is not enabled for this store.");
    }
    let Some(origin) = allowed_origin(origins, headers) else {
        return refused("This CORS request is not allowed.");
    };
    let method = headers
        .get(ACCESS_CONTROL_REQUEST_METHOD)
        .and_then(|m| m.to_str().ok())
        .unwrap_or_default();
    if !METHODS.split(", ").any(|allowed| allowed == method) {
        return refused("This CORS request is not allowed.");
    }
    let mut response = Response::new(Body::empty());
    let out = response.headers_mut();
    out.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    out.insert(
        ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(METHODS),
    );
    if let Some(requested) = headers.get(ACCESS_CONTROL_REQUEST_HEADERS) {
        out.insert(ACCESS_CONTROL_ALLOW_HEADERS, requested.clone());
    }
    out.insert(
        ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(EXPOSED),
    );
    out.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static(MAX_AGE));
    out.insert(
        VARY,
        HeaderValue::from_static(
            "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
        ),
    );
    response
}

fn refused(message: &'static str) -> Response<Body> {
    let mut response = Response::new(Body::from(message.to_owned()));
    *response.status_mut() = StatusCode::FORBIDDEN;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(origin: &str, method: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(ORIGIN, HeaderValue::from_str(origin).unwrap());
        headers.insert(
            ACCESS_CONTROL_REQUEST_METHOD,
            HeaderValue::from_str(method).unwrap(),
        );
        headers.insert(
            ACCESS_CONTROL_REQUEST_HEADERS,
            HeaderValue::from_static("content-type"),
        );
        headers
    }

    fn list(origins: &[&str]) -> AllowedOrigins {
        AllowedOrigins::try_from(origins.iter().map(|o| (*o).to_owned()).collect::<Vec<_>>())
            .unwrap()
    }

    #[test]
    fn preflights_follow_the_origin_list() {
        let origins = list(&["http://127.0.0.1:3000"]);
        let allowed = preflight(&origins, &request("http://127.0.0.1:3000", "PUT"));
        assert_eq!(allowed.status(), StatusCode::OK);
        assert_eq!(
            allowed.headers()[ACCESS_CONTROL_ALLOW_ORIGIN],
            "http://127.0.0.1:3000"
        );
        assert_eq!(
            allowed.headers()[ACCESS_CONTROL_ALLOW_HEADERS],
            "content-type"
        );
        assert_eq!(allowed.headers()[ACCESS_CONTROL_EXPOSE_HEADERS], "ETag");
        for (origins, origin, method) in [
            (&origins, "http://127.0.0.1:3001", "PUT"),
            (&origins, "http://127.0.0.1:3000", "PATCH"),
            (&AllowedOrigins::None, "http://127.0.0.1:3000", "PUT"),
        ] {
            let refused = preflight(origins, &request(origin, method));
            assert_eq!(refused.status(), StatusCode::FORBIDDEN, "{origin} {method}");
            assert!(!refused.headers().contains_key(ACCESS_CONTROL_ALLOW_ORIGIN));
        }
        let any = preflight(
            &AllowedOrigins::Any,
            &request("http://anywhere.example", "GET"),
        );
        assert_eq!(any.headers()[ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    }
}
