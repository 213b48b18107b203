//! Link passwords: HTTP Basic credentials checked with Argon2id, successes remembered
//! briefly so a player fetching a video in many ranges pays for one hash. Checks run
//! within the process's Argon2 bound (see `fluidcloud_core::passwords`).
//!
//! Wrong passwords are budgeted per link, counted in the metadata database so every
//! files server shares the count: past [`FAILURES_PER_MINUTE`] in a minute the link
//! answers 429 until the minute ends, and past [`FAILURES_PER_HOUR`] in an hour until
//! the hour ends (the backoff grows). A locked link costs no hash.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use fluidcloud_db::Store;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Wrong passwords a link takes per minute before it locks until the minute ends.
pub const FAILURES_PER_MINUTE: i64 = 10;
/// Wrong passwords a link takes per hour before it locks until the hour ends.
pub const FAILURES_PER_HOUR: i64 = 30;
const MINUTE_BUCKET: &str = "link_password_minute";
const HOUR_BUCKET: &str = "link_password_hour";

/// How a password check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordCheck {
    Accepted,
    /// Missing or wrong (counted against the link's budget).
    Refused,
    /// Too many wrong passwords lately: retry after this many seconds.
    Locked {
        retry_after: i64,
    },
    /// The budget cannot be read (database down): refused, closed.
    Unavailable,
}

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
    /// name is accepted), within the link's budget of wrong passwords.
    pub async fn check(
        &self,
        store: &Store,
        share_id: Uuid,
        hash: &str,
        authorization: Option<&str>,
    ) -> PasswordCheck {
        let Some(password) = authorization.and_then(basic_password) else {
            // Asking for the password is not a guess.
            return PasswordCheck::Refused;
        };
        let key = (share_id, Sha256::digest(password.as_bytes()).into());
        {
            let verified = self.verified.lock().unwrap_or_else(|e| e.into_inner());
            if verified
                .get(&key)
                .is_some_and(|until| *until > Instant::now())
            {
                return PasswordCheck::Accepted;
            }
        }
        let now = chrono::Utc::now().timestamp();
        let (minute, hour) = (now - now.rem_euclid(60), now - now.rem_euclid(3600));
        let failures = tokio::try_join!(
            store.rate_count(share_id, MINUTE_BUCKET, minute),
            store.rate_count(share_id, HOUR_BUCKET, hour),
        );
        match failures {
            Err(err) => {
                tracing::warn!(error = %err, "cannot read a link's password budget");
                return PasswordCheck::Unavailable;
            }
            Ok((_, hourly)) if hourly >= FAILURES_PER_HOUR => {
                return PasswordCheck::Locked {
                    retry_after: hour + 3600 - now,
                };
            }
            Ok((minutely, _)) if minutely >= FAILURES_PER_MINUTE => {
                return PasswordCheck::Locked {
                    retry_after: minute + 60 - now,
                };
            }
            Ok(_) => {}
        }
        let ok = password.len() <= MAX_PASSWORD_BYTES
            && fluidcloud_core::passwords::verify_password_bounded(password, hash.to_owned()).await;
        if !ok {
            let counted = tokio::try_join!(
                store.count_request(share_id, minute, &[MINUTE_BUCKET]),
                store.count_request(share_id, hour, &[HOUR_BUCKET]),
            );
            if let Err(err) = counted {
                tracing::warn!(error = %err, "cannot count a wrong link password");
            }
            return PasswordCheck::Refused;
        }
        if ok {
            let mut verified = self.verified.lock().unwrap_or_else(|e| e.into_inner());
            if verified.len() >= MAX_ENTRIES {
                verified.clear();
            }
            verified.insert(key, Instant::now() + self.ttl);
        }
        PasswordCheck::Accepted
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
