//! Download counts of links without a cap, kept in memory and written once a second,
//! so a hot permanent link costs no database write per hit. (Capped links are counted
//! in the database at once: the cap must hold exactly.) At most a second of counts is
//! lost if the process dies; a graceful shutdown writes them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fluidcloud_db::Store;
use uuid::Uuid;

#[derive(Default)]
pub struct DownloadCounter {
    pending: Mutex<HashMap<Uuid, i64>>,
}

impl DownloadCounter {
    pub fn add(&self, share_id: Uuid) {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        *pending.entry(share_id).or_default() += 1;
    }

    pub async fn flush(&self, store: &Store) {
        let batch: Vec<(Uuid, i64)> = {
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            pending.drain().collect()
        };
        if batch.is_empty() {
            return;
        }
        if let Err(err) = store.add_downloads(&batch).await {
            tracing::warn!(error = %err, links = batch.len(), "could not record download counts; retrying");
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            for (share_id, count) in batch {
                *pending.entry(share_id).or_default() += count;
            }
        }
    }

    pub(crate) async fn flush_every(self: Arc<Self>, store: Store, interval: Duration) {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            self.flush(&store).await;
        }
    }
}
