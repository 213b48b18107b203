//! Share tokens and signed download URLs, authenticated with the operator's signing
//! keys (HMAC-SHA256).
//!
//! Every token names the key that signed it, so keys rotate without killing old links:
//! add a key, make it current, retire the old one when its links may die. A token
//! whose MAC does not verify is rejected before anything is looked up, so forged
//! tokens cost the files server no database query.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::config::SigningSettings;

/// Bytes of randomness in a share token (128 bits).
const TOKEN_RANDOM_BYTES: usize = 16;
/// Bytes of MAC kept in tokens and URLs (128 bits).
const MAC_BYTES: usize = 16;

/// Signing keys that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    #[error(
        "no signing key is configured: set FLUIDCLOUD__SIGNING__KEYS__K1=<32+ random bytes> \
         and FLUIDCLOUD__SIGNING__CURRENT=k1 (see docs/configuration.md)"
    )]
    NoKey,
    #[error("signing.current names {0:?}, which is not in signing.keys")]
    UnknownCurrent(String),
    #[error("signing key {0:?} is shorter than 16 bytes")]
    TooShort(String),
    #[error("signing key id {0:?} must be 1–32 ASCII letters, digits, '-' or '_'")]
    BadId(String),
}

/// A fresh signing secret: 48 random bytes, URL-safe base64.
pub fn generate_secret() -> String {
    let mut secret = [0u8; 48];
    rand::rng().fill_bytes(&mut secret);
    URL_SAFE_NO_PAD.encode(secret)
}

/// How the owner's signed URL serves the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// `GET /files/{id}/download`: always an attachment.
    Attachment,
    /// `GET /files/{id}/preview`: inline unless the type is active.
    Inline,
}

/// What a verified download URL grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DownloadGrant {
    pub file_id: Uuid,
    /// Unix seconds after which the URL is refused.
    pub expires_at: i64,
    pub disposition: Disposition,
}

/// The operator's keys, each kept as a ready HMAC state (the key schedule is computed
/// once, not on every token checked).
#[derive(Clone)]
pub struct Signer {
    keys: BTreeMap<String, Hmac<Sha256>>,
    current: String,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("key_ids", &self.keys.keys().collect::<Vec<_>>())
            .field("current", &self.current)
            .finish()
    }
}

impl Signer {
    pub fn new(settings: &SigningSettings) -> Result<Self, SigningError> {
        let mut keys = BTreeMap::new();
        for (id, secret) in &settings.keys {
            let plain = !id.is_empty()
                && id.len() <= 32
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !plain {
                return Err(SigningError::BadId(id.clone()));
            }
            let secret = secret.expose_secret();
            if secret.len() < 16 {
                return Err(SigningError::TooShort(id.clone()));
            }
            let mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
                .map_err(|_| SigningError::TooShort(id.clone()))?;
            keys.insert(id.clone(), mac);
        }
        if settings.current.is_empty() && keys.is_empty() {
            return Err(SigningError::NoKey);
        }
        if !keys.contains_key(&settings.current) {
            return Err(SigningError::UnknownCurrent(settings.current.clone()));
        }
        Ok(Signer {
            keys,
            current: settings.current.clone(),
        })
    }

    /// The MAC state of `key_id` over `purpose` and `payload`, ready to finalize.
    fn keyed(&self, key_id: &str, purpose: &[u8], payload: &[u8]) -> Option<Hmac<Sha256>> {
        let mut mac = self.keys.get(key_id)?.clone();
        mac.update(purpose);
        mac.update(b"\0");
        mac.update(payload);
        Some(mac)
    }

    fn mac(&self, key_id: &str, purpose: &[u8], payload: &[u8]) -> Option<[u8; MAC_BYTES]> {
        let full = self
            .keyed(key_id, purpose, payload)?
            .finalize()
            .into_bytes();
        let mut short = [0u8; MAC_BYTES];
        short.copy_from_slice(&full[..MAC_BYTES]);
        Some(short)
    }

