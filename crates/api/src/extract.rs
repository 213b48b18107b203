//! Request extractors whose rejections are [`ApiError`]s in the SPEC's terms: a body
//! over the limit is 413, malformed JSON, wrong types and bad ids are 422 naming the
//! field, and unknown body fields are ignored.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use fluidcloud_core::lenient;
use fluidcloud_core::paging::{Cursor, MAX_PAGE_SIZE, PageRequest};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use uuid::Uuid;

use crate::error::ApiError;

/// A JSON request body. The `Content-Type` is not required: the SDK and curl users
/// send JSON either way, and the body is parsed as JSON regardless.
pub struct Json<T>(pub T);

impl<S, T> FromRequest<S> for Json<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::PayloadTooLarge("JSON body larger than the 1 MiB limit".into())
                } else {
                    ApiError::BadRequest(format!("could not read the request body: {rejection}"))
                }
            })?;
        parse_json(&bytes).map(Json)
    }
}

/// Parses a JSON object, naming the offending field when the shape is wrong.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|err| ApiError::Unprocessable(format!("malformed JSON body: {err}")))?;
    if !value.is_object() {
        return Err(ApiError::Unprocessable(
            "body: expected a JSON object".into(),
        ));
    }
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        if path == "." {
            ApiError::Unprocessable(format!("body: {inner}"))
        } else {
            ApiError::Unprocessable(format!("{path}: {inner}"))
        }
    })
}

/// Query parameters; an unparsable value is 422 naming the parameter.
pub struct Query<T>(pub T);

impl<S, T> FromRequestParts<S> for Query<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        let deserializer =
            serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(deserializer)
            .map(Query)
            .map_err(|err| {
                let path = err.path().to_string();
                let inner = err.into_inner();
                if path == "." {
                    ApiError::Unprocessable(format!("query: {inner}"))
                } else {
                    ApiError::Unprocessable(format!("{path}: {inner}"))
                }
            })
    }
}

/// The `{id}` segment of a path, which must be a UUID.
pub struct PathId(pub Uuid);

impl<S: Send + Sync> FromRequestParts<S> for PathId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(raw) =
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map_err(|_| ApiError::Unprocessable("id: missing from the path".into()))?;
        raw.parse()
            .map(PathId)
            .map_err(|_| ApiError::Unprocessable(format!("id: {raw:?} is not a valid UUID")))
    }
}

/// `limit` and `cursor`, accepted by every list endpoint.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Paging {
    /// Page size, 1–1000. Without it the whole list is returned.
    #[serde(default, deserialize_with = "lenient::opt_int")]
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// The `X-Next-Cursor` header of the previous page (32 characters, base64url);
    /// empty means the first page. A cursor this server did not issue is 422.
    // The pattern admits every cursor issued for rows written before the year ~9600
    // (first 8 bytes: a non-negative microsecond time below 56·2^52), and nothing the
    // decoder refuses.
    #[param(pattern = "^(A[A-Za-z0-3][A-Za-z0-9_-]{30})?$")]
    pub cursor: Option<String>,
}

impl Paging {
    pub fn to_request(&self) -> Result<PageRequest, ApiError> {
        if let Some(limit) = self.limit
            && !(1..=MAX_PAGE_SIZE).contains(&limit)
        {
            return Err(ApiError::Unprocessable(format!(
                "limit: must be between 1 and {MAX_PAGE_SIZE}"
            )));
        }
        let after = match self.cursor.as_deref() {
            None | Some("") => None,
            Some(cursor) => {
                Some(Cursor::decode(cursor).map_err(|e| ApiError::Unprocessable(e.to_string()))?)
            }
        };
        Ok(PageRequest {
            limit: self.limit,
            after,
        })
    }
}

/// For PATCH bodies: an absent field is `None`, an explicit `null` is `Some(None)`.
pub fn explicit_null<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Body {
        #[expect(dead_code, reason = "only parsed")]
        name: String,
        #[serde(default, deserialize_with = "explicit_null")]
        parent_id: Option<Option<Uuid>>,
    }

    #[test]
    fn json_errors_name_the_field() {
        let err = parse_json::<Body>(br#"{"name": 5}"#).unwrap_err();
        assert!(err.to_string().starts_with("name: invalid type"), "{err}");
        let err = parse_json::<Body>(br#"{"name": "a", "parent_id": "x"}"#).unwrap_err();
        assert!(err.to_string().starts_with("parent_id: "), "{err}");
        let err = parse_json::<Body>(br#"{"name": "#).unwrap_err();
        assert!(err.to_string().starts_with("malformed JSON"), "{err}");
        let err = parse_json::<Body>(br#"{}"#).unwrap_err();
        assert!(err.to_string().contains("missing field `name`"), "{err}");
    }

    #[test]
    fn absent_and_null_differ() {
        let absent: Body = parse_json(br#"{"name": "a"}"#).unwrap();
        assert_eq!(absent.parent_id, None);
        let null: Body = parse_json(br#"{"name": "a", "parent_id": null, "extra": 1}"#).unwrap();
        assert_eq!(null.parent_id, Some(None));
    }
}
