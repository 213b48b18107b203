//! A bounded in-memory cache of small objects, least recently used out first.
//!
//! Object keys are never reused and their bytes never change, so an entry can only be
//! wasted, never stale.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;

#[derive(Default)]
struct Inner {
    /// key → (bytes, last use)
    entries: HashMap<Arc<str>, (Bytes, u64)>,
    /// last use → key, oldest first (the key shared with `entries`: a hit allocates nothing)
    order: BTreeMap<u64, Arc<str>>,
    used: u64,
    clock: u64,
}

pub struct BlobCache {
    capacity: u64,
    max_object: u64,
    inner: Mutex<Inner>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl BlobCache {
    pub fn new(capacity: u64, max_object: u64) -> Self {
        BlobCache {
            capacity,
            max_object: max_object.min(capacity),
            inner: Mutex::new(Inner::default()),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// Whether an object of this size is worth caching.
    pub fn admits(&self, size: u64) -> bool {
        size <= self.max_object && self.capacity > 0
    }

    pub fn get(&self, key: &str) -> Option<Bytes> {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.clock += 1;
        let now = inner.clock;
        let Some((shared_key, (bytes, used))) = inner
            .entries
            .get_key_value(key)
            .map(|(k, v)| (Arc::clone(k), v.clone()))
        else {
            self.misses.fetch_add(1, Ordering::Relaxed);
            return None;
        };
        if let Some(entry) = inner.entries.get_mut(key) {
            entry.1 = now;
        }
        inner.order.remove(&used);
        inner.order.insert(now, shared_key);
        self.hits.fetch_add(1, Ordering::Relaxed);
        Some(bytes)
    }

    pub fn insert(&self, key: &str, bytes: Bytes) {
        let size = bytes.len() as u64;
        if !self.admits(size) {
            return;
        }
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if inner.entries.contains_key(key) {
            return;
        }
        while inner.used + size > self.capacity {
            let Some((_, oldest)) = inner.order.pop_first() else {
                break;
            };
            if let Some((evicted, _)) = inner.entries.remove(&oldest) {
                inner.used -= evicted.len() as u64;
            }
        }
        inner.clock += 1;
        let now = inner.clock;
        let key: Arc<str> = Arc::from(key);
        inner.order.insert(now, Arc::clone(&key));
        inner.entries.insert(key, (bytes, now));
        inner.used += size;
    }

    pub fn hits_and_misses(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn least_recently_used_goes_first_and_the_budget_holds() {
        let cache = BlobCache::new(10, 4);
        cache.insert("a", Bytes::from_static(b"aaaa"));
        cache.insert("b", Bytes::from_static(b"bbbb"));
        assert!(cache.get("a").is_some()); // a is now newer than b
        cache.insert("c", Bytes::from_static(b"cccc")); // evicts b
        assert!(cache.get("b").is_none());
        assert_eq!(cache.get("a").unwrap(), "aaaa");
        assert_eq!(cache.get("c").unwrap(), "cccc");
        cache.insert("big", Bytes::from_static(b"too large"));
        assert!(cache.get("big").is_none());
        assert!(!cache.admits(5));
        let inner = cache.inner.lock().unwrap();
        assert!(inner.used <= 10);
        assert_eq!(inner.entries.len(), inner.order.len());
    }
}
