//! Request counters shared by every API instance: fixed windows per key and bucket,
//! counted with one statement (one round trip) per request, or per slice of a budget
//! an instance leases.

use uuid::Uuid;

use crate::backend::{Pool, Store};
use crate::error::StoreResult;

impl Store {
    /// Counts one request in each of `buckets` for the key's window starting at
    /// `window_start` (seconds), and returns each bucket's count including this one, in
    /// the order given.
    pub async fn count_request(
        &self,
        key_id: Uuid,
        window_start: i64,
        buckets: &[&str],
    ) -> StoreResult<Vec<i64>> {
        let ones: Vec<(&str, i64)> = buckets.iter().map(|bucket| (*bucket, 1)).collect();
        self.add_to_buckets(key_id, window_start, &ones).await
    }

    /// Adds each amount to its bucket's count in the key's window starting at
    /// `window_start`, in one round trip, and returns each bucket's count after the
    /// addition, in the order given. An API instance leases slices of a budget this way.
    pub async fn add_to_buckets(
        &self,
        key_id: Uuid,
        window_start: i64,
        amounts: &[(&str, i64)],
    ) -> StoreResult<Vec<i64>> {
        match &self.pool {
            Pool::Postgres(pool) => {
                let names: Vec<String> = amounts.iter().map(|(b, _)| (*b).to_owned()).collect();
                let adds: Vec<i64> = amounts.iter().map(|(_, n)| *n).collect();
                // Rows are upserted in the order given, so concurrent requests lock them
                // in the same order and cannot deadlock.
                let rows: Vec<(String, i64)> = sqlx::query_as(
                    "INSERT INTO rate_counters (key_id, bucket, window_start, count) \
                     SELECT $1, bucket, $2, amount \
                     FROM UNNEST($3::text[], $4::bigint[]) WITH ORDINALITY AS b(bucket, amount, n) ORDER BY n \
                     ON CONFLICT (key_id, bucket, window_start) \
                     DO UPDATE SET count = rate_counters.count + EXCLUDED.count \
                     RETURNING bucket, count",
                )
                .bind(key_id)
                .bind(window_start)
                .bind(&names)
                .bind(&adds)
                .fetch_all(pool)
                .await?;
                Ok(amounts
                    .iter()
                    .map(|(b, _)| {
                        rows.iter()
                            .find(|(name, _)| name == b)
                            .map_or(0, |(_, count)| *count)
                    })
                    .collect())
            }
            Pool::Sqlite(pool) => {
                let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                let mut counts = Vec::with_capacity(amounts.len());
                for (bucket, amount) in amounts {
                    let count: i64 = sqlx::query_scalar(
                        "INSERT INTO rate_counters (key_id, bucket, window_start, count) VALUES ($1, $2, $3, $4) \
                         ON CONFLICT (key_id, bucket, window_start) DO UPDATE SET count = count + excluded.count \
                         RETURNING count",
                    )
                    .bind(key_id)
                    .bind(*bucket)
                    .bind(window_start)
                    .bind(*amount)
                    .fetch_one(&mut *tx)
                    .await?;
                    counts.push(count);
                }
                tx.commit().await?;
                Ok(counts)
            }
        }
    }

    /// The count of one bucket in one window (0 when nothing was counted).
    pub async fn rate_count(
        &self,
        key_id: Uuid,
        bucket: &str,
        window_start: i64,
    ) -> StoreResult<i64> {
        Ok(with_pool!(self, |pool| {
            sqlx::query_scalar(
                "SELECT count FROM rate_counters WHERE key_id = $1 AND bucket = $2 AND window_start = $3",
            )
            .bind(key_id)
            .bind(bucket)
            .bind(window_start)
            .fetch_optional(pool)
            .await
        })?
        .unwrap_or(0))
    }

    /// Deletes counters of windows that started before `before`; the hourly link
    /// buckets (`link_…`) an hour later.
    pub async fn prune_rate_counters(&self, before: i64) -> StoreResult<u64> {
        Ok(with_pool!(self, |pool| {
            sqlx::query(
                "DELETE FROM rate_counters WHERE window_start < $1 \
                 AND (substr(bucket, 1, 5) <> 'link_' OR window_start < $1 - 3600)",
            )
            .bind(before)
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
        })?)
    }
}
