//! Where `fluidcloud dev` listens and which URLs it hands out. By default everything is
//! on 127.0.0.1 and the URLs say so. `--listen 0.0.0.0` binds every listener to another
//! address (keeping their ports), and `--public-host HOST` makes the URLs clients are
//! given — presigned uploads, raw links, download URLs, the banner's API URL — name a
//! host other machines or containers reach. The services themselves keep talking to the
//! object store over the address it listens on (loopback when it listens on all).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// A host name or address as it goes into a URL (IPv6 addresses in brackets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicHost(String);

impl std::str::FromStr for PublicHost {
    type Err = String;

    /// A DNS name, an IPv4 address or an IPv6 address (bare or in brackets); no
    /// scheme, port or path.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.parse::<IpAddr>() {
            Ok(IpAddr::V4(ip)) => return Ok(PublicHost(ip.to_string())),
            Ok(IpAddr::V6(ip)) => return Ok(PublicHost(format!("[{ip}]"))),
            Err(_) => {}
        }
        match url::Host::parse(text) {
            Ok(host) if !text.is_empty() => Ok(PublicHost(host.to_string())),
            _ => Err(format!(
                "{text:?} is not a host name or IP address (give the host alone, without scheme, port or path)"
            )),
        }
    }
}

/// `addr` with its IP replaced by `listen` when given.
pub fn bind_addr(addr: SocketAddr, listen: Option<IpAddr>) -> SocketAddr {
    match listen {
        Some(ip) => SocketAddr::new(ip, addr.port()),
        None => addr,
    }
}

/// The URL this process uses to reach a listener bound to `bound`: its address, or
/// loopback when it listens on every address.
pub fn internal_url(bound: SocketAddr) -> String {
    let ip = match bound.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, bound.port()))
}

/// The URL clients are given for a listener bound to `bound`.
pub fn public_url(bound: SocketAddr, host: Option<&PublicHost>) -> String {
    match host {
        Some(PublicHost(host)) => format!("http://{host}:{}", bound.port()),
        None => internal_url(bound),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    #[test]
    fn public_hosts_are_names_or_addresses_alone() {
        for (text, host) in [
            ("files.internal", "files.internal"),
            ("Dev-Box.LAN", "dev-box.lan"),
            ("192.168.1.20", "192.168.1.20"),
            ("::1", "[::1]"),
            ("[fd00::2]", "[fd00::2]"),
            ("host.docker.internal", "host.docker.internal"),
        ] {
            assert_eq!(
                text.parse::<PublicHost>(),
                Ok(PublicHost(host.into())),
                "{text}"
            );
        }
        for bad in [
            "",
            "http://host",
            "host:8080",
            "host/path",
            "two words",
            "a@b",
        ] {
            assert!(bad.parse::<PublicHost>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn listeners_keep_their_ports_on_another_address() {
        let listen = Some("0.0.0.0".parse().unwrap());
        assert_eq!(
            bind_addr(addr("127.0.0.1:8080"), listen),
            addr("0.0.0.0:8080")
        );
        assert_eq!(
            bind_addr(addr("127.0.0.1:8080"), None),
            addr("127.0.0.1:8080")
        );
    }

    #[test]
    fn urls_name_the_public_host_and_the_services_use_loopback() {
        let host: PublicHost = "192.168.1.20".parse().unwrap();
        let everywhere = addr("0.0.0.0:8082");
        assert_eq!(internal_url(everywhere), "http://127.0.0.1:8082");
        assert_eq!(internal_url(addr("[::]:8082")), "http://[::1]:8082");
        assert_eq!(internal_url(addr("10.0.0.5:8082")), "http://10.0.0.5:8082");
        assert_eq!(
            public_url(everywhere, Some(&host)),
            "http://192.168.1.20:8082"
        );
        assert_eq!(public_url(everywhere, None), "http://127.0.0.1:8082");
        let v6: PublicHost = "fd00::2".parse().unwrap();
        assert_eq!(public_url(everywhere, Some(&v6)), "http://[fd00::2]:8082");
    }
}
