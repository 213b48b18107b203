//! Trailing slashes, as the hosted (Starlette) server treats them: a request for a
//! route's path plus one `/` is answered `307 Temporary Redirect` to the route, so the
//! client repeats it with the same method and body. Paths that would still not name a
//! route stay 404, and so the redirect never leaves the API's own routes.

use std::sync::Arc;

use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// The path templates this service answers (`/api/v1/files/{id}`, …).
pub struct KnownRoutes(matchit::Router<()>);

impl KnownRoutes {
    pub fn new<'a>(templates: impl IntoIterator<Item = &'a str>) -> Arc<Self> {
        let mut routes = matchit::Router::new();
        for template in templates {
            // The same templates the router itself was built from, which accepted them.
            routes
                .insert(template, ())
                .expect("route templates are distinct and well formed");
        }
        Arc::new(KnownRoutes(routes))
    }

    /// Where a request for `uri` should go instead: the same path less one trailing
    /// slash, with the same query, when that path is a route.
    pub fn without_slash(&self, uri: &Uri) -> Option<String> {
        let trimmed = uri.path().strip_suffix('/')?;
        if trimmed.is_empty() || self.0.at(trimmed).is_err() {
            return None;
        }
        Some(match uri.query() {
            Some(query) => format!("{trimmed}?{query}"),
            None => trimmed.to_owned(),
        })
    }

    /// The answer for a path nothing matched: the redirect, or 404 in the envelope.
    pub fn fallback(&self, uri: &Uri) -> Response {
        match self
            .without_slash(uri)
            .and_then(|to| HeaderValue::try_from(to).ok())
        {
            Some(location) => (
                StatusCode::TEMPORARY_REDIRECT,
                [(header::LOCATION, location)],
            )
                .into_response(),
            None => ApiError::NotFound("route").into_response(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known() -> Arc<KnownRoutes> {
        KnownRoutes::new([
            "/api/v1/spaces",
            "/api/v1/files/{id}",
            "/api/v1/files/resolve",
        ])
    }

    fn redirect(uri: &str) -> Option<String> {
        known().without_slash(&uri.parse().unwrap())
    }

    #[test]
    fn one_trailing_slash_on_a_route_goes_to_the_route() {
        assert_eq!(
            redirect("/api/v1/spaces/").as_deref(),
            Some("/api/v1/spaces")
        );
        assert_eq!(
            redirect("/api/v1/files/resolve/?client_key=a&app=b").as_deref(),
            Some("/api/v1/files/resolve?client_key=a&app=b")
        );
        assert_eq!(
            redirect("/api/v1/files/abc/").as_deref(),
            Some("/api/v1/files/abc")
        );
    }

    #[test]
    fn anything_else_is_not_redirected() {
        for uri in [
            "/api/v1/spaces",
            "/api/v1/spaces//",
            "/api/v1/nothing/",
            "/",
            "//evil.example/",
            "/api/v1/files/a/b/",
        ] {
            assert_eq!(redirect(uri), None, "{uri}");
        }
    }
}
