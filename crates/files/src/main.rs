//! The `fluidcloud-files` binary: serves raw links on the configured address.

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use fluidcloud_core::config::Settings;
use fluidcloud_core::runtime::{init_logging, serve_until_signal};
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
    let store = Store::open_for_service(&settings.database)
        .await
        .context("opening the metadata database")?;
    let objects = ObjectStore::new(&StoreSettings::from(&settings.storage));
    let state = fluidcloud_files::FilesState::new(store, objects, &settings)?;
    let listener = tokio::net::TcpListener::bind(settings.files.listen)
        .await
        .with_context(|| format!("binding {}", settings.files.listen))?;
    tracing::info!(addr = %settings.files.listen, "fluidcloud-files listening");
    let grace = std::time::Duration::from_secs(settings.shutdown.grace_secs);
    serve_until_signal(
        |stopping| fluidcloud_files::serve(listener, state, stopping),
        grace,
    )
    .await?;
    tracing::info!("fluidcloud-files stopped");
    Ok(())
}
