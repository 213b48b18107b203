//! The `fluidcloud-worker` binary.

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use fluidcloud_core::config::Settings;
use fluidcloud_core::runtime::{init_logging, shutdown_signal};
use fluidcloud_db::Store;
use fluidcloud_services::ServiceContext;

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
    let store = Store::open_for_service(&settings.database)
        .await
        .context("opening the metadata database")?;
    let context = ServiceContext::from_settings(store, std::sync::Arc::new(settings.clone()))?;
    let listener = tokio::net::TcpListener::bind(settings.worker.listen)
        .await
        .with_context(|| format!("binding {}", settings.worker.listen))?;
    tracing::info!(addr = %settings.worker.listen, "fluidcloud-worker health and metrics listening");
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let health = fluidcloud_http::serve::serve(
        listener,
        fluidcloud_worker::health_router(context.clone()),
        settings.listeners.header_read_timeout(),
        async move {
            let mut stopped = stopped;
            let _ = stopped.wait_for(|stop| *stop).await;
        },
    );
    let health = tokio::spawn(health);
    let grace = std::time::Duration::from_secs(settings.shutdown.grace_secs);
    fluidcloud_worker::run(context, settings.worker.clone(), grace, shutdown_signal()).await;
    let _ = stop.send(true);
    health.await??;
    Ok(())
}
