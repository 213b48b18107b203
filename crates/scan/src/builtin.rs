//! The built-in scanner: byte patterns matched anywhere in the stream (also across
//! chunk boundaries) and SHA-256 digests of whole files, from EICAR and an optional
//! operator file.
//!
//! The signature file has one signature per line, `#` starts a comment:
//!
//! ```text
//! sha256 <64 hex digits> <name>
//! bytes  <hex digits>    <name>
//! ```

use std::path::Path;
use std::sync::Arc;

use aho_corasick::AhoCorasick;
use sha2::{Digest, Sha256};

use crate::{EICAR, Verdict};

/// A signature file that could not be used; names the line.
#[derive(Debug, thiserror::Error)]
pub enum SignatureError {
    #[error("cannot read signature file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("signature file line {line}: {message}")]
    Invalid { line: usize, message: String },
    #[error("cannot build the pattern matcher: {0}")]
    Matcher(String),
}

/// The loaded signatures.
#[derive(Debug)]
pub struct BuiltinScanner {
    matcher: AhoCorasick,
    pattern_names: Vec<String>,
    /// Longest pattern, so a match across two chunks is still seen.
    longest: usize,
    digests: Vec<([u8; 32], String)>,
    version: String,
}

impl BuiltinScanner {
    pub fn load(signatures_file: Option<&Path>) -> Result<Self, SignatureError> {
        let mut patterns = vec![EICAR.to_vec()];
        let mut pattern_names = vec!["Eicar-Test-Signature".to_owned()];
        let mut digests = Vec::new();
        let mut source = String::new();
        if let Some(path) = signatures_file {
            source = std::fs::read_to_string(path).map_err(|source| SignatureError::Read {
                path: path.display().to_string(),
                source,
            })?;
            for (index, line) in source.lines().enumerate() {
                let invalid = |message: &str| SignatureError::Invalid {
                    line: index + 1,
                    message: message.to_owned(),
                };
                let line = line.split('#').next().unwrap_or_default().trim();
                if line.is_empty() {
                    continue;
                }
                let mut fields = line.split_whitespace();
                let (Some(kind), Some(value)) = (fields.next(), fields.next()) else {
                    return Err(invalid(
                        "expected `sha256 <hex> <name>` or `bytes <hex> <name>`",
                    ));
                };
                let name = fields.collect::<Vec<_>>().join(" ");
                let name = if name.is_empty() {
                    format!("{kind}:{value}")
                } else {
                    name
                };
                let bytes = hex::decode(value).map_err(|_| invalid("the value is not hex"))?;
                match kind {
                    "sha256" => {
                        let digest: [u8; 32] = bytes
                            .try_into()
                            .map_err(|_| invalid("a SHA-256 digest has 64 hex digits"))?;
                        digests.push((digest, name));
                    }
                    "bytes" if bytes.len() >= 4 => {
                        patterns.push(bytes);
                        pattern_names.push(name);
                    }
                    "bytes" => return Err(invalid("byte patterns need at least 4 bytes")),
                    _ => return Err(invalid("unknown signature kind (expected sha256 or bytes)")),
                }
            }
        }
        let longest = patterns.iter().map(Vec::len).max().unwrap_or(1);
        let matcher =
            AhoCorasick::new(&patterns).map_err(|e| SignatureError::Matcher(e.to_string()))?;
        let fingerprint = hex::encode(&Sha256::digest(source.as_bytes())[..6]);
        let version = format!(
            "builtin/1 ({} patterns, {} digests, set {fingerprint})",
            patterns.len(),
            digests.len()
        );
        Ok(BuiltinScanner {
            matcher,
            pattern_names,
            longest,
            digests,
            version,
        })
    }

    pub fn version(&self) -> String {
        self.version.clone()
    }
}

/// One stream through the built-in scanner.
pub struct Session {
    scanner: Arc<BuiltinScanner>,
    /// The last `longest - 1` bytes seen, prepended to the next chunk.
    carry: Vec<u8>,
    found: Option<String>,
}

impl Session {
    pub(crate) fn new(scanner: Arc<BuiltinScanner>) -> Self {
        Session {
            scanner,
            carry: Vec::new(),
            found: None,
        }
    }

