//! Server-side fetching for `POST /uploads/import-url`, safe against request forgery.
//!
//! Only http and https are fetched. Every address a host name resolves to, on the first
//! request and on each redirect, must be public (not loopback, private, link-local,
//! CGNAT, multicast, reserved, or a cloud metadata address) unless the operator allows
//! private networks or lists the network in `import.allowed_networks`. Literal IP
//! addresses are checked the same way before any connection is made. The body is
//! streamed to a temporary file with a size cap and hashed on the way.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use fluidcloud_core::config::ImportSettings;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use url::Url;
use uuid::Uuid;

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

/// An IPv4 or IPv6 network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    address: IpAddr,
    prefix: u8,
}

impl std::str::FromStr for Network {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (address, prefix) = s.split_once('/').unwrap_or((s, ""));
        let address: IpAddr = address
            .parse()
            .map_err(|_| format!("{s:?} is not a CIDR block"))?;
        let max = if address.is_ipv4() { 32 } else { 128 };
        let prefix = if prefix.is_empty() {
            max
        } else {
            prefix.parse().map_err(|_| format!("{s:?}: bad prefix"))?
        };
        if prefix > max {
            return Err(format!("{s:?}: prefix longer than {max}"));
        }
        Ok(Network { address, prefix })
    }
}

impl Network {
    fn contains(&self, ip: IpAddr) -> bool {
        match (self.address, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// Whether an address is on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            // IPv4 reached through IPv6 is judged as that IPv4 address: mapped
            // (::ffff:a.b.c.d), translated (::ffff:0:a.b.c.d), NAT64 (64:ff9b::/96),
            // 6to4 (2002:aabb:ccdd::/16) and both addresses inside Teredo (2001::/32).
            let embedded = embedded_ipv4(v6);
            if !embedded.is_empty() {
                return embedded.into_iter().all(is_public_v4);
            }
            let segments = v6.segments();
            !(v6.is_loopback()
                || (segments[0] == 0x64 && segments[1] == 0xff9b) // local-use NAT64 64:ff9b:1::/48 and the rest of 64:ff9b::/32
                || segments[..4] == [0x100, 0, 0, 0] // discard-only 100::/64
                || (segments[0] == 0x2001 && segments[1] == 0x2 && segments[2] == 0) // benchmarking 2001:2::/48
                || (segments[0] == 0x2001 && (segments[1] & 0xfff0) == 0x10) // ORCHID 2001:10::/28
                || v6.is_unspecified()
                || v6.is_multicast()
                || (segments[0] & 0xfe00) == 0xfc00 // unique local, incl. fd00:ec2::254
                || (segments[0] & 0xffc0) == 0xfe80 // link-local
                || (segments[0] & 0xffc0) == 0xfec0 // site-local
                || (segments[0] == 0x2001 && segments[1] == 0x0db8) // documentation
                || segments[..6] == [0, 0, 0, 0, 0, 0]) // IPv4-compatible, ::, ::1
        }
    }
}

/// The IPv4 addresses an IPv6 address carries by a standard embedding, if any.
fn embedded_ipv4(v6: std::net::Ipv6Addr) -> Vec<Ipv4Addr> {
    let s = v6.segments();
    let v4 = |high: u16, low: u16| {
        let [a, b] = high.to_be_bytes();
        let [c, d] = low.to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    };
    if let Some(mapped) = v6.to_ipv4_mapped() {
        return vec![mapped];
    }
    match s {
        [0, 0, 0, 0, 0xffff, 0, high, low] => vec![v4(high, low)], // IPv4-translated
        [0x64, 0xff9b, 0, 0, 0, 0, high, low] => vec![v4(high, low)], // NAT64
        [0x2002, high, low, ..] => vec![v4(high, low)],            // 6to4
        // Teredo: the server's address, and the client's with every bit flipped.
        [
            0x2001,
            0,
            server_high,
            server_low,
            _,
            _,
            client_high,
            client_low,
        ] => {
            vec![v4(server_high, server_low), v4(!client_high, !client_low)]
        }
        _ => Vec::new(),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local() // 169.254/16: every cloud's metadata address
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_unspecified()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (b & 0xc0) == 64) // CGNAT 100.64/10, incl. 100.100.100.200
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b & 0xfe) == 18) // benchmarking
        || a >= 240) // reserved
}

