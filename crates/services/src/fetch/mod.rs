//! Server-side fetching for `POST /uploads/import-url`, safe against request forgery.
//!
//! Only http and https are fetched. Every address a host name resolves to, on the first
//! request and on each redirect, must be public (not loopback, private, link-local,
//! CGNAT, multicast, reserved, or a cloud metadata address) unless the operator allows
//! private networks or lists the network in `import.allowed_networks`. Literal IP
//! addresses are checked the same way before any connection is made. The body is
//! streamed to a temporary file with a size cap and hashed on the way.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use fluidcloud_core::config::ImportSettings;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use url::Url;
use uuid::Uuid;

mod address;

pub use address::{AddressPolicy, Network, is_public};

/// Why an import could not be fetched. Every variant is the client's URL's doing.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("url: {0}")]
    BadUrl(String),
    /// Names the host as the client wrote it, never what it resolved to.
    #[error("url: {0} is not on the public internet")]
    Forbidden(String),
    #[error("the URL answered HTTP {0}")]
    Status(u16),
    /// Over `limit` bytes; `size` when the URL announced it.
    #[error("the file is larger than {limit} bytes")]
    TooLarge { limit: u64, size: Option<u64> },
    #[error("fetching the URL failed: {0}")]
    Fetch(String),
    #[error("too many imports in progress; retry shortly")]
    Busy,
    #[error("the URL did not answer within {0} seconds")]
    Timeout(u64),
    #[error("temporary storage failed: {0}")]
    Local(#[from] std::io::Error),
}

