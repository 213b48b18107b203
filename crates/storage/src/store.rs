//! The S3 client: presigning, multipart, HEAD, ranged streaming GET, delete.

mod delete;

use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::config::StalledStreamProtectionConfig;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use fluidcloud_core::config::{ExposeSecret, SecretString};

/// Where the store is and how to sign for it.
#[derive(Debug, Clone)]
pub struct StoreSettings {
    /// Endpoint the services use, e.g. `http://seaweedfs:8333`.
    pub endpoint: String,
    /// Endpoint clients use for presigned URLs (the signature covers the host), when it
    /// differs from `endpoint`.
    pub public_endpoint: Option<String>,
    pub region: String,
    pub bucket: String,
    pub access_key_id: String,
    pub secret_access_key: SecretString,
    /// Path-style addressing (`endpoint/bucket/key`); most self-hosted stores need it.
    pub force_path_style: bool,
    pub timeouts: StoreTimeouts,
}

/// How long the store may take before a call fails as `Unavailable`.
#[derive(Debug, Clone, Copy)]
pub struct StoreTimeouts {
    /// Opening a connection.
    pub connect: Duration,
    /// A whole request until the store answers (reads: until the body starts),
    /// retries included. Not applied to [`ObjectStore::put`], whose body may be large.
    pub request: Duration,
    /// A transfer with no bytes moving.
    pub stall: Duration,
}

impl Default for StoreTimeouts {
    fn default() -> Self {
        StoreTimeouts {
            connect: Duration::from_secs(3),
            request: Duration::from_secs(30),
            stall: Duration::from_secs(20),
        }
    }
}

/// What went wrong talking to the store, in terms a caller can act on.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// No such object (or multipart upload).
    #[error("object not found")]
    NotFound,
    /// The store refused the request as invalid (bad part list, wrong size, …).
    #[error("the object store refused the request: {0}")]
    Rejected(String),
    /// The store could not be reached or failed; retrying later may work.
    #[error("object store unavailable: {0}")]
    Unavailable(String),
}

pub type StorageResult<T> = Result<T, StorageError>;

/// Classifies an SDK error: 404-ish codes are `NotFound`, other 4xx `Rejected`, the rest
/// (timeouts, connection errors, 5xx) `Unavailable`.
fn classify<E>(err: SdkError<E, HttpResponse>) -> StorageError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let status = match &err {
        SdkError::ServiceError(service) => Some(service.raw().status().as_u16()),
        _ => None,
    };
    let code = err.code().map(str::to_owned);
    let message = match (&code, err.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.clone(),
        _ => aws_sdk_s3::error::DisplayErrorContext(&err).to_string(),
    };
    match (code.as_deref(), status) {
        // A bucket that is not there is a broken deployment, not a missing object:
        // nothing may conclude that bytes are gone (and fail files or drop deletions).
        (Some("NoSuchBucket"), _) => StorageError::Unavailable(message),
        (Some("NoSuchKey" | "NoSuchUpload" | "NotFound"), _) | (_, Some(404)) => {
            StorageError::NotFound
        }
        (_, Some(status)) if (400..500).contains(&status) => StorageError::Rejected(message),
        _ => StorageError::Unavailable(message),
    }
}

/// A presigned single PUT: the URL and the headers the client must send exactly.
#[derive(Debug, Clone)]
pub struct PresignedPut {
    pub url: String,
    pub headers: Vec<(String, String)>,
}

/// What a HEAD tells about an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectInfo {
    pub size: u64,
}

/// An object's bytes (or a range of them) as they arrive from the store.
pub struct ObjectStream {
    pub body: ByteStream,
    /// Bytes in `body`.
    pub length: u64,
    /// The store's entity tag of the whole object (also on ranged reads): it changes
    /// when the key is written again.
    pub etag: Option<String>,
}

/// A client for one bucket.
#[derive(Clone, Debug)]
pub struct ObjectStore {
    client: Client,
    presigner: Client,
    bucket: String,
    timeouts: StoreTimeouts,
}

