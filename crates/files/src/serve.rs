//! The handlers that serve bytes: share links and signed download URLs, with the
//! plain answers they share with [`crate::probes`].

use axum::body::Body;
use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use fluidcloud_core::model::{Permission, ScanStatus};
use fluidcloud_core::signing::{Disposition, token_digest};
use fluidcloud_core::time::now;
use fluidcloud_db::ShareAccess;
use fluidcloud_storage::StorageError;
use uuid::Uuid;

use crate::FilesState;
use crate::headers::{
    ALWAYS, RangeAnswer, content_disposition, http_date, if_range_allows, is_active, none_match,
    parse_range,
};
use crate::passwords::PasswordCheck;

/// A short plain-text answer that no cache keeps.
pub(crate) fn plain(status: StatusCode, text: &'static str) -> Response {
    let mut response = (status, text).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    for (name, value) in ALWAYS {
        headers.insert(name, HeaderValue::from_static(value));
    }
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}

pub(crate) fn not_found_response() -> Response {
    plain(StatusCode::NOT_FOUND, "not found\n")
}

fn gone() -> Response {
    plain(StatusCode::GONE, "this link is no longer available\n")
}

fn unavailable() -> Response {
    plain(
        StatusCode::SERVICE_UNAVAILABLE,
        "temporarily unavailable; retry shortly\n",
    )
}

/// What a response serves: where the bytes are and the headers that never change
/// between requests for it, built once (for links, once per lookup, then cached).
pub struct Served {
    object_key: String,
    /// The store's tag of the bytes that were scanned; `None` for files judged before
    /// tags were recorded.
    object_etag: Option<String>,
    size: u64,
    etag: String,
    last_modified: String,
    headers: HeaderMap,
}

impl Served {
    #[expect(
        clippy::too_many_arguments,
        reason = "every field of a response's identity"
    )]
    fn new(
        object_key: &str,
        object_etag: Option<&str>,
        size: i64,
        sha256: &str,
        mime: &str,
        name: &str,
        created_at: DateTime<Utc>,
        inline: bool,
        cache_control: &'static str,
    ) -> Self {
        let etag = format!("\"{sha256}\"");
        let last_modified = http_date(created_at);
        let mut headers = HeaderMap::new();
        for (name, value) in ALWAYS {
            headers.insert(name, HeaderValue::from_static(value));
        }
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static(cache_control),
        );
        headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        // What scripts on other origins may read beyond the CORS-safelisted headers
        // (range readers such as PDF and video players need these).
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("Accept-Ranges, Content-Range, Content-Disposition, ETag"),
        );
        if let Ok(value) = HeaderValue::from_str(&etag) {
            headers.insert(header::ETAG, value);
        }
        if let Ok(value) = HeaderValue::from_str(&last_modified) {
            headers.insert(header::LAST_MODIFIED, value);
        }
        let content_type = HeaderValue::from_str(mime)
            .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
        headers.insert(header::CONTENT_TYPE, content_type);
        if let Ok(value) = HeaderValue::from_str(&content_disposition(inline, name)) {
            headers.insert(header::CONTENT_DISPOSITION, value);
        }
        Served {
            object_key: object_key.to_owned(),
            object_etag: object_etag.map(str::to_owned),
            size: u64::try_from(size).unwrap_or(0),
            etag,
            last_modified,
            headers,
        }
    }
}

/// A link and its response, as the link cache holds them.
pub struct ServedLink {
    pub access: ShareAccess,
    served: Served,
}

impl ServedLink {
    pub fn new(access: ShareAccess, active_types: &[String]) -> Self {
        let permanent = access.expires_at.is_none()
            && access.password_hash.is_none()
            && access.max_downloads.is_none();
        let served = Served::new(
            &access.object_key,
            access.object_etag.as_deref(),
            access.size,
            &access.sha256,
            &access.mime,
            &access.original_name,
            access.file_created_at,
            access.permission == Permission::View && !is_active(&access.mime, active_types),
            if permanent {
                "public, max-age=3600"
            } else {
                "private, no-store"
            },
        );
        ServedLink { access, served }
    }
}

/// Looks a link up (the cache, or the database).
async fn load_link(
    state: &FilesState,
    digest: [u8; 32],
) -> Result<Option<Arc<ServedLink>>, fluidcloud_db::StoreError> {
    let active = &state.settings.active_types;
    state
        .shares
        .get_or_load(digest, async {
            Ok(state
                .store
                .share_access(&digest)
                .await?
                .map(|access| ServedLink::new(access, active)))
        })
        .await
}

