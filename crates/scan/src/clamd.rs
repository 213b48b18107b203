//! A clamd client: `zPING`, `zVERSION` and `zINSTREAM` over TCP or a unix socket.
//!
//! `INSTREAM` sends the stream as `<u32 big-endian length><bytes>` chunks ended by a
//! zero-length chunk; clamd answers `stream: OK`, `stream: <name> FOUND`, or an error
//! such as `INSTREAM size limit exceeded. ERROR`. Every read and write has a timeout.

use std::fmt;
use std::pin::Pin;
use std::str::FromStr;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::{ScanError, Verdict};

/// Largest chunk sent in one `INSTREAM` frame.
const FRAME: usize = 64 * 1024;
/// Longest reply read from clamd.
const MAX_REPLY: usize = 4096;

/// Where clamd listens: `tcp://host:port` (or `host:port`) or `unix:/path/clamd.sock`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClamdAddress {
    Tcp(String),
    Unix(std::path::PathBuf),
}

impl FromStr for ClamdAddress {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(path) = s
            .strip_prefix("unix://")
            .or_else(|| s.strip_prefix("unix:"))
        {
            if path.is_empty() {
                return Err("unix: address without a socket path".into());
            }
            return Ok(ClamdAddress::Unix(path.into()));
        }
        let host_port = s.strip_prefix("tcp://").unwrap_or(s);
        match host_port.rsplit_once(':') {
            Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {
                Ok(ClamdAddress::Tcp(host_port.to_owned()))
            }
            _ => Err(format!("{s:?} is not tcp://host:port or unix:/path")),
        }
    }
}

impl fmt::Display for ClamdAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClamdAddress::Tcp(addr) => write!(f, "tcp://{addr}"),
            ClamdAddress::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

trait Connection: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Connection for T {}

#[derive(Debug, Clone)]
pub struct ClamdScanner {
    address: ClamdAddress,
    timeout: Duration,
}

impl ClamdScanner {
    pub(crate) fn new(address: ClamdAddress, timeout: Duration) -> Self {
        ClamdScanner { address, timeout }
    }

    async fn connect(&self) -> Result<Pin<Box<dyn Connection>>, ScanError> {
        let unavailable =
            |e: std::io::Error| ScanError::Unavailable(format!("clamd at {}: {e}", self.address));
        let connect = async {
            Ok::<Pin<Box<dyn Connection>>, std::io::Error>(match &self.address {
                ClamdAddress::Tcp(addr) => Box::pin(tokio::net::TcpStream::connect(addr).await?),
                #[cfg(unix)]
                ClamdAddress::Unix(path) => Box::pin(tokio::net::UnixStream::connect(path).await?),
                #[cfg(not(unix))]
                ClamdAddress::Unix(_) => {
                    return Err(std::io::Error::other("unix sockets are not supported here"));
                }
            })
        };
        match tokio::time::timeout(self.timeout, connect).await {
            Ok(result) => result.map_err(unavailable),
            Err(_) => Err(ScanError::Unavailable(format!(
                "clamd at {}: connect timed out",
                self.address
            ))),
        }
    }

    /// Sends a one-word command and reads the reply.
    async fn command(&self, command: &[u8]) -> Result<String, ScanError> {
        let mut connection = self.connect().await?;
        with_timeout(self.timeout, connection.write_all(command))
            .await
            .map_err(unavailable)?;
        read_reply(&mut connection, self.timeout)
            .await
            .map_err(unavailable)
    }

    pub(crate) async fn ping(&self) -> Result<(), ScanError> {
        match self.command(b"zPING\0").await?.as_str() {
            "PONG" => Ok(()),
            other => Err(ScanError::Unavailable(format!(
                "clamd answered PING with {other:?}"
            ))),
        }
    }

    pub(crate) async fn version(&self) -> Result<String, ScanError> {
        self.command(b"zVERSION\0").await
    }

    pub(crate) async fn start(&self) -> Result<Session, ScanError> {
        let mut connection = self.connect().await?;
        with_timeout(self.timeout, connection.write_all(b"zINSTREAM\0"))
            .await
            .map_err(unavailable)?;
        Ok(Session {
            connection,
            timeout: self.timeout,
        })
    }
}

fn unavailable(err: std::io::Error) -> ScanError {
    ScanError::Unavailable(format!("clamd connection: {err}"))
}

async fn with_timeout<T>(
    limit: Duration,
    operation: impl Future<Output = std::io::Result<T>>,
) -> std::io::Result<T> {
    tokio::time::timeout(limit, operation)
        .await
        .unwrap_or_else(|_| {
            Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "timed out",
            ))
        })
}

