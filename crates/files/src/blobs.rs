//! A bounded in-memory cache of small objects, its budget counted in bytes.
//!
//! Object keys are never reused and their bytes never change, so an entry can only be
//! wasted, never stale.
//!
//! The entries live in a [`quick_cache`] weighed by their length. A hit takes only a
//! shard's read lock, so concurrent hits do not wait for each other. When the budget
//! is full, an insert pushes out entries until the new one fits, preferring those never
//! hit since they were cached over those that were (its S3-FIFO-style policy).
//!
//! The cache is split into shards, each with an equal part of the budget. An object
//! must fit in one shard's part, so there are only as many shards as keep
//! [`OBJECTS_PER_SHARD`] of the largest objects in each; a small budget gets one.

use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use quick_cache::sync::Cache;
use quick_cache::{DefaultHashBuilder, OptionsBuilder, Weighter};

/// How many objects of the largest cached size each shard's budget holds at least.
const OBJECTS_PER_SHARD: u64 = 16;

/// At most this many shards, however large the budget.
const MAX_SHARDS: u64 = 16;

/// The share of a shard's budget kept for its "hot" entries (`quick_cache`'s default).
/// `quick_cache` never admits an object larger than this share of a shard.
const HOT_ALLOCATION: f64 = 0.97;

/// Weighs an entry by its length in bytes.
#[derive(Debug, Clone, Copy)]
struct ByLength;

impl Weighter<Box<str>, Bytes> for ByLength {
    fn weight(&self, _key: &Box<str>, bytes: &Bytes) -> u64 {
        bytes.len() as u64
    }
}

/// Small objects by object key, within a budget of bytes. Shared by every request.
pub struct BlobCache {
    capacity: u64,
    max_object: u64,
    entries: Cache<Box<str>, Bytes, ByLength>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl BlobCache {
    /// A cache of at most `capacity` bytes, of objects of at most `max_object` bytes
    /// (and no larger than one shard admits: [`BlobCache::admits`] tells).
    pub fn new(capacity: u64, max_object: u64) -> Self {
        let max_object = max_object.min(capacity);
        let shards = prev_power_of_two(
            (capacity / max_object.saturating_mul(OBJECTS_PER_SHARD).max(1)).clamp(1, MAX_SHARDS),
        );
        // A whole number of bytes per shard: the shards together never exceed the budget.
        let shard_capacity = capacity / shards;
        let options = OptionsBuilder::new()
            .shards(usize::try_from(shards).unwrap_or(1))
            .weight_capacity(shard_capacity * shards)
            // Only shapes the shard count and how many evicted keys are remembered;
            // objects are guessed at a quarter of the largest size on average.
            .estimated_items_capacity(
                usize::try_from(capacity / (max_object / 4).max(1)).unwrap_or(usize::MAX),
            )
            .hot_allocation(HOT_ALLOCATION)
            .build()
            .expect("every option is set");
        let entries = Cache::with_options(
            options,
            ByLength,
            DefaultHashBuilder::default(),
            Default::default(),
        );
        // What a shard admits, as `quick_cache` computes it (at least one byte).
        let admitted = ((shard_capacity as f64 * HOT_ALLOCATION) as u64)
            .clamp(shard_capacity.min(1), shard_capacity);
        BlobCache {
            capacity,
            max_object: max_object.min(admitted),
            entries,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// Whether an object of this size is worth caching.
    pub fn admits(&self, size: u64) -> bool {
        size <= self.max_object && self.capacity > 0
    }

    /// The bytes cached under `key`, counted as a hit or a miss.
    pub fn get(&self, key: &str) -> Option<Bytes> {
        let found = self.entries.get(key);
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Caches an object, if [`BlobCache::admits`] its size, pushing out others as the
    /// budget requires.
    pub fn insert(&self, key: &str, bytes: Bytes) {
        // An empty entry would weigh nothing and so never be pushed out.
        if bytes.is_empty() || !self.admits(bytes.len() as u64) {
            return;
        }
        self.entries.insert(Box::from(key), bytes);
    }

    /// Lookups answered from memory and not, so far.
    pub fn hits_and_misses(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }
}

/// The largest power of two not above `n` (`n` ≥ 1).
fn prev_power_of_two(n: u64) -> u64 {
    1 << n.ilog2()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_hit_again_outlives_one_that_was_not_and_the_budget_holds() {
        let cache = BlobCache::new(10, 4);
        cache.insert("a", Bytes::from_static(b"aaaa"));
        cache.insert("b", Bytes::from_static(b"bbbb"));
        assert!(cache.get("a").is_some()); // a has been hit since it was cached, b not
        cache.insert("c", Bytes::from_static(b"cccc")); // evicts b
        assert!(cache.get("b").is_none());
        assert_eq!(cache.get("a").unwrap(), "aaaa");
        assert_eq!(cache.get("c").unwrap(), "cccc");
        cache.insert("big", Bytes::from_static(b"too large"));
        assert!(cache.get("big").is_none());
        assert!(!cache.admits(5));
        assert!(cache.entries.weight() <= 10);
        assert_eq!(cache.hits_and_misses(), (3, 2));
    }

    #[test]
    fn whatever_it_admits_it_keeps_and_it_never_holds_more_than_its_budget() {
        for (capacity, max_object) in [
            (64 << 20, 1 << 20),
            (256 << 20, 1 << 20),
            (1 << 20, 1 << 20),
            (100, 100),
            (1000, 7),
        ] {
            let cache = BlobCache::new(capacity, max_object);
            assert!(cache.admits(max_object.min(capacity) * 96 / 100));
            let mut inserted = 0u64;
            while inserted < 3 * capacity {
                let size = cache.max_object;
                let key = format!("{capacity}/{inserted}");
                cache.insert(&key, Bytes::from(vec![0; size as usize]));
                assert!(cache.get(&key).is_some(), "{capacity}/{max_object}: {key}");
                assert!(cache.entries.weight() <= capacity);
                inserted += size;
            }
        }
    }

    #[test]
    fn a_zero_budget_caches_nothing() {
        let cache = BlobCache::new(0, 1 << 20);
        assert!(!cache.admits(1));
        cache.insert("a", Bytes::from_static(b"a"));
        assert!(cache.get("a").is_none());
    }
}
