//! `fluidcloud admin`: tenants, plans and API keys, for operators.
//!
//! Keys are never managed through `/api/v1` (SPEC §1); this is where they are minted,
//! listed (never in plaintext) and revoked. Changes reach running servers through the
//! store's change feed, so a revoked key is refused within a second.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use fluidcloud_core::api_key::KeyMode;
use fluidcloud_core::config::ExposeSecret;
use fluidcloud_core::model::{Plan, RateLimits};
use fluidcloud_core::scope::Scopes;
use fluidcloud_db::{NewApiKey, NewTenant, RescanFilter, Store, TenantUpdate};
use fluidcloud_storage::{ObjectStore, StoreSettings};
use serde_json::json;
use uuid::Uuid;

use crate::print_json;

#[derive(Args)]
pub struct AdminArgs {
    /// postgres://… or sqlite://… (default: the configured database.url).
    #[arg(long, global = true, conflicts_with = "data_dir")]
    database_url: Option<String>,
    /// The data folder of a `fluidcloud dev` instance (its SQLite database).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Tenants and their plans.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// API keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Compare the database with the bucket: objects without rows, rows without
    /// objects. Uses the configured storage settings (FLUIDCLOUD__STORAGE__*).
    Reconcile {
        /// Delete objects without rows, and take files whose bytes are missing out of
        /// service (`failed`).
        #[arg(long)]
        fix: bool,
        /// With --fix: delete orphans even when they are most of the bucket (which
        /// usually means the database is not this bucket's).
        #[arg(long, requires = "fix")]
        force: bool,
    },
    /// Scan judged (clean or failed) files again with the current signatures, in the
    /// worker. A clean file changes only to infected (or failed, if its bytes no longer
    /// match); a failed one may become clean; scanner errors change nothing. Links keep
    /// serving meanwhile.
    Rescan {
        /// A date (2026-11-01 or RFC 3339): files judged before it. Anything else: a
        /// scanner version; files judged by any other version.
        #[arg(long)]
        scanned_before: Option<String>,
    },
}

/// Per-key request budgets of a plan, per rate-limit window (a minute by default);
/// -1 is unlimited, absent keeps the server default (or, on update, the current value).
#[derive(Args, Clone, Copy)]
struct RateArgs {
    #[arg(long, allow_negative_numbers = true)]
    requests_per_minute: Option<i64>,
    #[arg(long, allow_negative_numbers = true)]
    shares_per_minute: Option<i64>,
    #[arg(long, allow_negative_numbers = true)]
    initiates_per_minute: Option<i64>,
    #[arg(long, allow_negative_numbers = true)]
    imports_per_minute: Option<i64>,
}

impl RateArgs {
    fn check(&self) -> anyhow::Result<()> {
        check_limit("requests-per-minute", self.requests_per_minute)?;
        check_limit("shares-per-minute", self.shares_per_minute)?;
        check_limit("initiates-per-minute", self.initiates_per_minute)?;
        check_limit("imports-per-minute", self.imports_per_minute)
    }

    fn limits(self) -> RateLimits {
        RateLimits {
            requests_per_minute: self.requests_per_minute,
            shares_per_minute: self.shares_per_minute,
            initiates_per_minute: self.initiates_per_minute,
            imports_per_minute: self.imports_per_minute,
        }
    }
}

