//! Which addresses an import may reach: the public internet, unless the operator
//! allows private networks or lists some. IPv6 forms that carry an IPv4 address are
//! judged as that address.

use std::net::{IpAddr, Ipv4Addr};

use fluidcloud_core::config::ImportSettings;
use url::Url;

use super::ImportError;

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
    pub(super) allow_private: bool,
    pub(super) allowed: Vec<Network>,
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
    pub(super) fn check_url(&self, url: &Url) -> Result<(), ImportError> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
