//! Link passwords: HTTP Basic credentials checked with Argon2id, successes remembered
//! briefly so a player fetching a video in many ranges pays for one hash. Checks run
//! within the process's Argon2 bound (see `fluidcloud_core::passwords`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Most remembered successes; the table is cleared when full.
const MAX_ENTRIES: usize = 10_000;

/// Longest password worth hashing, in bytes: links take at most 128 characters of at
/// most 4 bytes each, so anything longer cannot match.
const MAX_PASSWORD_BYTES: usize = 512;

pub struct PasswordCache {
    ttl: Duration,
    verified: Mutex<HashMap<(Uuid, [u8; 32]), Instant>>,
}

impl PasswordCache {
    pub fn new(ttl: Duration) -> Self {
        PasswordCache {
            ttl,
            verified: Mutex::new(HashMap::new()),
        }
    }

    /// Whether the request's Basic credentials carry the link's password (any user
    /// name is accepted).
    pub async fn check(&self, share_id: Uuid, hash: &str, authorization: Option<&str>) -> bool {
        let Some(password) = authorization.and_then(basic_password) else {
            return false;
        };
        if password.len() > MAX_PASSWORD_BYTES {
            return false;
        }
        let key = (share_id, Sha256::digest(password.as_bytes()).into());
        {
            let verified = self.verified.lock().unwrap_or_else(|e| e.into_inner());
            if verified
                .get(&key)
                .is_some_and(|until| *until > Instant::now())
            {
                return true;
            }
        }
        let ok =
            fluidcloud_core::passwords::verify_password_bounded(password, hash.to_owned()).await;
        if ok {
            let mut verified = self.verified.lock().unwrap_or_else(|e| e.into_inner());
            if verified.len() >= MAX_ENTRIES {
                verified.clear();
            }
            verified.insert(key, Instant::now() + self.ttl);
        }
        ok
    }
}

/// The password of an `Authorization: Basic` header.
fn basic_password(header: &str) -> Option<String> {
    let (scheme, encoded) = header.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (_, password) = text.split_once(':')?;
    Some(password.to_owned())
}

#[cfg(test)]
mod tests {
    use super::basic_password;

    #[test]
    fn basic_credentials_parse() {
        assert_eq!(
            basic_password("Basic dXNlcjpzM2NyZXQ="),
            Some("s3cret".into())
        );
        assert_eq!(
            basic_password("basic OnBhc3M6d29yZA=="),
            Some("pass:word".into())
        );
        assert_eq!(basic_password("Bearer abc"), None);
        assert_eq!(basic_password("Basic !!!"), None);
        assert_eq!(basic_password("Basic bm9jb2xvbg=="), None);
    }
}
