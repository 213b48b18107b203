//! Fixed-window request counting in memory, for rate limits kept by one process.
//!
//! Every window of `window_secs` starts at a multiple of it (Unix time). Counters of
//! past windows are worthless, so they are dropped when a new window begins: memory
//! stays proportional to the keys active in the current window.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;

/// The window containing `now_secs` and the seconds left in it (at least 1).
pub fn window_of(now_secs: i64, window_secs: i64) -> (i64, i64) {
    let window = window_secs.max(1);
    let start = now_secs - now_secs.rem_euclid(window);
    (start, (start + window - now_secs).max(1))
}

struct Table<K> {
    counts: HashMap<K, (i64, i64)>,
    /// The newest window seen.
    window: i64,
}

/// Counts per key in the current fixed window.
pub struct WindowCounter<K> {
    table: Mutex<Table<K>>,
}

impl<K: Eq + Hash + Clone> Default for WindowCounter<K> {
    fn default() -> Self {
        WindowCounter {
            table: Mutex::new(Table {
                counts: HashMap::new(),
                window: i64::MIN,
            }),
        }
    }
}

impl<K: Eq + Hash + Clone> WindowCounter<K> {
    /// Counts one event for `key` in the window starting at `window_start` and returns
    /// the window's count including it.
    pub fn hit(&self, key: &K, window_start: i64) -> i64 {
        let mut table = self.table.lock().unwrap_or_else(|e| e.into_inner());
        if window_start > table.window {
            table.window = window_start;
            table.counts.retain(|_, (start, _)| *start >= window_start);
        }
        let entry = table.counts.entry(key.clone()).or_insert((window_start, 0));
        if entry.0 != window_start {
            *entry = (window_start, 0);
        }
        entry.1 += 1;
        entry.1
    }

    /// The key's count in the window starting at `window_start`, without counting.
    pub fn count(&self, key: &K, window_start: i64) -> i64 {
        let table = self.table.lock().unwrap_or_else(|e| e.into_inner());
        table
            .counts
            .get(key)
            .filter(|(start, _)| *start == window_start)
            .map_or(0, |(_, count)| *count)
    }

    /// Keys currently held (for tests and metrics).
    pub fn len(&self) -> usize {
        self.table
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .counts
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_align_and_never_report_zero_seconds_left() {
        assert_eq!(window_of(120, 60), (120, 60));
        assert_eq!(window_of(179, 60), (120, 1));
        assert_eq!(window_of(150, 60), (120, 30));
    }

    #[test]
    fn counts_restart_with_each_window() {
        let counter = WindowCounter::default();
        assert_eq!(counter.hit(&"k", 0), 1);
        assert_eq!(counter.hit(&"k", 0), 2);
        assert_eq!(counter.hit(&"other", 0), 1);
        assert_eq!(counter.hit(&"k", 60), 1);
    }

    #[test]
    fn idle_keys_are_forgotten() {
        let counter = WindowCounter::default();
        for key in 0..5000u32 {
            counter.hit(&key, 0);
        }
        // A new window: old entries are swept as the table grows again.
        for key in 5000..7000u32 {
            counter.hit(&key, 60);
        }
        assert_eq!(counter.len(), 2000);
    }
}