/// `GET`/`HEAD /s/<token>`.
pub async fn share(
    State(state): State<FilesState>,
    token: Result<Path<String>, PathRejection>,
    request: axum::extract::Request,
) -> Response {
    // A path that does not even decode (`%FF`) names no link.
    let Ok(Path(token)) = token else {
        return not_found_response();
    };
    // The request itself, not copies of its method and headers: this is the hot path.
    let (method, headers) = (request.method(), request.headers());
    // A token we did not sign costs no lookup.
    if !state.signer.verify_share_token(&token) {
        return not_found_response();
    }
    let digest = token_digest(&token);
    let link = match load_link(&state, digest).await {
        Ok(Some(link)) if link.access.max_downloads.is_some() => {
            // A capped link's count moves with every download: read it fresh.
            match state.store.share_access(&digest).await {
                Ok(Some(fresh)) => Arc::new(ServedLink::new(fresh, &state.settings.active_types)),
                Ok(None) => return not_found_response(),
                Err(_) => return unavailable(),
            }
        }
        Ok(Some(link)) => link,
        Ok(None) => return not_found_response(),
        Err(err) => {
            tracing::warn!(error = %err, "link lookup failed");
            return unavailable();
        }
    };
    let access = &link.access;
    let expired = access.expires_at.is_some_and(|at| at <= now());
    let exhausted = access
        .max_downloads
        .is_some_and(|max| access.download_count >= max);
    if access.revoked || expired || exhausted {
        return gone();
    }
    if access.file_trashed || access.scan_status != ScanStatus::Clean {
        return not_found_response();
    }
    if let Some(hash) = &access.password_hash {
        let authorization = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let peer = request
            .extensions()
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|info| info.0.ip());
        let per_ip = state.settings.password_failures_per_ip;
        let now = now().timestamp();
        let minute = now - now.rem_euclid(60);
        if let Some(peer) = peer
            && per_ip > 0
            && authorization.is_some()
            && state.password_failures.count(&peer, minute) >= per_ip
        {
            return too_many_passwords(minute + 60 - now);
        }
        let checked = state
            .passwords
            .check(&state.store, access.share_id, hash, authorization)
            .await;
        if checked == PasswordCheck::Refused
            && authorization.is_some()
            && let Some(peer) = peer
        {
            state.password_failures.hit(&peer, minute);
        }
        match checked {
            PasswordCheck::Accepted => {}
            PasswordCheck::Refused => {
                let mut response = plain(StatusCode::UNAUTHORIZED, "this link needs a password\n");
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"fluidcloud\""),
                );
                return response;
            }
            PasswordCheck::Locked { retry_after } => return too_many_passwords(retry_after),
            PasswordCheck::Unavailable => return unavailable(),
        }
    }
    let counted = Some((access.share_id, access.max_downloads.is_some()));
    respond(&state, &link.served, counted, method, headers).await
}

/// 429 for a link (or an address) past its budget of wrong passwords.
fn too_many_passwords(retry_after: i64) -> Response {
    let mut response = plain(
        StatusCode::TOO_MANY_REQUESTS,
        "too many wrong passwords; retry later\n",
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, retry_after.max(1).into());
    response
}

/// `GET`/`HEAD /d/<signed>`: the owner's short-lived download and preview URLs.
pub async fn download(
    State(state): State<FilesState>,
    signed: Result<Path<String>, PathRejection>,
    request: axum::extract::Request,
) -> Response {
    let Ok(Path(signed)) = signed else {
        return not_found_response();
    };
    let (method, headers) = (request.method(), request.headers());
    let Some(grant) = state.signer.verify_download(&signed) else {
        return not_found_response();
    };
    if grant.expires_at < now().timestamp() {
        return gone();
    }
    let file = match state
        .files
        .get_or_load(grant.file_id, state.store.file_by_id(grant.file_id))
        .await
    {
        Ok(Some(file)) if file.is_servable() => file,
        Ok(_) => return not_found_response(),
        Err(err) => {
            tracing::warn!(error = %err, "file lookup failed");
            return unavailable();
        }
    };
    let inline = grant.disposition == Disposition::Inline
        && !is_active(&file.mime, &state.settings.active_types);
    let served = Served::new(
        &file.object_key,
        file.object_etag.as_deref(),
        file.size,
        &file.sha256,
        &file.mime,
        &file.original_name,
        file.created_at,
        inline,
        "private, no-store",
    );
    respond(&state, &served, None, method, headers).await
}

