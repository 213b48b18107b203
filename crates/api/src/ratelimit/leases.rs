//! Budgets shared by every API instance without a database write per request: each
//! instance leases a slice of a key's window budget from the shared counters and spends
//! it locally, asking again only when its slice is used up.
//!
//! A lease adds the whole slice to the shared count and is granted only what was still
//! left under the limit, so the slices granted in a window never add up to more than
//! the budget: across any number of instances, no more requests are accepted than the
//! limit. The price is the other way: tokens another instance holds unspent are not
//! available here, so a client may be refused up to `(N − 1) × slice` requests early
//! with N instances (a slice is a twentieth of the budget, 1 to 1,000). A budget's
//! first request in a window, and each slice after, costs one round trip; once the
//! shared budget is spent, refusals cost none until the window ends.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use fluidcloud_db::{Store, StoreError};
use uuid::Uuid;

/// The part of a budget one lease takes.
pub fn slice_of(limit: i64) -> i64 {
    (limit / 20).clamp(1, 1000)
}

/// One instance's share of one key's bucket in one window.
#[derive(Default)]
struct Lease {
    window_start: i64,
    /// Leased tokens not yet spent.
    left: i64,
    /// The shared count after this instance's last lease: every instance's leases.
    shared: i64,
    /// The shared budget is spent: refuse without asking until the window ends.
    exhausted: bool,
}

type Slot = Arc<tokio::sync::Mutex<Lease>>;

struct Table {
    slots: HashMap<(Uuid, &'static str), Slot>,
    /// The newest window seen; slots of older windows are dropped when it moves on.
    window: i64,
}

pub struct Leases {
    store: Store,
    table: Mutex<Table>,
}

impl Leases {
    pub fn new(store: Store) -> Self {
        Leases {
            store,
            table: Mutex::new(Table {
                slots: HashMap::new(),
                window: i64::MIN,
            }),
        }
    }

    fn slot(&self, key_id: Uuid, bucket: &'static str, window_start: i64) -> Slot {
        let mut table = self.table.lock().unwrap_or_else(|e| e.into_inner());
        if window_start > table.window {
            table.window = window_start;
            // A slot busy right now is kept; it resets itself on its next use.
            table.slots.retain(|_, slot| {
                slot.try_lock()
                    .map_or(true, |lease| lease.window_start >= window_start)
            });
        }
        Arc::clone(table.slots.entry((key_id, bucket)).or_default())
    }

    /// Spends one token of each `(bucket, limit)` in this window and returns, per
    /// bucket, the requests counted so far as best this instance knows (the shared
    /// count less what it still holds), or `limit + 1` when the bucket refuses.
    pub async fn take(
        &self,
        key_id: Uuid,
        window_start: i64,
        buckets: &[(&'static str, i64)],
    ) -> Result<Vec<i64>, StoreError> {
        let mut counts = Vec::with_capacity(buckets.len());
        for &(bucket, limit) in buckets {
            let slot = self.slot(key_id, bucket, window_start);
            // Concurrent requests for one bucket wait for a single lease, not one each.
            let mut lease = slot.lock().await;
            if lease.window_start != window_start {
                *lease = Lease {
                    window_start,
                    ..Lease::default()
                };
            }
            if lease.left == 0 && !lease.exhausted {
                let slice = slice_of(limit);
                let shared = self
                    .store
                    .add_to_buckets(key_id, window_start, &[(bucket, slice)])
                    .await?[0];
                let before = shared - slice;
                lease.shared = shared;
                lease.left = (limit - before).clamp(0, slice);
                lease.exhausted = lease.left == 0;
            }
            if lease.left > 0 {
                lease.left -= 1;
                counts.push((lease.shared - lease.left).min(limit));
            } else {
                counts.push(limit + 1);
            }
        }
        Ok(counts)
    }
}