fn client(settings: &StoreSettings, endpoint: &str) -> Client {
    let credentials = Credentials::new(
        &settings.access_key_id,
        settings.secret_access_key.expose_secret(),
        None,
        None,
        "fluidcloud-config",
    );
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(settings.region.clone()))
        .endpoint_url(endpoint)
        .credentials_provider(credentials)
        .force_path_style(settings.force_path_style)
        .http_client(http)
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(settings.timeouts.connect)
                .operation_timeout(settings.timeouts.request)
                .build(),
        )
        .stalled_stream_protection(
            StalledStreamProtectionConfig::enabled()
                .grace_period(settings.timeouts.stall)
                .build(),
        )
        // Only compute and validate checksums where S3 requires them: several
        // S3-compatible stores reject the newer default checksum headers.
        .request_checksum_calculation(aws_sdk_s3::config::RequestChecksumCalculation::WhenRequired)
        .response_checksum_validation(aws_sdk_s3::config::ResponseChecksumValidation::WhenRequired)
        .build();
    Client::from_conf(config)
}

impl ObjectStore {
    pub fn new(settings: &StoreSettings) -> Self {
        let internal = client(settings, &settings.endpoint);
        let presigner = match &settings.public_endpoint {
            Some(public) if public != &settings.endpoint => client(settings, public),
            _ => internal.clone(),
        };
        ObjectStore {
            client: internal,
            presigner,
            bucket: settings.bucket.clone(),
            timeouts: settings.timeouts,
        }
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// Creates the bucket unless it exists (for the embedded store and tests; operators
    /// create theirs).
    pub async fn ensure_bucket(&self) -> StorageResult<()> {
        match self.client.head_bucket().bucket(&self.bucket).send().await {
            Ok(_) => Ok(()),
            Err(_) => match self
                .client
                .create_bucket()
                .bucket(&self.bucket)
                .send()
                .await
            {
                Ok(_) => Ok(()),
                Err(err) => match classify(err) {
                    // Created meanwhile by someone else.
                    StorageError::Rejected(message) if message.contains("BucketAlready") => Ok(()),
                    other => Err(other),
                },
            },
        }
    }

    /// One round-trip to the store, for readiness probes.
    pub async fn ping(&self) -> StorageResult<()> {
        self.client
            .head_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .map(drop)
            .map_err(classify)
    }

    /// A PUT URL that only accepts exactly `content_length` bytes of `content_type`.
    pub async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        content_length: u64,
        valid_for: Duration,
    ) -> StorageResult<PresignedPut> {
        let length = i64::try_from(content_length)
            .map_err(|_| StorageError::Rejected("object too large".into()))?;
        let presigned = self
            .presigner
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .content_length(length)
            .presigned(presigning(valid_for)?)
            .await
            .map_err(classify)?;
        Ok(PresignedPut {
            url: presigned.uri().to_owned(),
            headers: presigned
                .headers()
                .map(|(name, value)| (name.to_owned(), value.to_owned()))
                .collect(),
        })
    }

    /// A GET URL for the object, valid for `valid_for`.
    pub async fn presign_get(&self, key: &str, valid_for: Duration) -> StorageResult<String> {
        let presigned = self
            .presigner
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(presigning(valid_for)?)
            .await
            .map_err(classify)?;
        Ok(presigned.uri().to_owned())
    }

    /// Starts a multipart upload and returns its id.
    pub async fn create_multipart(&self, key: &str, content_type: &str) -> StorageResult<String> {
        let created = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .send()
            .await
            .map_err(classify)?;
        created
            .upload_id
            .ok_or_else(|| StorageError::Unavailable("the store returned no upload id".into()))
    }

    /// A PUT URL for one part of a multipart upload, signed for exactly
    /// `content_length` bytes: the store refuses a part of any other size.
    pub async fn presign_part(
        &self,
        key: &str,
        upload_id: &str,
        part_number: i32,
        content_length: u64,
        valid_for: Duration,
    ) -> StorageResult<String> {
        let length = i64::try_from(content_length)
            .map_err(|_| StorageError::Rejected("part too large".into()))?;
        let presigned = self
            .presigner
            .upload_part()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .part_number(part_number)
            .content_length(length)
            .presigned(presigning(valid_for)?)
            .await
            .map_err(classify)?;
        Ok(presigned.uri().to_owned())
    }

    /// Completes a multipart upload from the client's `(part number, ETag)` list.
    pub async fn complete_multipart(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[(i32, String)],
    ) -> StorageResult<()> {
        let parts = parts
            .iter()
            .map(|(number, etag)| {
                CompletedPart::builder()
                    .part_number(*number)
                    .e_tag(etag)
                    .build()
            })
            .collect();
        self.client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map(drop)
            .map_err(classify)
    }

