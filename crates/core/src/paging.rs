//! Keyset paging for list endpoints (SPEC §3: `limit`, `cursor`, `X-Next-Cursor`).
//!
//! Lists are ordered by `(created_at, id)`, so a cursor is simply the last item's pair,
//! encoded opaquely. Keyset paging stays correct while items are added or removed
//! between pages, which offset paging does not.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// Largest page a client may ask for.
pub const MAX_PAGE_SIZE: u32 = 1000;

/// 9999-12-31T23:59:59.999999Z, the latest time a cursor can carry.
const MAX_CURSOR_MICROS: i64 = 253_402_300_799_999_999;

/// The position after which the next page starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub created_at: DateTime<Utc>,
    pub id: Uuid,
}

/// A cursor string that we did not issue.
#[derive(Debug, thiserror::Error)]
#[error("cursor: not a cursor issued by this server")]
pub struct InvalidCursor;

impl Cursor {
    pub fn encode(&self) -> String {
        let mut bytes = [0u8; 24];
        bytes[..8].copy_from_slice(&self.created_at.timestamp_micros().to_be_bytes());
        bytes[8..].copy_from_slice(self.id.as_bytes());
        URL_SAFE_NO_PAD.encode(bytes)
    }

    pub fn decode(s: &str) -> Result<Self, InvalidCursor> {
        let bytes = URL_SAFE_NO_PAD.decode(s).map_err(|_| InvalidCursor)?;
        let bytes: [u8; 24] = bytes.try_into().map_err(|_| InvalidCursor)?;
        let micros = i64::from_be_bytes(bytes[..8].try_into().map_err(|_| InvalidCursor)?);
        // We only issue times of rows we wrote; anything outside years 1970–9999 is
        // forged, and PostgreSQL would refuse some of it as out of range.
        if !(0..=MAX_CURSOR_MICROS).contains(&micros) {
            return Err(InvalidCursor);
        }
        let created_at = DateTime::from_timestamp_micros(micros).ok_or(InvalidCursor)?;
        let id = Uuid::from_slice(&bytes[8..]).map_err(|_| InvalidCursor)?;
        Ok(Cursor { created_at, id })
    }
}

/// Which slice of a list to return. The default is the whole list.
#[derive(Debug, Clone, Copy, Default)]
pub struct PageRequest {
    /// At most this many items; `None` returns every matching item.
    pub limit: Option<u32>,
    /// Start strictly after this position.
    pub after: Option<Cursor>,
}

impl PageRequest {
    /// The SQL `LIMIT` to use: one more than asked, to learn whether a next page exists.
    pub fn fetch_limit(&self) -> i64 {
        self.limit.map_or(i64::MAX, |l| i64::from(l) + 1)
    }
}

/// One page of results and, when more items exist, where the next page starts.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<Cursor>,
}

/// Something listed in `(created_at, id)` order.
pub trait Keyed {
    fn cursor(&self) -> Cursor;
}

impl<T: Keyed> Page<T> {
    /// Trims the extra item fetched by [`PageRequest::fetch_limit`] and turns it into
    /// the next cursor.
    pub fn from_fetched(mut items: Vec<T>, request: &PageRequest) -> Self {
        let next = match request.limit {
            Some(limit) if items.len() > limit as usize => {
                items.truncate(limit as usize);
                items.last().map(Keyed::cursor)
            }
            _ => None,
        };
        Page { items, next }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip() {
        let cursor = Cursor {
            created_at: crate::time::now(),
            id: Uuid::new_v4(),
        };
        assert_eq!(Cursor::decode(&cursor.encode()).unwrap(), cursor);
    }

    #[test]
    fn foreign_cursors_are_refused() {
        for bad in ["", "abc", "!!!!", &URL_SAFE_NO_PAD.encode([0u8; 23])] {
            assert!(Cursor::decode(bad).is_err(), "{bad:?}");
        }
        // Well-formed, but at times no row of ours can have.
        for micros in [
            -1i64,
            -100_000_000_000_000_000,
            MAX_CURSOR_MICROS + 1,
            i64::MAX,
        ] {
            let mut bytes = [0u8; 24];
            bytes[..8].copy_from_slice(&micros.to_be_bytes());
            assert!(
                Cursor::decode(&URL_SAFE_NO_PAD.encode(bytes)).is_err(),
                "{micros}"
            );
        }
        let mut latest = [0u8; 24];
        latest[..8].copy_from_slice(&MAX_CURSOR_MICROS.to_be_bytes());
        assert!(Cursor::decode(&URL_SAFE_NO_PAD.encode(latest)).is_ok());
    }
}
