//! The scan of one file: stream its bytes once through the hasher, the type sniffer
//! and the scanner, then record the verdict. Used by the worker's scan and rescan jobs
//! and by the API for small files, so `complete` can answer with a verdict.

use fluidcloud_core::model::ScanStatus;
use fluidcloud_db::{ScanOutcome, ScanTarget};
use fluidcloud_scan::mime::{self, SNIFF_LEN};
use fluidcloud_scan::{ScanError, Verdict};
use fluidcloud_storage::StorageError;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::ServiceContext;

/// How a scan attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanRun {
    /// A verdict was recorded.
    Recorded(ScanStatus),
    /// The file is gone or not in a state this scan applies to.
    NotPending,
    /// No verdict now (scanner or store unreachable); try again later.
    Retry(String),
}

/// Which scan this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// The first verdict of a pending file. On the last attempt an unreachable scanner
    /// fails the file instead of postponing again.
    First { last_attempt: bool },
    /// A clean or failed file scanned again with current signatures. Errors never
    /// change the standing verdict; they are retried.
    Rescan,
}

/// Scans a pending file. On the last attempt a scan that still cannot finish (the
/// store unreadable, the bytes short) fails the file: it never stays pending forever.
pub async fn scan_file(
    context: &ServiceContext,
    file_id: Uuid,
    last_attempt: bool,
) -> anyhow::Result<ScanRun> {
    let run = scan(context, file_id, Mode::First { last_attempt }).await?;
    match run {
        ScanRun::Retry(reason) if last_attempt => {
            let Some(target) = context.store.scan_target(file_id).await? else {
                return Ok(ScanRun::NotPending);
            };
            let outcome = ScanOutcome {
                scan_status: ScanStatus::Failed,
                mime: None,
                sha256: None,
                scanner: "none".to_owned(),
                signature: Some(format!("could not be scanned: {reason}")),
                object_etag: None,
            };
            record(context, &target, &outcome).await
        }
        run => Ok(run),
    }
}

/// Scans a judged (clean or failed) file again.
pub async fn rescan_file(context: &ServiceContext, file_id: Uuid) -> anyhow::Result<ScanRun> {
    scan(context, file_id, Mode::Rescan).await
}