/// Resolves names and refuses any whose addresses are not all permitted, so a name
/// cannot smuggle a private address in (also on redirects, which resolve again).
struct CheckedResolver {
    policy: Arc<AddressPolicy>,
}

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = Arc::clone(&self.policy);
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addresses: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if addresses.is_empty() {
                return Err(format!("{host} has no addresses").into());
            }
            if addresses.iter().any(|a| !policy.permits(a.ip())) {
                return Err(
                    // The name only: what an internal name resolves to is none of the
                    // client's business.
                    Box::new(ForbiddenAddress(host)) as Box<dyn std::error::Error + Send + Sync>,
                );
            }
            Ok(Box::new(addresses.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct ForbiddenAddress(String);

/// A downloaded file in a temporary file.
pub struct Fetched {
    pub file: tempfile::TempPath,
    pub size: u64,
    pub sha256: String,
    pub content_type: Option<String>,
    /// The last path segment of the final URL, when it makes a usable name.
    pub name_hint: Option<String>,
    /// One of `import.max_concurrent`, held as long as the temporary file lives.
    _slot: tokio::sync::OwnedSemaphorePermit,
    /// One of the tenant's `import.max_concurrent_per_tenant`, likewise.
    _tenant_slot: TenantSlot,
}

/// Imports in progress per tenant.
type TenantSlots = Arc<std::sync::Mutex<std::collections::HashMap<Uuid, usize>>>;

/// A tenant's share of the import slots, given back when dropped.
struct TenantSlot {
    slots: TenantSlots,
    tenant: Uuid,
}

impl TenantSlot {
    fn take(slots: &TenantSlots, tenant: Uuid, limit: usize) -> Option<TenantSlot> {
        let mut held = slots.lock().unwrap_or_else(|e| e.into_inner());
        let count = held.entry(tenant).or_default();
        if *count >= limit {
            return None;
        }
        *count += 1;
        Some(TenantSlot {
            slots: Arc::clone(slots),
            tenant,
        })
    }
}

impl Drop for TenantSlot {
    fn drop(&mut self) {
        let mut held = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = held.get_mut(&self.tenant) {
            *count -= 1;
            if *count == 0 {
                held.remove(&self.tenant);
            }
        }
    }
}

/// The HTTP client for imports.
#[derive(Clone)]
pub struct Importer {
    client: reqwest::Client,
    policy: Arc<AddressPolicy>,
    timeout: Duration,
    /// Imports holding temporary files may not exceed `import.max_concurrent`.
    slots: Arc<tokio::sync::Semaphore>,
    /// Nor `import.max_concurrent_per_tenant` for any one tenant.
    tenant_slots: TenantSlots,
    per_tenant: usize,
}

impl Importer {
    pub fn new(settings: &ImportSettings) -> anyhow::Result<Self> {
        let policy = Arc::new(AddressPolicy::new(settings).map_err(anyhow::Error::msg)?);
        let redirect_policy = Arc::clone(&policy);
        let max_redirects = settings.max_redirects;
        let client = reqwest::Client::builder()
            .dns_resolver(Arc::new(CheckedResolver {
                policy: Arc::clone(&policy),
            }))
            .redirect(reqwest::redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() > max_redirects {
                    return attempt.error(format!("more than {max_redirects} redirects"));
                }
                match redirect_policy.check_url(attempt.url()) {
                    Ok(()) => attempt.follow(),
                    Err(err) => attempt.error(err.to_string()),
                }
            }))
            .no_proxy()
            .user_agent(concat!("fluidcloud-import/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Importer {
            client,
            policy,
            timeout: Duration::from_secs(settings.timeout_secs),
            slots: Arc::new(tokio::sync::Semaphore::new(settings.max_concurrent.max(1))),
            tenant_slots: TenantSlots::default(),
            per_tenant: settings.max_concurrent_per_tenant.max(1),
        })
    }

    /// Downloads `url` for `tenant` into a temporary file of at most `max_bytes`.
    pub async fn fetch(
        &self,
        tenant: Uuid,
        url: &str,
        max_bytes: u64,
    ) -> Result<Fetched, ImportError> {
        let url = Url::parse(url).map_err(|e| ImportError::BadUrl(e.to_string()))?;
        self.policy.check_url(&url)?;
        // The tenant's share first: a tenant at its limit never takes a global slot.
        let tenant_slot = TenantSlot::take(&self.tenant_slots, tenant, self.per_tenant)
            .ok_or(ImportError::Busy)?;
        let slot = Arc::clone(&self.slots)
            .try_acquire_owned()
            .map_err(|_| ImportError::Busy)?;
        let slots = (slot, tenant_slot);
        tokio::time::timeout(self.timeout, self.download(url, max_bytes, slots))
            .await
            .unwrap_or(Err(ImportError::Timeout(self.timeout.as_secs())))
    }

    async fn download(
        &self,
        url: Url,
        max_bytes: u64,
        (slot, tenant_slot): (tokio::sync::OwnedSemaphorePermit, TenantSlot),
    ) -> Result<Fetched, ImportError> {
        let response = self.client.get(url).send().await.map_err(describe)?;
        if !response.status().is_success() {
            return Err(ImportError::Status(response.status().as_u16()));
        }
        if let Some(length) = response.content_length()
            && length > max_bytes
        {
            return Err(ImportError::TooLarge {
                limit: max_bytes,
                size: Some(length),
            });
        }
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let name_hint = response
            .url()
            .path_segments()
            .and_then(|mut segments| segments.next_back().map(str::to_owned))
            .map(|segment| percent_decode(&segment))
            .filter(|name| fluidcloud_core::names::validate_entry_name(name).is_ok());
        let temp = tempfile::NamedTempFile::new()?;
        let (std_file, path) = temp.into_parts();
        let mut file = tokio::fs::File::from_std(std_file);
        let mut hasher = Sha256::new();
        let mut size: u64 = 0;
        let mut body = response.bytes_stream();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(describe)?;
            size += chunk.len() as u64;
            if size > max_bytes {
                return Err(ImportError::TooLarge {
                    limit: max_bytes,
                    size: None,
                });
            }
            hasher.update(&chunk);
            file.write_all(&chunk).await?;
        }
        file.flush().await?;
        Ok(Fetched {
            file: path,
            size,
            sha256: hex::encode(hasher.finalize()),
            content_type,
            name_hint,
            _slot: slot,
            _tenant_slot: tenant_slot,
        })
    }
}

/// Names what went wrong without leaking more than the client's own URL told.
fn describe(err: reqwest::Error) -> ImportError {
    let mut source: Option<&dyn std::error::Error> = Some(&err);
    while let Some(cause) = source {
        if let Some(forbidden) = cause.downcast_ref::<ForbiddenAddress>() {
            return ImportError::Forbidden(forbidden.0.clone());
        }
        source = cause.source();
    }
    if err.is_redirect() {
        let reason =
            std::error::Error::source(&err).map_or_else(|| err.to_string(), ToString::to_string);
        if reason.contains("not on the public internet") {
            return ImportError::Forbidden("a redirect's target".into());
        }
        return ImportError::Fetch(reason);
    }
    ImportError::Fetch(err.without_url().to_string())
}

/// A path segment's `%XX` escapes decoded (`+` and `&` are themselves in a path, unlike
/// in a form); bytes that are not UTF-8 become U+FFFD.
fn percent_decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| segment.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                decoded.push(byte);
                i += 3;
            }
            None => {
                decoded.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_decode_as_paths() {
        assert_eq!(percent_decode("a+b%20c.pdf"), "a+b c.pdf");
        assert_eq!(percent_decode("r%C3%A9sum%C3%A9&co"), "résumé&co");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("%FF"), "\u{FFFD}");
    }
}
