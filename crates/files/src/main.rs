//! The `fluidcloud-files` binary: serves raw links on the configured address.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use fluidcloud_core::config::Settings;
use fluidcloud_core::runtime::{init_logging, shutdown_signal};
use fluidcloud_db::Store;

/// The FluidCloud raw-link server.
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
    let listener = tokio::net::TcpListener::bind(settings.files.listen)
        .await
        .with_context(|| format!("binding {}", settings.files.listen))?;
    tracing::info!(addr = %settings.files.listen, "fluidcloud-files listening");
    let router = fluidcloud_files::router(fluidcloud_files::FilesState { store });
    fluidcloud_files::serve(listener, router, shutdown_signal()).await?;
    Ok(())
}