#[derive(Subcommand)]
enum TenantCommand {
    /// Create a tenant (limits default to unlimited, -1).
    Create {
        #[arg(long)]
        name: String,
        #[arg(long, default_value_t = -1, allow_negative_numbers = true)]
        bytes_limit: i64,
        #[arg(long, default_value_t = -1, allow_negative_numbers = true)]
        links_limit: i64,
        #[arg(long, default_value_t = -1, allow_negative_numbers = true)]
        max_file_size: i64,
        /// Create the tenant without API access.
        #[arg(long)]
        no_api_access: bool,
        #[command(flatten)]
        rates: RateArgs,
    },
    /// List every tenant.
    List,
    /// A tenant's usage as its running counters keep it (what `/quota` answers) next to
    /// the same figures recounted from its files and open uploads; `consistent` says
    /// whether they agree.
    Usage { id: Uuid },
    /// Change a tenant's name or plan.
    Update {
        id: Uuid,
        #[arg(long)]
        name: Option<String>,
        #[arg(long, allow_negative_numbers = true)]
        bytes_limit: Option<i64>,
        #[arg(long, allow_negative_numbers = true)]
        links_limit: Option<i64>,
        #[arg(long, allow_negative_numbers = true)]
        max_file_size: Option<i64>,
        #[arg(long, action = clap::ArgAction::Set)]
        api_access: Option<bool>,
        #[command(flatten)]
        rates: RateArgs,
        /// Put every per-minute budget not given in this command back to the server
        /// default (`rate_limits.*` in the configuration).
        #[arg(long)]
        default_rate_limits: bool,
    },
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Mint a key; its plaintext is printed this once and stored nowhere.
    Create {
        #[arg(long)]
        tenant: Uuid,
        #[arg(long, default_value = "")]
        label: String,
        #[arg(long, default_value = "live")]
        mode: KeyMode,
        /// Comma-separated scopes (default: all nine).
        #[arg(long)]
        scopes: Option<String>,
    },
    /// List a tenant's keys (never their plaintext).
    List {
        #[arg(long)]
        tenant: Uuid,
    },
    /// Revoke a key; running servers refuse it within a second.
    Revoke { key_id: Uuid },
}

pub async fn run(args: AdminArgs) -> anyhow::Result<()> {
    let url = match (args.database_url, args.data_dir) {
        (Some(url), _) => url,
        (None, Some(dir)) => {
            if !dir.join("fluidcloud.db").exists() {
                bail!(
                    "{} holds no FluidCloud database (run `fluidcloud dev --data-dir {0}` first)",
                    dir.display()
                );
            }
            crate::sqlite_url(&dir)
        }
        (None, None) => fluidcloud_core::config::Settings::load(None)?
            .database
            .url
            .expose_secret()
            .to_owned(),
    };
    let store = Store::connect(&url, &Default::default())
        .await
        .with_context(|| format!("connecting to {}", fluidcloud_db::redact(&url)))?;
    store.check_schema().await?;
    let result = match args.command {
        AdminCommand::Tenant(command) => tenant(&store, command).await,
        AdminCommand::Key(command) => key(&store, command).await,
        AdminCommand::Reconcile { fix, force } => reconcile(&store, fix, force).await,
        AdminCommand::Rescan { scanned_before } => rescan(&store, scanned_before.as_deref()).await,
    };
    store.close().await;
    result
}

fn check_limit(name: &str, value: Option<i64>) -> anyhow::Result<()> {
    match value {
        Some(v) if v < -1 => bail!("--{name} must be -1 (unlimited) or a non-negative number"),
        _ => Ok(()),
    }
}

fn check_name(name: Option<&str>) -> anyhow::Result<()> {
    match name {
        Some(n) if n.trim().is_empty() => bail!("--name must not be empty"),
        _ => Ok(()),
    }
}

async fn tenant(store: &Store, command: TenantCommand) -> anyhow::Result<()> {
    match command {
        TenantCommand::Create {
            name,
            bytes_limit,
            links_limit,
            max_file_size,
            no_api_access,
            rates,
        } => {
            check_name(Some(&name))?;
            check_limit("bytes-limit", Some(bytes_limit))?;
            check_limit("links-limit", Some(links_limit))?;
            check_limit("max-file-size", Some(max_file_size))?;
            rates.check()?;
            let plan = Plan {
                api_access: !no_api_access,
                bytes_limit,
                links_limit,
                max_file_size,
                rate_limits: rates.limits(),
            };
            print_json(&store.create_tenant(&NewTenant { name, plan }).await?)
        }
        TenantCommand::List => print_json(&store.list_tenants().await?),
        TenantCommand::Usage { id } => {
            let counters = store.quota(id).await?;
            let recounted = store.recount_usage(id).await?;
            let consistent = counters.bytes_used == recounted.bytes_used
                && counters.bytes_reserved == recounted.bytes_reserved
                && counters.by_app == recounted.by_app;
            print_json(&json!({
                "counters": counters,
                "recounted": recounted,
                "consistent": consistent,
            }))
        }
        TenantCommand::Update {
            id,
            name,
            bytes_limit,
            links_limit,
            max_file_size,
            api_access,
            rates,
            default_rate_limits,
        } => {
            check_name(name.as_deref())?;
            check_limit("bytes-limit", bytes_limit)?;
            check_limit("links-limit", links_limit)?;
            check_limit("max-file-size", max_file_size)?;
            rates.check()?;
            let update = TenantUpdate {
                name,
                api_access,
                bytes_limit,
                links_limit,
                max_file_size,
                requests_per_minute: rates.requests_per_minute,
                shares_per_minute: rates.shares_per_minute,
                initiates_per_minute: rates.initiates_per_minute,
                imports_per_minute: rates.imports_per_minute,
                default_rate_limits,
            };
            print_json(&store.update_tenant(id, &update).await?)
        }
    }
}