/// Answers a request for `served`: conditional requests, ranges, download counting
/// (for the link in `counted`, with whether it has a cap), then the bytes.
async fn respond(
    state: &FilesState,
    served: &Served,
    counted: Option<(Uuid, bool)>,
    method: &Method,
    request: &HeaderMap,
) -> Response {
    let header_str = |name: header::HeaderName| request.get(name).and_then(|v| v.to_str().ok());
    let mut headers = served.headers.clone();
    if none_match(header_str(header::IF_NONE_MATCH), &served.etag) {
        headers.remove(header::CONTENT_TYPE);
        headers.remove(header::CONTENT_DISPOSITION);
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    let range = if if_range_allows(
        header_str(header::IF_RANGE),
        &served.etag,
        &served.last_modified,
    ) {
        parse_range(header_str(header::RANGE), served.size)
    } else {
        RangeAnswer::Whole
    };
    let (status, first, last) = match range {
        RangeAnswer::Unsatisfiable => {
            let mut response = plain(StatusCode::RANGE_NOT_SATISFIABLE, "range not satisfiable\n");
            if let Ok(value) = HeaderValue::from_str(&format!("bytes */{}", served.size)) {
                response.headers_mut().insert(header::CONTENT_RANGE, value);
            }
            return response;
        }
        RangeAnswer::Whole => (StatusCode::OK, 0, served.size.saturating_sub(1)),
        RangeAnswer::Partial { first, last } => {
            if let Ok(value) =
                HeaderValue::from_str(&format!("bytes {first}-{last}/{}", served.size))
            {
                headers.insert(header::CONTENT_RANGE, value);
            }
            (StatusCode::PARTIAL_CONTENT, first, last)
        }
    };
    let length = if served.size == 0 {
        0
    } else {
        last - first + 1
    };
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));

    if *method == Method::HEAD {
        return response(status, headers, Body::empty());
    }
    // The store answers first, so an outage costs nobody a download.
    let body = match body(state, served, status == StatusCode::OK, first, last).await {
        Ok(body) => body,
        Err(StorageError::NotFound) => return not_found_response(),
        Err(err) => {
            tracing::warn!(error = %err, key = served.object_key, "object read failed");
            return unavailable();
        }
    };
    // A response from byte 0 is a download; capped links take it (exactly, in the
    // database) before any byte goes.
    if first == 0
        && let Some((share_id, capped)) = counted
    {
        if capped {
            match state.store.take_download(share_id).await {
                Ok(true) => {}
                Ok(false) => return gone(),
                Err(_) => return unavailable(),
            }
        } else {
            state.downloads.add(share_id);
        }
    }
    response(status, headers, body)
}

/// A response from parts, moving the prepared headers in rather than inserting them one
/// by one.
fn response(status: StatusCode, headers: HeaderMap, body: Body) -> Response {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}

/// The bytes `first..=last`: from the memory cache for small objects, else streamed from
/// the store with back-pressure (memory does not grow with the file).
async fn body(
    state: &FilesState,
    target: &Served,
    whole: bool,
    first: u64,
    last: u64,
) -> Result<Body, StorageError> {
    if target.size == 0 {
        return Ok(Body::empty());
    }
    if state.blobs.admits(target.size) {
        let bytes = match state.blobs.get(&target.object_key) {
            Some(bytes) => bytes,
            None => {
                let object = state.objects.get(&target.object_key, None).await?;
                check_scanned_version(target, &object)?;
                let bytes: Bytes = object
                    .body
                    .collect()
                    .await
                    .map_err(|e| StorageError::Unavailable(e.to_string()))?
                    .into_bytes();
                state.blobs.insert(&target.object_key, bytes.clone());
                bytes
            }
        };
        let end = usize::try_from(last + 1)
            .unwrap_or(usize::MAX)
            .min(bytes.len());
        let start = usize::try_from(first).unwrap_or(end).min(end);
        return Ok(Body::from(bytes.slice(start..end)));
    }
    let range = if whole { None } else { Some((first, last)) };
    let object = state.objects.get(&target.object_key, range).await?;
    check_scanned_version(target, &object)?;
    Ok(Body::new(object.body.into_inner()))
}

/// Bytes written over a key after its scan (a single-PUT URL stays valid until it
/// expires) were never judged: they are not served, as if the file were not clean.
fn check_scanned_version(
    target: &Served,
    object: &fluidcloud_storage::ObjectStream,
) -> Result<(), StorageError> {
    match &target.object_etag {
        Some(scanned) if object.etag.as_ref() != Some(scanned) => {
            tracing::warn!(
                key = target.object_key,
                scanned = scanned.as_str(),
                stored = object.etag.as_deref().unwrap_or(""),
                "object changed since it was scanned; not serving it"
            );
            Err(StorageError::NotFound)
        }
        _ => Ok(()),
    }
}
