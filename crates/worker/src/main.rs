//! The `fluidcloud-worker` binary.

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use fluidcloud_core::config::Settings;
use fluidcloud_core::runtime::{init_logging, shutdown_signal};
use fluidcloud_db::Store;
use fluidcloud_worker::JobContext;

/// The FluidCloud background worker.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// A TOML file overriding the built-in defaults (FLUIDCLOUD__* variables win over it).
    #[arg(long)]
    config: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let settings = Settings::load(args.config.as_deref())?;
    init_logging(&settings.log);
    let store = Store::connect(&settings.database.url, &(&settings.database).into())
        .await
        .context("connecting to the metadata database")?;
    store.check_schema().await?;
    store.start_change_feed();
    let context = JobContext::from_settings(store, &settings)?;
    fluidcloud_worker::run(context, settings.worker.clone(), shutdown_signal()).await;
    Ok(())
}