/// Reads a NUL- or newline-terminated reply (or up to end of stream).
async fn read_reply(
    connection: &mut Pin<Box<dyn Connection>>,
    limit: Duration,
) -> std::io::Result<String> {
    let mut reply = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        let read = with_timeout(limit, connection.read(&mut byte)).await?;
        if read == 0 || byte[0] == 0 || byte[0] == b'\n' {
            break;
        }
        reply.push(byte[0]);
        if reply.len() > MAX_REPLY {
            return Err(std::io::Error::other("reply too long"));
        }
    }
    Ok(String::from_utf8_lossy(&reply).trim().to_owned())
}

/// One `INSTREAM` in progress.
pub struct Session {
    connection: Pin<Box<dyn Connection>>,
    timeout: Duration,
}

impl Session {
    pub(crate) async fn feed(&mut self, chunk: &[u8]) -> Result<(), ScanError> {
        for frame in chunk.chunks(FRAME) {
            let length = u32::try_from(frame.len())
                .expect("frames are small")
                .to_be_bytes();
            let written = async {
                self.connection.write_all(&length).await?;
                self.connection.write_all(frame).await
            };
            if let Err(err) = with_timeout(self.timeout, written).await {
                // clamd closes the stream when it refuses more (e.g. over its size
                // limit) and says why first; a verdict-less close fails the file.
                return Err(match read_reply(&mut self.connection, self.timeout).await {
                    Ok(reply) if !reply.is_empty() => parse_error(&reply),
                    _ => ScanError::Failed(format!("clamd stopped reading the stream: {err}")),
                });
            }
        }
        Ok(())
    }

    pub(crate) async fn finish(mut self) -> Result<Verdict, ScanError> {
        with_timeout(self.timeout, self.connection.write_all(&0u32.to_be_bytes()))
            .await
            .map_err(|e| ScanError::Failed(format!("clamd stream: {e}")))?;
        let reply = read_reply(&mut self.connection, self.timeout)
            .await
            .map_err(|e| ScanError::Failed(format!("clamd gave no verdict: {e}")))?;
        parse_verdict(&reply)
    }
}

fn parse_error(reply: &str) -> ScanError {
    ScanError::Failed(format!("clamd: {reply}"))
}

/// Reads `stream: OK`, `stream: <name> FOUND` or an error reply.
fn parse_verdict(reply: &str) -> Result<Verdict, ScanError> {
    let body = reply
        .strip_prefix("stream:")
        .map(str::trim)
        .unwrap_or(reply);
    if body == "OK" {
        Ok(Verdict::Clean)
    } else if let Some(name) = body.strip_suffix(" FOUND") {
        let name = name.trim();
        // `AlertExceedsMax yes` names what clamd could not scan to the end: not a
        // virus, and not a clean verdict either.
        if name.starts_with("Heuristics.Limits.Exceeded") {
            return Err(ScanError::Failed(format!(
                "too large for clamd's limits ({name}); raise StreamMaxLength, MaxFileSize and MaxScanSize"
            )));
        }
        Ok(Verdict::Infected(name.to_owned()))
    } else {
        Err(parse_error(reply))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse() {
        assert_eq!(
            "tcp://127.0.0.1:3310".parse(),
            Ok(ClamdAddress::Tcp("127.0.0.1:3310".into()))
        );
        assert_eq!(
            "clamav:3310".parse(),
            Ok(ClamdAddress::Tcp("clamav:3310".into()))
        );
        assert_eq!(
            "unix:/run/clamd.sock".parse(),
            Ok(ClamdAddress::Unix("/run/clamd.sock".into()))
        );
        assert_eq!(
            "unix:///run/clamd.sock".parse(),
            Ok(ClamdAddress::Unix("/run/clamd.sock".into()))
        );
        for bad in ["", "unix:", "tcp://nohost", "host:port", ":3310"] {
            assert!(bad.parse::<ClamdAddress>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn replies_parse_and_fail_closed() {
        assert_eq!(parse_verdict("stream: OK"), Ok(Verdict::Clean));
        assert_eq!(
            parse_verdict("stream: Test.EICAR.UNOFFICIAL FOUND"),
            Ok(Verdict::Infected("Test.EICAR.UNOFFICIAL".into()))
        );
        assert!(matches!(
            parse_verdict("INSTREAM size limit exceeded. ERROR"),
            Err(ScanError::Failed(_))
        ));
        assert!(matches!(
            parse_verdict("stream: Heuristics.Limits.Exceeded.MaxFileSize FOUND"),
            Err(ScanError::Failed(reason)) if reason.contains("MaxFileSize")
        ));
        assert!(matches!(parse_verdict(""), Err(ScanError::Failed(_))));
        assert!(matches!(
            parse_verdict("stream: something odd"),
            Err(ScanError::Failed(_))
        ));
    }
}
