//! Lookups cached in memory and kept honest by the change feed.
//!
//! Each process caches what it looked up (found or not) for a while; the change feed
//! evicts entries the moment something they depend on changes anywhere. While the
//! feed is disconnected nothing is served from the cache and nothing is added to it,
//! so a change is never missed for longer than the feed takes to report it.
//!
//! The entries live in a [`quick_cache`] bounded to `max_entries` (its S3-FIFO-style
//! policy): when it is full, each new entry pushes out one entry, preferring those
//! that were never hit since they were cached over those that were. Expired entries
//! are not swept: a lookup that finds one loads afresh and overwrites it, and the
//! bound pushes out the rest.

use std::hash::Hash;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use quick_cache::sync::Cache;

use crate::backend::Store;
use crate::error::StoreResult;

struct Entry<V> {
    value: Option<Arc<V>>,
    expires: Instant,
}

// Not derived: a derive would demand `V: Clone`, and only the `Arc` is cloned.
impl<V> Clone for Entry<V> {
    fn clone(&self) -> Self {
        Entry {
            value: self.value.clone(),
            expires: self.expires,
        }
    }
}

/// A bounded map of lookups, `K` → `V` or "not there".
pub struct LookupCache<K, V> {
    store: Store,
    ttl: Duration,
    entries: Cache<K, Entry<V>>,
    /// Bumped by every eviction, so a lookup that raced one does not cache its
    /// possibly stale answer.
    generation: AtomicU64,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl<K: Eq + Hash + Clone, V> LookupCache<K, V> {
    /// A cache of at most `max_entries` lookups (at least one), each trusted for `ttl`
    /// while `store`'s change feed is live.
    pub fn new(store: Store, ttl: Duration, max_entries: usize) -> Self {
        LookupCache {
            store,
            ttl,
            entries: Cache::new(max_entries.max(1)),
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
        if trusted
            && let Some(entry) = self.entries.get(&key)
            && entry.expires > Instant::now()
        {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(entry.value);
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let generation = self.generation.load(Ordering::SeqCst);
        let value = load.await?.map(Arc::new);
        if trusted && self.generation.load(Ordering::SeqCst) == generation {
            let entry = Entry {
                value: value.clone(),
                expires: Instant::now() + self.ttl,
            };
            self.entries.insert(key.clone(), entry);
            // An eviction that started between the check above and the insert may
            // have swept past this key already; it has bumped the generation first,
            // so looking again catches it.
            if self.generation.load(Ordering::SeqCst) != generation {
                self.entries.remove(&key);
            }
        }
        Ok(value)
    }

    /// Drops every entry `doomed` names (it sees the key and the cached value, if any).
    pub fn evict(&self, doomed: impl Fn(&K, Option<&V>) -> bool) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.entries
            .retain(|key, entry| !doomed(key, entry.value.as_deref()));
    }

    /// Drops everything.
    pub fn clear(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.entries.clear();
    }

    /// Lookups answered from the cache and from the database so far.
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
    use crate::ConnectOptions;

    /// A migrated store on a fresh SQLite file, with its feed live when `live`.
    async fn store(dir: &tempfile::TempDir, live: bool) -> Store {
        let url = format!("sqlite://{}", dir.path().join("cache.db").display());
        let store = Store::connect(&url, &ConnectOptions::default())
            .await
            .unwrap();
        store.migrate().await.unwrap();
        if live {
            store.start_change_feed();
            while !store.change_feed_is_live() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        store
    }

    async fn found(value: u32) -> StoreResult<Option<u32>> {
        Ok(Some(value))
    }

    #[tokio::test]
    async fn hits_until_evicted() {
        let dir = tempfile::tempdir().unwrap();
        let cache = LookupCache::new(store(&dir, true).await, Duration::from_secs(60), 10);
        assert_eq!(*cache.get_or_load(1, found(10)).await.unwrap().unwrap(), 10);
        assert_eq!(*cache.get_or_load(1, found(11)).await.unwrap().unwrap(), 10);
        cache.evict(|key, value| *key == 1 && value == Some(&10));
        assert_eq!(*cache.get_or_load(1, found(12)).await.unwrap().unwrap(), 12);
        cache.clear();
        assert_eq!(*cache.get_or_load(1, found(13)).await.unwrap().unwrap(), 13);
        assert_eq!(cache.hits_and_misses(), (1, 3));
    }

    #[tokio::test]
    async fn misses_are_cached_and_expire() {
        let dir = tempfile::tempdir().unwrap();
        let cache = LookupCache::new(store(&dir, true).await, Duration::from_millis(100), 10);
        assert!(
            cache
                .get_or_load(1, async { Ok(None) })
                .await
                .unwrap()
                .is_none()
        );
        assert!(cache.get_or_load(1, found(1)).await.unwrap().is_none());
        tokio::time::sleep(Duration::from_millis(110)).await;
        assert_eq!(*cache.get_or_load(1, found(2)).await.unwrap().unwrap(), 2);
        assert_eq!(cache.hits_and_misses(), (1, 2));
    }

    #[tokio::test]
    async fn nothing_is_cached_while_the_feed_is_down() {
        let dir = tempfile::tempdir().unwrap();
        let cache = LookupCache::new(store(&dir, false).await, Duration::from_secs(60), 10);
        assert_eq!(*cache.get_or_load(1, found(1)).await.unwrap().unwrap(), 1);
        assert_eq!(*cache.get_or_load(1, found(2)).await.unwrap().unwrap(), 2);
        assert_eq!(cache.hits_and_misses(), (0, 2));
        assert!(cache.entries.is_empty());
    }

    #[tokio::test]
    async fn an_answer_that_raced_an_eviction_is_not_cached() {
        let dir = tempfile::tempdir().unwrap();
        let cache = LookupCache::new(store(&dir, true).await, Duration::from_secs(60), 10);
        let stale = async {
            // The change lands while this answer is on its way.
            cache.evict(|key, _| *key == 1);
            Ok(Some(1))
        };
        assert_eq!(*cache.get_or_load(1, stale).await.unwrap().unwrap(), 1);
        assert_eq!(*cache.get_or_load(1, found(2)).await.unwrap().unwrap(), 2);
        assert_eq!(*cache.get_or_load(1, found(3)).await.unwrap().unwrap(), 2);
    }

    #[tokio::test]
    async fn the_bound_holds_and_a_full_cache_keeps_most_entries() {
        let dir = tempfile::tempdir().unwrap();
        let cache = LookupCache::new(store(&dir, true).await, Duration::from_secs(60), 100);
        for key in 0..1000 {
            cache.get_or_load(key, found(key)).await.unwrap();
            assert!(cache.entries.len() <= 100);
        }
        // Full, it pushes out one entry per new one instead of starting over.
        assert!(cache.entries.len() >= 90, "{}", cache.entries.len());
    }
}
