//! The `fluidcloud-api` binary: serves `/api/v1` on the configured address.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use fluidcloud_core::config::Settings;
use fluidcloud_core::runtime::{init_logging, shutdown_signal};
use fluidcloud_db::Store;

/// The FluidCloud API service.
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
    let settings = Arc::new(Settings::load(args.config.as_deref())?);
    init_logging(&settings.log);

    let store = Store::connect(&settings.database.url, &(&settings.database).into())
        .await
        .context("connecting to the metadata database")?;
    store.check_schema().await?;
    store.start_change_feed();

    let state = fluidcloud_api::AppState::new(store, Arc::clone(&settings))?;
    let listener = tokio::net::TcpListener::bind(settings.api.listen)
        .await
        .with_context(|| format!("binding {}", settings.api.listen))?;
    tracing::info!(addr = %settings.api.listen, "fluidcloud-api listening");
    fluidcloud_api::serve(listener, fluidcloud_api::router(state), shutdown_signal()).await?;
    Ok(())
}