async fn key(store: &Store, command: KeyCommand) -> anyhow::Result<()> {
    match command {
        KeyCommand::Create {
            tenant,
            label,
            mode,
            scopes,
        } => {
            let scopes = match scopes {
                Some(list) => Scopes::parse_list(&list)?,
                None => Scopes::all(),
            };
            let (key, plaintext) = store
                .create_api_key(&NewApiKey {
                    tenant_id: tenant,
                    label,
                    mode,
                    scopes,
                })
                .await?;
            print_json(&json!({ "api_key": plaintext, "key": key }))
        }
        KeyCommand::List { tenant } => print_json(&store.list_api_keys(tenant).await?),
        KeyCommand::Revoke { key_id } => print_json(&store.revoke_api_key(key_id).await?),
    }
}

/// Objects nobody refers to and files whose bytes are gone.
async fn reconcile(store: &Store, fix: bool, force: bool) -> anyhow::Result<()> {
    let settings = fluidcloud_core::config::Settings::load(None)?;
    let objects = ObjectStore::new(&StoreSettings::from(&settings.storage));
    let report = fluidcloud_services::reconcile::reconcile(store, &objects, fix, force)
        .await
        .with_context(|| format!("reconciling with bucket {}", settings.storage.bucket))?;
    print_json(&report)
}

async fn rescan(store: &Store, scanned_before: Option<&str>) -> anyhow::Result<()> {
    let filter = match scanned_before {
        None => RescanFilter::All,
        Some(value) => match parse_date(value) {
            Some(date) => RescanFilter::ScannedBefore(date),
            // A mistyped date must not quietly become "every file" (no scanner has
            // that version).
            None if looks_like_date(value) => {
                anyhow::bail!("--scanned-before {value}: not a valid date (YYYY-MM-DD or RFC 3339)")
            }
            None => RescanFilter::NotScannedBy(value.to_owned()),
        },
    };
    let queued = store.enqueue_rescans(&filter).await?;
    print_json(&json!({ "queued": queued }))
}

/// Four digits, a dash and a digit: meant as a date, whether or not it is one.
fn looks_like_date(value: &str) -> bool {
    let bytes = value.as_bytes();
    bytes.len() >= 6
        && bytes[..4].iter().all(u8::is_ascii_digit)
        && bytes[4] == b'-'
        && bytes[5].is_ascii_digit()
}

/// `2026-11-01` (midnight UTC) or an RFC 3339 timestamp.
fn parse_date(value: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(value) {
        return Some(at.with_timezone(&chrono::Utc));
    }
    let day = chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d").ok()?;
    Some(day.and_hms_opt(0, 0, 0)?.and_utc())
}

#[cfg(test)]
mod tests {
    use super::{looks_like_date, parse_date};

    #[test]
    fn rescan_filters_tell_dates_from_scanner_versions() {
        assert!(parse_date("2026-11-01").is_some());
        assert!(parse_date("2026-11-01T12:00:00+02:00").is_some());
        for mistyped in ["2026-13-01", "2026-02-30", "2026-1-1x"] {
            assert!(parse_date(mistyped).is_none(), "{mistyped}");
            assert!(looks_like_date(mistyped), "{mistyped}");
        }
        for version in ["clamd ClamAV 1.4.6/27000", "builtin/1", "2026"] {
            assert!(!looks_like_date(version), "{version}");
        }
    }
}