/// Which addresses imports may reach.
#[derive(Debug, Clone)]
pub struct AddressPolicy {
    allow_private: bool,
    allowed: Vec<Network>,
}

impl AddressPolicy {
    pub fn new(settings: &ImportSettings) -> Result<Self, String> {
        Ok(AddressPolicy {
            allow_private: settings.allow_private_networks,
            allowed: settings
                .allowed_networks
                .iter()
                .map(|n| n.parse())
                .collect::<Result<_, _>>()
                .map_err(|e| format!("import.allowed_networks: {e}"))?,
        })
    }

    pub fn permits(&self, ip: IpAddr) -> bool {
        self.allow_private || is_public(ip) || self.allowed.iter().any(|n| n.contains(ip))
    }

    /// Checks a URL's scheme and, when its host is a literal address, the address.
    fn check_url(&self, url: &Url) -> Result<(), ImportError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(ImportError::BadUrl(format!(
                "only http and https URLs can be imported, not {}",
                url.scheme()
            )));
        }
        match url.host() {
            None => Err(ImportError::BadUrl("the URL has no host".into())),
            Some(url::Host::Ipv4(ip)) if !self.permits(IpAddr::V4(ip)) => {
                Err(ImportError::Forbidden("the address".into()))
            }
            Some(url::Host::Ipv6(ip)) if !self.permits(IpAddr::V6(ip)) => {
                Err(ImportError::Forbidden("the address".into()))
            }
            Some(_) => Ok(()),
        }
    }
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

    #[test]
    fn public_and_private_addresses() {
        for public in [
            "8.8.8.8",
            "1.1.1.1",
            "2606:4700::1111",
            "93.184.216.34",
            "64:ff9b::808:808",
            "2002:0808:0808::1",
            "2001:0:0808:0808::f7f7:f7f7",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
        for private in [
            "127.0.0.1",
            "127.255.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.100.100.200",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "240.0.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00:ec2::254",
            "fc00::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2001:db8::1",
            // Local-use NAT64, whatever it embeds.
            "64:ff9b:1::808:808",
            "64:ff9b:1:0a00::1",
            // IPv4-translated and 6to4 addresses judged by the IPv4 inside.
            "::ffff:0:7f00:1",
            "::ffff:0:a9fe:a9fe",
            "2002:0a00:0001::1",
            "2002:7f00:0001::",
            "2002:a9fe:a9fe:1::1",
            // Teredo with a private server or client.
            "2001:0:0a00:0001::f5ff:fffe",
            "2001:0:0808:0808::f5ff:fffe",
            "100::1",
            "2001:2::1",
            "2001:10::1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
    }

    #[test]
    fn networks_parse_and_match() {
        let net: Network = "10.20.0.0/16".parse().unwrap();
        assert!(net.contains("10.20.3.4".parse().unwrap()));
        assert!(!net.contains("10.21.0.1".parse().unwrap()));
        let single: Network = "127.0.0.1".parse().unwrap();
        assert!(single.contains("127.0.0.1".parse().unwrap()));
        assert!(!single.contains("127.0.0.2".parse().unwrap()));
        let v6: Network = "fd00::/8".parse().unwrap();
        assert!(v6.contains("fd12::1".parse().unwrap()));
        for bad in ["10.0.0.0/33", "nope", "::/129"] {
            assert!(bad.parse::<Network>().is_err(), "{bad}");
        }
    }

    #[test]
    fn only_http_and_public_literals_pass_the_url_check() {
        let policy = AddressPolicy {
            allow_private: false,
            allowed: vec![],
        };
        for bad in [
            "ftp://example.com/x",
            "file:///etc/passwd",
            "http://127.0.0.1/",
            "http://[::1]/",
            "http://169.254.169.254/",
        ] {
            assert!(
                policy.check_url(&Url::parse(bad).unwrap()).is_err(),
                "{bad}"
            );
        }
        assert!(
            policy
                .check_url(&Url::parse("https://example.com/a.png").unwrap())
                .is_ok()
        );
    }
}