    fn verify(&self, key_id: &str, purpose: &[u8], payload: &[u8], presented: &[u8]) -> bool {
        match self.keyed(key_id, purpose, payload) {
            // `verify_truncated_left` accepts any length up to the full MAC; tokens
            // carry exactly MAC_BYTES. It compares in constant time.
            Some(mac) => {
                presented.len() == MAC_BYTES && mac.verify_truncated_left(presented).is_ok()
            }
            None => false,
        }
    }

    /// A new share token and the digest to store. The token is
    /// `<random>.<key id>.<mac>`, all URL-safe.
    pub fn mint_share_token(&self) -> (String, [u8; 32]) {
        let mut random = [0u8; TOKEN_RANDOM_BYTES];
        rand::rng().fill_bytes(&mut random);
        let random = URL_SAFE_NO_PAD.encode(random);
        let mac = self
            .mac(&self.current, b"share", random.as_bytes())
            .expect("the current key exists");
        let token = format!("{random}.{}.{}", self.current, URL_SAFE_NO_PAD.encode(mac));
        let digest = token_digest(&token);
        (token, digest)
    }

    /// Whether a share token was minted with one of our keys. Only then is it worth
    /// looking up (by [`token_digest`]).
    pub fn verify_share_token(&self, token: &str) -> bool {
        let mut parts = token.split('.');
        let (Some(random), Some(key_id), Some(mac), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return false;
        };
        if random.len() != 22 {
            return false;
        }
        let Ok(mac) = URL_SAFE_NO_PAD.decode(mac) else {
            return false;
        };
        self.verify(key_id, b"share", random.as_bytes(), &mac)
    }

    /// A signed download reference: `<payload>.<key id>.<mac>`.
    pub fn sign_download(&self, grant: &DownloadGrant) -> String {
        let mut payload = Vec::with_capacity(25);
        payload.extend_from_slice(grant.file_id.as_bytes());
        payload.extend_from_slice(&grant.expires_at.to_be_bytes());
        payload.push(match grant.disposition {
            Disposition::Attachment => b'a',
            Disposition::Inline => b'i',
        });
        let payload = URL_SAFE_NO_PAD.encode(payload);
        let mac = self
            .mac(&self.current, b"download", payload.as_bytes())
            .expect("the current key exists");
        format!("{payload}.{}.{}", self.current, URL_SAFE_NO_PAD.encode(mac))
    }

