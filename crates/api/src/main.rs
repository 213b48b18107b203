//! The `fluidcloud-api` binary: serves `/api/v1` on the configured address.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use fluidcloud_core::config::Settings;
use fluidcloud_core::runtime::{init_logging, serve_until_signal};
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

    let store = Store::open_for_service(&settings.database)
        .await
        .context("opening the metadata database")?;

    let state = fluidcloud_api::AppState::new(store, Arc::clone(&settings))?;
    let listener = tokio::net::TcpListener::bind(settings.api.listen)
        .await
        .with_context(|| format!("binding {}", settings.api.listen))?;
    tracing::info!(addr = %settings.api.listen, "fluidcloud-api listening");
    let router = fluidcloud_api::router(state);
    let grace = std::time::Duration::from_secs(settings.shutdown.grace_secs);
    serve_until_signal(
        |stopping| {
            fluidcloud_api::serve(
                listener,
                router,
                settings.listeners.header_read_timeout(),
                stopping,
            )
        },
        grace,
    )
    .await?;
    tracing::info!("fluidcloud-api stopped");
    Ok(())
}