    pub(crate) fn feed(&mut self, chunk: &[u8]) {
        if self.found.is_some() || chunk.is_empty() {
            return;
        }
        let mut window = std::mem::take(&mut self.carry);
        window.extend_from_slice(chunk);
        if let Some(hit) = self.scanner.matcher.find(&window) {
            self.found = Some(self.scanner.pattern_names[hit.pattern().as_usize()].clone());
            return;
        }
        let keep = (self.scanner.longest - 1).min(window.len());
        window.drain(..window.len() - keep);
        self.carry = window;
    }

    pub(crate) fn finish(self, sha256: &[u8; 32]) -> Verdict {
        if let Some(name) = self.found {
            return Verdict::Infected(name);
        }
        match self
            .scanner
            .digests
            .iter()
            .find(|(digest, _)| digest == sha256)
        {
            Some((_, name)) => Verdict::Infected(name.clone()),
            None => Verdict::Clean,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(scanner: &Arc<BuiltinScanner>, chunks: &[&[u8]]) -> Verdict {
        let mut session = Session::new(Arc::clone(scanner));
        let mut hasher = Sha256::new();
        for chunk in chunks {
            session.feed(chunk);
            hasher.update(chunk);
        }
        session.finish(&hasher.finalize().into())
    }

    #[test]
    fn eicar_is_found_anywhere_and_across_chunk_boundaries() {
        let scanner = Arc::new(BuiltinScanner::load(None).unwrap());
        assert_eq!(
            scan(&scanner, &[EICAR]),
            Verdict::Infected("Eicar-Test-Signature".into())
        );
        let mut padded = vec![b'x'; 100_000];
        padded.extend_from_slice(EICAR);
        padded.extend_from_slice(&[b'y'; 100]);
        for split in [1, 50_000, 100_000, 100_001, 100_034, 100_067, 100_068] {
            let (a, b) = padded.split_at(split);
            assert!(
                matches!(scan(&scanner, &[a, b]), Verdict::Infected(_)),
                "split at {split}"
            );
        }
        // One byte at a time.
        let bytes: Vec<&[u8]> = padded.chunks(1).collect();
        assert!(matches!(scan(&scanner, &bytes), Verdict::Infected(_)));
        assert_eq!(
            scan(&scanner, &[&padded[..100_030], &padded[100_031..]]),
            Verdict::Clean
        );
    }

    #[test]
    fn operator_signatures_match_digests_and_patterns() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sigs.txt");
        let digest = hex::encode(Sha256::digest(b"exactly this file"));
        std::fs::write(
            &file,
            format!(
                "# comment\nsha256 {digest} Known.Bad\n\nbytes {} Bad.Pattern # trailing\n",
                hex::encode(b"MALWARE!")
            ),
        )
        .unwrap();
        let scanner = Arc::new(BuiltinScanner::load(Some(&file)).unwrap());
        assert_eq!(
            scan(&scanner, &[b"exactly this file"]),
            Verdict::Infected("Known.Bad".into())
        );
        assert_eq!(
            scan(&scanner, &[b"exactly", b" this file"]),
            Verdict::Infected("Known.Bad".into())
        );
        assert_eq!(
            scan(&scanner, &[b"a MALW", b"ARE! b"]),
            Verdict::Infected("Bad.Pattern".into())
        );
        assert_eq!(scan(&scanner, &[b"harmless"]), Verdict::Clean);
        assert!(scanner.version().contains("2 patterns, 1 digests"));
    }

    #[test]
    fn broken_signature_files_are_refused_with_the_line() {
        let dir = tempfile::tempdir().unwrap();
        for (content, line) in [
            ("sha256 abc X\n", 1),
            ("\nbytes zz X\n", 2),
            ("md5 00 X\n", 1),
            ("bytes 00 X", 1),
        ] {
            let file = dir.path().join("sigs.txt");
            std::fs::write(&file, content).unwrap();
            let err = BuiltinScanner::load(Some(&file)).unwrap_err();
            assert!(
                err.to_string().contains(&format!("line {line}")),
                "{content:?}: {err}"
            );
        }
        assert!(BuiltinScanner::load(Some(Path::new("/nonexistent/sigs"))).is_err());
    }
}