    /// The grant of a download reference whose MAC verifies (expiry is the caller's to
    /// check against its clock).
    pub fn verify_download(&self, signed: &str) -> Option<DownloadGrant> {
        let mut parts = signed.split('.');
        let (Some(payload), Some(key_id), Some(mac), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        let mac = URL_SAFE_NO_PAD.decode(mac).ok()?;
        if !self.verify(key_id, b"download", payload.as_bytes(), &mac) {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
        let bytes: [u8; 25] = bytes.try_into().ok()?;
        Some(DownloadGrant {
            file_id: Uuid::from_slice(&bytes[..16]).ok()?,
            expires_at: i64::from_be_bytes(bytes[16..24].try_into().ok()?),
            disposition: match bytes[24] {
                b'a' => Disposition::Attachment,
                b'i' => Disposition::Inline,
                _ => return None,
            },
        })
    }
}

/// What is stored for a share token: its SHA-256.
pub fn token_digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer(current: &str, keys: &[(&str, &str)]) -> Signer {
        Signer::new(&SigningSettings {
            current: current.into(),
            keys: keys
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string().into()))
                .collect(),
        })
        .unwrap()
    }

    #[test]
    fn share_tokens_verify_and_survive_rotation() {
        let old = signer("k1", &[("k1", "first secret of sixteen+")]);
        let (token, digest) = old.mint_share_token();
        assert!(old.verify_share_token(&token));
        assert_eq!(token_digest(&token), digest);
        // Rotated: k2 signs, k1 still accepted.
        let rotated = signer(
            "k2",
            &[
                ("k1", "first secret of sixteen+"),
                ("k2", "second secret sixteen+"),
            ],
        );
        assert!(rotated.verify_share_token(&token));
        let (new_token, _) = rotated.mint_share_token();
        assert!(new_token.contains(".k2."));
        // Retired: k1 gone, its tokens refused.
        let retired = signer("k2", &[("k2", "second secret sixteen+")]);
        assert!(!retired.verify_share_token(&token));
        assert!(retired.verify_share_token(&new_token));
    }

    #[test]
    fn forged_tokens_are_refused() {
        let s = signer("k1", &[("k1", "first secret of sixteen+")]);
        let (token, _) = s.mint_share_token();
        let mut chars: Vec<char> = token.chars().collect();
        chars[3] = if chars[3] == 'A' { 'B' } else { 'A' };
        let tampered: String = chars.into_iter().collect();
        for bad in [
            tampered.as_str(),
            "",
            "a.b.c",
            "x.k1.AAAAAAAAAAAAAAAAAAAAAA",
            &format!("{token}.x"),
        ] {
            assert!(!s.verify_share_token(bad), "{bad:?}");
        }
        let other = signer("k1", &[("k1", "another secret sixteen+")]);
        assert!(!other.verify_share_token(&token));
    }

    #[test]
    fn only_the_full_truncated_mac_verifies() {
        let s = signer("k1", &[("k1", "first secret of sixteen+")]);
        let (token, _) = s.mint_share_token();
        let (head, mac) = token.rsplit_once('.').unwrap();
        let mac = URL_SAFE_NO_PAD.decode(mac).unwrap();
        assert_eq!(mac.len(), MAC_BYTES);
        // A correct prefix of the MAC, or the MAC with more of the HMAC after it, is
        // not the MAC a token carries.
        let full = s
            .keyed("k1", b"share", head.split('.').next().unwrap().as_bytes())
            .unwrap()
            .finalize()
            .into_bytes();
        for presented in [
            &mac[..MAC_BYTES - 1],
            &mac[..1],
            &full[..MAC_BYTES + 1],
            &full[..],
        ] {
            let forged = format!("{head}.{}", URL_SAFE_NO_PAD.encode(presented));
            assert!(!s.verify_share_token(&forged), "{} bytes", presented.len());
        }
        let exact = format!("{head}.{}", URL_SAFE_NO_PAD.encode(&full[..MAC_BYTES]));
        assert!(s.verify_share_token(&exact));
    }

    #[test]
    fn download_grants_round_trip_and_resist_tampering() {
        let s = signer("k1", &[("k1", "first secret of sixteen+")]);
        let grant = DownloadGrant {
            file_id: Uuid::new_v4(),
            expires_at: 1_900_000_000,
            disposition: Disposition::Inline,
        };
        let signed = s.sign_download(&grant);
        assert_eq!(s.verify_download(&signed), Some(grant));
        let other = DownloadGrant {
            disposition: Disposition::Attachment,
            ..grant
        };
        let (payload, rest) = s
            .sign_download(&other)
            .split_once('.')
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
            .unwrap();
        let (_, original_rest) = signed.split_once('.').unwrap();
        // Another payload with this URL's MAC does not verify.
        assert_eq!(
            s.verify_download(&format!("{payload}.{original_rest}")),
            None
        );
        assert!(s.verify_download(&format!("{payload}.{rest}")).is_some());
    }

    #[test]
    fn bad_key_settings_are_refused() {
        let settings = |current: &str, id: &str, secret: &str| SigningSettings {
            current: current.into(),
            keys: [(id.to_string(), secret.into())].into(),
        };
        assert!(Signer::new(&settings("k2", "k1", "long enough secret!")).is_err());
        assert!(Signer::new(&settings("k1", "k1", "short")).is_err());
        assert!(Signer::new(&settings("a.b", "a.b", "long enough secret!")).is_err());
        // The shipped defaults hold no key: a service must be given one.
        let defaults: crate::config::Settings = figment::Figment::from(
            <figment::providers::Toml as figment::providers::Format>::string(
                crate::config::DEFAULT_TOML,
            ),
        )
        .extract()
        .unwrap();
        let defaults = defaults.signing;
        assert!(matches!(Signer::new(&defaults), Err(SigningError::NoKey)));
        let generated = generate_secret();
        assert!(generated.len() >= 64 && generated != generate_secret());
        assert!(Signer::new(&settings("k1", "k1", &generated)).is_ok());
    }
}
