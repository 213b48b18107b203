//! The handlers, one module per resource.

pub mod files;
pub mod folders;
pub mod gdpr;
pub mod health;
pub mod me;
pub mod quota;
pub mod shares;
pub mod spaces;
pub mod uploads;

use axum::Json;
use axum::http::{HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use fluidcloud_core::paging::Page;
use serde::Serialize;

/// Header naming where the next page starts.
pub const NEXT_CURSOR: HeaderName = HeaderName::from_static("x-next-cursor");

/// A list response: a bare JSON array, plus `X-Next-Cursor` when more items exist.
pub struct Listed<T>(pub Page<T>);

impl<T: Serialize> IntoResponse for Listed<T> {
    fn into_response(self) -> Response {
        let mut response = Json(self.0.items).into_response();
        if let Some(next) = self.0.next
            && let Ok(value) = HeaderValue::from_str(&next.encode())
        {
            response.headers_mut().insert(NEXT_CURSOR, value);
        }
        response
    }
}
