//! The API key format: `fck_live_<secret>` / `fck_test_<secret>` (SPEC §1). New keys
//! carry 32 lowercase hex characters (128 random bits), as the hosted service's keys
//! do; keys minted in the earlier format (40 letters and digits) keep working, so
//! parsing accepts any 32–128 ASCII letters and digits.
//!
//! Keys are high-entropy random strings, so a plain SHA-256 digest is enough to store
//! them (a slow password hash would only make every request slower). The plaintext
//! exists once, when the key is minted.

use std::fmt;

use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Random bytes in a minted key's secret, written as twice as many hex characters.
const SECRET_BYTES: usize = 16;
/// Shortest secret accepted when parsing (SPEC: at least 32 characters).
const MIN_SECRET_LEN: usize = 32;
/// Longest secret accepted when parsing; longer input is not a key of ours.
const MAX_SECRET_LEN: usize = 128;
/// Secret characters kept in the displayable prefix.
const PREFIX_SECRET_CHARS: usize = 4;

/// Whether a key acts on live data or is a test key (ours: both behave the same;
/// the mode is a label partners use to keep them apart).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum KeyMode {
    Live,
    Test,
}

impl KeyMode {
    pub const fn as_str(self) -> &'static str {
        match self {
            KeyMode::Live => "live",
            KeyMode::Test => "test",
        }
    }
}

impl fmt::Display for KeyMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A key mode other than `live` or `test`.
#[derive(Debug, thiserror::Error)]
#[error("unknown key mode {0:?} (expected live or test)")]
pub struct UnknownKeyMode(pub String);

impl std::str::FromStr for KeyMode {
    type Err = UnknownKeyMode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "live" => Ok(KeyMode::Live),
            "test" => Ok(KeyMode::Test),
            other => Err(UnknownKeyMode(other.to_owned())),
        }
    }
}

crate::sql_text::text_column!(KeyMode);

/// SHA-256 of the whole key string: the only form in which keys are stored.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyDigest(pub [u8; 32]);

impl fmt::Debug for KeyDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Digests are not secrets, but short forms keep logs readable.
        write!(f, "KeyDigest({})", &hex::encode(self.0)[..12])
    }
}

/// A syntactically valid key presented by a client. It may still be unknown or revoked.
pub struct PresentedKey<'a> {
    raw: &'a str,
    mode: KeyMode,
}

impl<'a> PresentedKey<'a> {
    /// Checks the shape of a key without touching any store: a wrong prefix, a short
    /// secret or stray characters are refused here.
    pub fn parse(raw: &'a str) -> Option<Self> {
        let (mode, secret) = if let Some(secret) = raw.strip_prefix("fck_live_") {
            (KeyMode::Live, secret)
        } else if let Some(secret) = raw.strip_prefix("fck_test_") {
            (KeyMode::Test, secret)
        } else {
            return None;
        };
        let valid = (MIN_SECRET_LEN..=MAX_SECRET_LEN).contains(&secret.len())
            && secret.bytes().all(|b| b.is_ascii_alphanumeric());
        valid.then_some(PresentedKey { raw, mode })
    }

    pub fn mode(&self) -> KeyMode {
        self.mode
    }

    pub fn digest(&self) -> KeyDigest {
        KeyDigest(Sha256::digest(self.raw.as_bytes()).into())
    }
}

/// A freshly minted key. The plaintext must be shown once and then dropped.
pub struct MintedKey {
    pub plaintext: String,
    pub prefix: String,
    pub digest: KeyDigest,
}

impl MintedKey {
    pub fn generate(mode: KeyMode) -> Self {
        let mut bytes = [0u8; SECRET_BYTES];
        rand::rng().fill_bytes(&mut bytes);
        let secret = hex::encode(bytes);
        let plaintext = format!("fck_{mode}_{secret}");
        let prefix = format!("fck_{mode}_{}", &secret[..PREFIX_SECRET_CHARS]);
        let digest = KeyDigest(Sha256::digest(plaintext.as_bytes()).into());
        MintedKey {
            plaintext,
            prefix,
            digest,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_keys_parse_back_to_the_same_digest() {
        for mode in [KeyMode::Live, KeyMode::Test] {
            let key = MintedKey::generate(mode);
            let parsed = PresentedKey::parse(&key.plaintext).expect("minted key parses");
            assert_eq!(parsed.mode(), mode);
            assert!(parsed.digest() == key.digest);
            assert!(key.plaintext.starts_with(&key.prefix));
        }
    }

    #[test]
    fn minted_keys_have_32_lowercase_hex_characters_of_secret() {
        for (mode, prefix) in [(KeyMode::Live, "fck_live_"), (KeyMode::Test, "fck_test_")] {
            let key = MintedKey::generate(mode);
            let secret = key
                .plaintext
                .strip_prefix(prefix)
                .expect("the mode's prefix");
            assert_eq!(secret.len(), 32, "{}", key.plaintext);
            assert!(
                secret
                    .bytes()
                    .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
                "{}",
                key.plaintext
            );
            assert_eq!(key.prefix.len(), prefix.len() + PREFIX_SECRET_CHARS);
        }
        assert_ne!(
            MintedKey::generate(KeyMode::Live).plaintext,
            MintedKey::generate(KeyMode::Live).plaintext
        );
    }

    #[test]
    fn keys_of_the_earlier_format_still_parse() {
        let earlier = "fck_live_Ab3dEf7hIj1lMn0pQr5tUv9xYz2bCd4fGh6jKl8n";
        assert_eq!(earlier.len(), "fck_live_".len() + 40);
        let parsed = PresentedKey::parse(earlier).expect("an earlier key parses");
        assert_eq!(parsed.mode(), KeyMode::Live);
    }

    #[test]
    fn malformed_keys_are_refused() {
        let secret = "a".repeat(32);
        assert!(PresentedKey::parse(&format!("fck_live_{secret}")).is_some());
        for bad in [
            format!("fck_prod_{secret}"),
            format!("FCK_live_{secret}"),
            format!("sk_live_{secret}"),
            format!("fck_live_{}", "a".repeat(31)),
            format!("fck_live_{}", "a".repeat(129)),
            format!("fck_live_{}-", "a".repeat(32)),
            format!("fck_live_ {secret}"),
            String::new(),
        ] {
            assert!(PresentedKey::parse(&bad).is_none(), "{bad:?}");
        }
    }
}