async fn scan(context: &ServiceContext, file_id: Uuid, mode: Mode) -> anyhow::Result<ScanRun> {
    let Some(target) = context.store.scan_target(file_id).await? else {
        return Ok(ScanRun::NotPending);
    };
    let applies = match mode {
        Mode::First { .. } => target.scan_status == ScanStatus::Pending,
        Mode::Rescan => matches!(target.scan_status, ScanStatus::Clean | ScanStatus::Failed),
    };
    if !applies {
        return Ok(ScanRun::NotPending);
    }
    let scanner = match context.scanner.version().await {
        Ok(version) => version,
        Err(err) => return postpone_or_fail(context, &target, "unknown", err, mode).await,
    };
    let failed = |reason: String| ScanOutcome {
        scan_status: ScanStatus::Failed,
        mime: None,
        sha256: None,
        scanner: scanner.clone(),
        signature: Some(reason),
        object_etag: None,
    };
    if u64::try_from(target.size).unwrap_or(u64::MAX) > context.settings.scan.max_bytes {
        let reason = format!(
            "too large to scan ({} bytes; limit {})",
            target.size, context.settings.scan.max_bytes
        );
        return postpone_or_fail(context, &target, &scanner, ScanError::Failed(reason), mode).await;
    }
    let mut session = match context.scanner.start().await {
        Ok(session) => session,
        Err(err) => return postpone_or_fail(context, &target, &scanner, err, mode).await,
    };
    let mut object = match context.objects.get(&target.object_key, None).await {
        Ok(object) => object,
        Err(StorageError::NotFound) if matches!(mode, Mode::First { .. }) => {
            return record(
                context,
                &target,
                &failed("the stored object is missing".into()),
            )
            .await;
        }
        Err(err) => return Ok(ScanRun::Retry(err.to_string())),
    };
    let mut hasher = Sha256::new();
    let mut prefix = Vec::with_capacity(SNIFF_LEN);
    let mut read: u64 = 0;
    while let Some(chunk) = object.body.next().await {
        let chunk = match chunk {
            Ok(chunk) => chunk,
            Err(err) => return Ok(ScanRun::Retry(format!("reading the object: {err}"))),
        };
        read += chunk.len() as u64;
        hasher.update(&chunk);
        if prefix.len() < SNIFF_LEN {
            let take = (SNIFF_LEN - prefix.len()).min(chunk.len());
            prefix.extend_from_slice(&chunk[..take]);
        }
        if let Err(err) = session.feed(&chunk).await {
            return postpone_or_fail(context, &target, &scanner, err, mode).await;
        }
    }
    if read != u64::try_from(target.size).unwrap_or(0) {
        return Ok(ScanRun::Retry(format!(
            "read {read} of {} bytes",
            target.size
        )));
    }
    let digest: [u8; 32] = hasher.finalize().into();
    let sha256 = hex::encode(digest);
    let verdict = match session.finish(&digest).await {
        Ok(verdict) => verdict,
        Err(err) => return postpone_or_fail(context, &target, &scanner, err, mode).await,
    };
    let outcome = match verdict {
        Verdict::Infected(signature) => ScanOutcome {
            scan_status: ScanStatus::Infected,
            mime: None,
            sha256: Some(sha256),
            scanner,
            signature: Some(signature),
            object_etag: object.etag,
        },
        // Bytes that are not what the client hashed are not what it meant to store.
        Verdict::Clean
            if !target.sha256.is_empty() && !target.sha256.eq_ignore_ascii_case(&sha256) =>
        {
            failed(format!(
                "sha256 mismatch: declared {}, stored bytes hash to {sha256}",
                target.sha256
            ))
        }
        // The verdict holds for this version of the object only: links check the tag.
        Verdict::Clean => ScanOutcome {
            scan_status: ScanStatus::Clean,
            mime: (mode != Mode::Rescan).then(|| mime::detect(&prefix, &target.mime)),
            sha256: Some(sha256),
            scanner,
            signature: None,
            object_etag: object.etag,
        },
    };
    let run = record(context, &target, &outcome).await?;
    if outcome.scan_status == ScanStatus::Infected {
        // Erase now; the job enqueued with the verdict guarantees it if this fails.
        if let Err(err) = context.objects.delete(&target.object_key).await {
            tracing::warn!(%file_id, error = %err, "could not erase infected bytes yet");
        }
    }
    Ok(run)
}

async fn record(
    context: &ServiceContext,
    target: &ScanTarget,
    outcome: &ScanOutcome,
) -> anyhow::Result<ScanRun> {
    if context
        .store
        .record_scan(target.id, target.scan_status, outcome)
        .await?
    {
        context.metrics.scan_recorded(outcome.scan_status.as_str());
        tracing::info!(file_id = %target.id, scan_status = outcome.scan_status.as_str(), scanner = outcome.scanner,
            signature = outcome.signature.as_deref().unwrap_or(""), "scan verdict recorded");
        Ok(ScanRun::Recorded(outcome.scan_status))
    } else {
        Ok(ScanRun::NotPending)
    }
}

/// An unreachable scanner postpones the scan (the file stays pending, never clean); a
/// scanner that answered without a verdict fails a first scan. A rescan keeps the
/// standing verdict and tries again later either way.
async fn postpone_or_fail(
    context: &ServiceContext,
    target: &ScanTarget,
    scanner: &str,
    err: ScanError,
    mode: Mode,
) -> anyhow::Result<ScanRun> {
    match (err, mode) {
        (err, Mode::Rescan) => Ok(ScanRun::Retry(err.to_string())),
        (
            ScanError::Unavailable(reason),
            Mode::First {
                last_attempt: false,
            },
        ) => Ok(ScanRun::Retry(reason)),
        (ScanError::Unavailable(reason) | ScanError::Failed(reason), Mode::First { .. }) => {
            let outcome = ScanOutcome {
                scan_status: ScanStatus::Failed,
                mime: None,
                sha256: None,
                scanner: scanner.to_owned(),
                signature: Some(reason),
                object_etag: None,
            };
            record(context, target, &outcome).await
        }
    }
}
