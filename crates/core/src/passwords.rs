//! Share-link passwords, stored as Argon2id PHC strings.
//!
//! Argon2id is deliberately slow; it is used for these low-entropy, human-chosen
//! passwords only, never for API keys (which are random and looked up by digest).
//! Each run holds ~19 MiB for a few milliseconds, so the async forms run at most one per
//! core at a time in a process, off the async workers: a flood of requests carrying
//! passwords queues instead of exhausting memory.

use std::sync::{Arc, LazyLock};

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

/// Hashes a password with a fresh salt.
pub fn hash_password(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("Argon2 hashes any password with default parameters")
        .to_string()
}

/// Runs of Argon2 in flight in this process.
static HASHING: LazyLock<Arc<tokio::sync::Semaphore>> = LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    Arc::new(tokio::sync::Semaphore::new(cores))
});

/// Runs `work` on the blocking pool once a hashing slot is free. The slot goes with
/// the work, so a caller that gives up (a client hanging up) frees it only when the
/// hash is done. `None` if the work panicked.
async fn bounded<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let permit = Arc::clone(&HASHING).acquire_owned().await.ok()?;
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        work()
    })
    .await
    .ok()
}

/// [`hash_password`] within the process's hashing bound.
pub async fn hash_password_bounded(password: String) -> Option<String> {
    bounded(move || hash_password(&password)).await
}

/// [`verify_password`] within the process's hashing bound.
pub async fn verify_password_bounded(password: String, hash: String) -> bool {
    bounded(move || verify_password(&password, &hash))
        .await
        .unwrap_or(false)
}

/// Whether `password` matches a stored hash; an unreadable hash matches nothing.
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_only_their_password() {
        let hash = hash_password("correct horse");
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("correct hors", &hash));
        assert!(!verify_password("correct horse", "not a hash"));
        assert_ne!(hash, hash_password("correct horse"), "salted");
    }

    #[tokio::test]
    async fn many_bounded_checks_at_once_all_answer() {
        let hash = hash_password_bounded("s3cret".into()).await.unwrap();
        let checks = (0..8).map(|i| {
            let password = if i % 2 == 0 { "s3cret" } else { "wrong" };
            tokio::spawn(verify_password_bounded(password.into(), hash.clone()))
        });
        for (i, check) in checks.enumerate() {
            assert_eq!(check.await.unwrap(), i % 2 == 0);
        }
    }
}
