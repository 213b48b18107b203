//! Lookups cached in memory and kept honest by the change feed.
//!
//! Each process caches what it looked up (found or not) for a while; the change feed
//! evicts entries the moment something they depend on changes anywhere. While the
//! feed is disconnected nothing is served from the cache, so a change is never missed
//! for longer than the feed takes to report it.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use crate::backend::Store;
use crate::error::StoreResult;

struct Entry<V> {
    value: Option<Arc<V>>,
    expires: Instant,
}

/// A bounded map of lookups, `K` → `V` or "not there".
pub struct LookupCache<K, V> {
    store: Store,
    ttl: Duration,
    max_entries: usize,
    entries: RwLock<HashMap<K, Entry<V>>>,
    /// Bumped by every eviction, so a lookup that raced one does not cache its
    /// possibly stale answer.
    generation: AtomicU64,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl<K: Eq + Hash + Clone, V> LookupCache<K, V> {
    pub fn new(store: Store, ttl: Duration, max_entries: usize) -> Self {
        LookupCache {
            store,
            ttl,
            max_entries: max_entries.max(1),
            entries: RwLock::new(HashMap::new()),
            generation: AtomicU64::new(0),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// The cached value of `key`, or what `load` finds (then cached).
    pub async fn get_or_load<F>(&self, key: K, load: F) -> StoreResult<Option<Arc<V>>>
    where
        F: Future<Output = StoreResult<Option<V>>>,
    {
        let trusted = self.store.change_feed_is_live();
        if trusted {
            let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
            if let Some(entry) = entries.get(&key)
                && entry.expires > Instant::now()
            {
                self.hits.fetch_add(1, Ordering::Relaxed);
                return Ok(entry.value.clone());
            }
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let generation = self.generation.load(Ordering::SeqCst);
        let value = load.await?.map(Arc::new);
        if trusted && self.generation.load(Ordering::SeqCst) == generation {
            self.insert(key, value.clone());
        }
        Ok(value)
    }

    fn insert(&self, key: K, value: Option<Arc<V>>) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= self.max_entries && !entries.contains_key(&key) {
            let now = Instant::now();
            entries.retain(|_, entry| entry.expires > now);
            if entries.len() >= self.max_entries {
                entries.clear();
            }
        }
        let expires = Instant::now() + self.ttl;
        entries.insert(key, Entry { value, expires });
    }

    /// Drops every entry `doomed` names (it sees the key and the cached value, if any).
    pub fn evict(&self, doomed: impl Fn(&K, Option<&V>) -> bool) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        entries.retain(|key, entry| !doomed(key, entry.value.as_deref()));
    }

    /// Drops everything.
    pub fn clear(&self) {
        self.evict(|_, _| true);
    }

    /// Lookups answered from the cache and from the database so far.
    pub fn hits_and_misses(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }
}
