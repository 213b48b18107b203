//! The `fluidcloud-files` binary: serves raw links on the configured address.

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use fluidcloud_core::config::Settings;
use fluidcloud_core::runtime::{init_logging, shutdown_signal};
use fluidcloud_db::Store;
use fluidcloud_storage::{ObjectStore, StoreSettings};

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
    let settings = Settings::load(args.config.as_deref())?;
    init_logging(&settings.log);
    let store = Store::connect(&settings.database.url, &(&settings.database).into())
        .await
        .context("connecting to the metadata database")?;
    store.check_schema().await?;
    store.start_change_feed();
    let objects = ObjectStore::new(&StoreSettings::from(&settings.storage));
    let state = fluidcloud_files::FilesState::new(store, objects, &settings)?;
    let listener = tokio::net::TcpListener::bind(settings.files.listen)
        .await
        .with_context(|| format!("binding {}", settings.files.listen))?;
    tracing::info!(addr = %settings.files.listen, "fluidcloud-files listening");
    fluidcloud_files::serve(listener, state, shutdown_signal()).await?;
    Ok(())
}