    /// Aborts a multipart upload; one that no longer exists is already aborted.
    pub async fn abort_multipart(&self, key: &str, upload_id: &str) -> StorageResult<()> {
        match self
            .client
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .send()
            .await
            .map_err(classify)
        {
            Ok(_) | Err(StorageError::NotFound) => Ok(()),
            Err(other) => Err(other),
        }
    }

    /// The object's size, or `None` when it does not exist.
    pub async fn head(&self, key: &str) -> StorageResult<Option<ObjectInfo>> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(classify)
        {
            Ok(head) => Ok(Some(ObjectInfo {
                size: head
                    .content_length
                    .and_then(|l| u64::try_from(l).ok())
                    .unwrap_or(0),
            })),
            Err(StorageError::NotFound) => Ok(None),
            Err(other) => Err(other),
        }
    }

    /// Streams the object, or the inclusive byte range `first..=last` of it.
    pub async fn get(&self, key: &str, range: Option<(u64, u64)>) -> StorageResult<ObjectStream> {
        let mut request = self.client.get_object().bucket(&self.bucket).key(key);
        if let Some((first, last)) = range {
            request = request.range(format!("bytes={first}-{last}"));
        }
        let object = request.send().await.map_err(classify)?;
        let length = object
            .content_length
            .and_then(|l| u64::try_from(l).ok())
            .unwrap_or(0);
        Ok(ObjectStream {
            body: object.body,
            length,
            etag: object.e_tag,
        })
    }

    /// Stores `body` (of `length` bytes) under `key`.
    pub async fn put(
        &self,
        key: &str,
        content_type: &str,
        body: ByteStream,
        length: u64,
    ) -> StorageResult<()> {
        let length =
            i64::try_from(length).map_err(|_| StorageError::Rejected("object too large".into()))?;
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .content_length(length)
            .body(body)
            .customize()
            // A large body takes as long as it takes; a dead store is caught by the
            // connect timeout and the stall protection instead.
            .config_override(
                aws_sdk_s3::config::Builder::default().timeout_config(
                    TimeoutConfig::builder()
                        .connect_timeout(self.timeouts.connect)
                        .build(),
                ),
            )
            .send()
            .await
            .map(drop)
            .map_err(classify)
    }

    /// Every key under `prefix`, page by page (for reconciliation).
    pub async fn list_keys(&self, prefix: &str) -> StorageResult<Vec<String>> {
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(prefix)
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(classify)?;
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|object| object.key().map(str::to_owned)),
            );
            match page.next_continuation_token() {
                Some(next) if page.is_truncated() == Some(true) => token = Some(next.to_owned()),
                _ => return Ok(keys),
            }
        }
    }

    /// Deletes the object; deleting a missing object succeeds. For many objects,
    /// [`ObjectStore::delete_many`].
    pub async fn delete(&self, key: &str) -> StorageResult<()> {
        match self
            .client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(classify)
        {
            Ok(_) | Err(StorageError::NotFound) => Ok(()),
            Err(other) => Err(other),
        }
    }
}

fn presigning(valid_for: Duration) -> StorageResult<PresigningConfig> {
    PresigningConfig::expires_in(valid_for)
        .map_err(|e| StorageError::Rejected(format!("invalid presigning duration: {e}")))
}

impl From<&fluidcloud_core::config::StorageSettings> for StoreSettings {
    fn from(storage: &fluidcloud_core::config::StorageSettings) -> Self {
        StoreSettings {
            endpoint: storage.endpoint.clone(),
            public_endpoint: Some(storage.public_endpoint.clone()).filter(|e| !e.is_empty()),
            region: storage.region.clone(),
            bucket: storage.bucket.clone(),
            access_key_id: storage.access_key_id.clone(),
            secret_access_key: storage.secret_access_key.clone(),
            force_path_style: storage.force_path_style,
            timeouts: StoreTimeouts {
                connect: Duration::from_secs(storage.connect_timeout_secs),
                request: Duration::from_secs(storage.request_timeout_secs),
                stall: Duration::from_secs(storage.stall_timeout_secs),
            },
        }
    }
}
