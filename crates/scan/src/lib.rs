//! Virus scanning and content-type detection.
//!
//! A [`Scanner`] is either the built-in signature scanner (EICAR plus an operator list
//! of SHA-256 digests and byte patterns) or a clamd daemon reached over TCP or a unix
//! socket with `INSTREAM`. Both scan a stream chunk by chunk in constant memory, and
//! both fail closed: an error, a timeout or a size limit is never "clean".

mod builtin;
mod clamd;
pub mod mime;

use std::sync::Arc;
use std::time::Duration;

pub use builtin::{BuiltinScanner, SignatureError};
pub use clamd::ClamdAddress;

/// The 68-byte EICAR anti-virus test string.
pub const EICAR: &[u8] = br"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

/// What a scan decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Clean,
    /// Names the signature that matched.
    Infected(String),
}

/// Why a scan gave no verdict.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScanError {
    /// The scanner cannot be reached; the file should stay pending and be retried.
    #[error("scanner unavailable: {0}")]
    Unavailable(String),
    /// The scanner answered but could not decide (error, timeout, size limit): the
    /// file fails closed.
    #[error("scan failed: {0}")]
    Failed(String),
}

/// A configured scanner. Cheap to clone.
#[derive(Debug, Clone)]
pub enum Scanner {
    Builtin(Arc<BuiltinScanner>),
    Clamd(clamd::ClamdScanner),
}

impl Scanner {
    /// The built-in scanner with the EICAR signature and, when given, the operator's
    /// signature file.
    pub fn builtin(signatures_file: Option<&std::path::Path>) -> Result<Self, SignatureError> {
        Ok(Scanner::Builtin(Arc::new(BuiltinScanner::load(
            signatures_file,
        )?)))
    }

    /// A clamd client; nothing is connected until a scan starts.
    pub fn clamd(address: ClamdAddress, timeout: Duration) -> Self {
        Scanner::Clamd(clamd::ClamdScanner::new(address, timeout))
    }

    /// Names the scanner and its signature version, e.g. `clamd ClamAV 1.4.6/27000/…`.
    /// Recorded with every verdict so files judged by older signatures can be found.
    pub async fn version(&self) -> Result<String, ScanError> {
        match self {
            Scanner::Builtin(builtin) => Ok(builtin.version()),
            Scanner::Clamd(clamd) => clamd.version().await.map(|v| format!("clamd {v}")),
        }
    }

    /// Checks the scanner answers (clamd `PING`), for readiness probes.
    pub async fn ping(&self) -> Result<(), ScanError> {
        match self {
            Scanner::Builtin(_) => Ok(()),
            Scanner::Clamd(clamd) => clamd.ping().await,
        }
    }

    /// Starts scanning one stream.
    pub async fn start(&self) -> Result<ScanSession, ScanError> {
        Ok(match self {
            Scanner::Builtin(builtin) => {
                ScanSession::Builtin(builtin::Session::new(Arc::clone(builtin)))
            }
            Scanner::Clamd(clamd) => ScanSession::Clamd(Box::new(clamd.start().await?)),
        })
    }
}

/// One stream being scanned: feed it every chunk in order, then finish.
pub enum ScanSession {
    Builtin(builtin::Session),
    Clamd(Box<clamd::Session>),
}

impl ScanSession {
    pub async fn feed(&mut self, chunk: &[u8]) -> Result<(), ScanError> {
        match self {
            ScanSession::Builtin(session) => {
                session.feed(chunk);
                Ok(())
            }
            ScanSession::Clamd(session) => session.feed(chunk).await,
        }
    }

    /// The verdict. `sha256` is the digest of everything fed, which the built-in
    /// scanner compares with its digest signatures.
    pub async fn finish(self, sha256: &[u8; 32]) -> Result<Verdict, ScanError> {
        match self {
            ScanSession::Builtin(session) => Ok(session.finish(sha256)),
            ScanSession::Clamd(session) => session.finish().await,
        }
    }
}
