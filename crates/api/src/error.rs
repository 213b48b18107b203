//! The one error type of the HTTP edge, named after HTTP semantics, and the
//! `{"detail": …, "request_id": …}` envelope every non-2xx response carries.
//!
//! Handlers return [`ApiError`]; its response carries the detail in an extension and
//! [`crate::request_id`] renders the envelope once the request id is known. Responses
//! produced outside handlers (unknown methods, timeouts, panics) get an envelope there
//! too, so no error ever leaves without one.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use fluidcloud_core::Scope;
use fluidcloud_db::StoreError;
use serde_json::{Value, json};

/// What goes into the `detail` field of an error body.
#[derive(Debug, Clone)]
pub struct ErrorDetail(pub Value);

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: parsed but unacceptable.
    #[error("{0}")]
    BadRequest(String),
    /// 401: missing, malformed, unknown or revoked key.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// 403: the tenant's plan does not include API access.
    #[error("feature not in plan")]
    FeatureNotInPlan,
    /// 403: the key lacks a scope the route requires.
    #[error("insufficient scope")]
    InsufficientScope {
        required: Vec<Scope>,
        missing: Vec<Scope>,
    },
    /// 402: a plan limit would be exceeded.
    #[error("quota exceeded")]
    QuotaExceeded(fluidcloud_db::QuotaExceeded),
    /// 404: unknown id or another tenant's id; names the kind of record.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// 409: the record's state does not allow this.
    #[error("{0}")]
    Conflict(String),
    /// 413: body or declared size too large.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// 422: malformed JSON, wrong types, out-of-range values; names the field.
    #[error("{0}")]
    Unprocessable(String),
    /// 429: a rate limit is exhausted; retry after this many seconds.
    #[error("{}", crate::ratelimit::TOO_MANY)]
    TooManyRequests { retry_after: i64 },
    /// 503: a dependency is unreachable right now; retrying later may work. The cause
    /// is logged (once, with the response), never sent.
    #[error("{detail}")]
    Unavailable {
        detail: &'static str,
        cause: Option<String>,
    },
    /// 500: a fault on our side. The cause is logged, never sent.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::QuotaExceeded(_) => StatusCode::PAYMENT_REQUIRED,
            ApiError::FeatureNotInPlan | ApiError::InsufficientScope { .. } => {
                StatusCode::FORBIDDEN
            }
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn detail(&self) -> Value {
        match self {
            ApiError::FeatureNotInPlan => json!({
                "error": "feature_not_in_plan",
                "feature": "api_access",
                "message": "this tenant's plan does not include API access",
            }),
            ApiError::InsufficientScope { required, missing } => json!({
                "error": "insufficient_scope",
                "required": required,
                "missing": missing,
            }),
            ApiError::QuotaExceeded(exceeded) => json!({
                "error": "quota_exceeded",
                "limit": exceeded.limit,
                "used": exceeded.used,
                "limit_value": exceeded.limit_value,
                "requested": exceeded.requested,
            }),
            ApiError::Internal(_) => Value::String("internal server error".into()),
            other => Value::String(other.to_string()),
        }
    }
}

impl ApiError {
    /// A 503 whose cause is worth no log line (a probe, a full pool).
    pub fn unavailable(detail: &'static str) -> Self {
        ApiError::Unavailable {
            detail,
            cause: None,
        }
    }

    /// A 503 caused by `cause`, which is logged with the response.
    pub fn unavailable_because(detail: &'static str, cause: impl std::fmt::Display) -> Self {
        ApiError::Unavailable {
            detail,
            cause: Some(cause.to_string()),
        }
    }
}

// Failures are logged here, once, inside the request's span: the `From` impls below
// only translate.
impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            ApiError::Internal(err) => tracing::error!(error = ?err, "request failed"),
            ApiError::Unavailable { detail, cause } => {
                tracing::warn!(
                    detail,
                    cause = cause.as_deref().unwrap_or(""),
                    "dependency unavailable"
                );
            }
            _ => {}
        }
        let mut response = self.status().into_response();
        if let ApiError::TooManyRequests { retry_after } = self {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, retry_after.into());
        }
        response.extensions_mut().insert(ErrorDetail(self.detail()));
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound(what) => ApiError::NotFound(what),
            StoreError::Invalid(message) => ApiError::BadRequest(message),
            StoreError::Conflict(message) => ApiError::Conflict(message),
            StoreError::QuotaExceeded(exceeded) => ApiError::QuotaExceeded(exceeded),
            StoreError::Unavailable(source) => ApiError::unavailable_because(
                "metadata database unavailable; retry shortly",
                source,
            ),
            other => ApiError::Internal(other.into()),
        }
    }
}

impl From<fluidcloud_core::names::InvalidName> for ApiError {
    fn from(err: fluidcloud_core::names::InvalidName) -> Self {
        ApiError::BadRequest(err.to_string())
    }
}

impl From<fluidcloud_services::uploads::UploadError> for ApiError {
    fn from(err: fluidcloud_services::uploads::UploadError) -> Self {
        use fluidcloud_services::uploads::UploadError;
        match err {
            UploadError::BadRequest(message) => ApiError::BadRequest(message),
            UploadError::Unprocessable(message) => ApiError::Unprocessable(message),
            UploadError::NotFound(what) => ApiError::NotFound(what),
            UploadError::Conflict(message) => ApiError::Conflict(message),
            UploadError::TooLarge(message) => ApiError::PayloadTooLarge(message),
            UploadError::QuotaExceeded(exceeded) => ApiError::QuotaExceeded(exceeded),
            UploadError::Busy => {
                ApiError::unavailable("too many imports in progress; retry shortly")
            }
            UploadError::Store(err) => err.into(),
            UploadError::Objects(err) => err.into(),
            UploadError::Internal(err) => ApiError::Internal(err),
        }
    }
}

impl From<fluidcloud_storage::StorageError> for ApiError {
    fn from(err: fluidcloud_storage::StorageError) -> Self {
        ApiError::unavailable_because("object store unavailable; retry shortly", err)
    }
}

/// The default detail for an error status produced outside our handlers.
pub fn detail_for_status(status: StatusCode) -> Value {
    let text = match status {
        StatusCode::NOT_FOUND => "not found",
        StatusCode::METHOD_NOT_ALLOWED => "method not allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "request body too large",
        StatusCode::REQUEST_TIMEOUT => "request timed out",
        StatusCode::INTERNAL_SERVER_ERROR => "internal server error",
        other => other.canonical_reason().unwrap_or("error"),
    };
    Value::String(text.into())
}
