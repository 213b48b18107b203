//! `fluidcloud`: the command-line tool.
//!
//! - `dev` runs the API, the files server, the worker and an embedded object store in
//!   one process on SQLite, with a ready-made tenant and key;
//! - `migrate` brings a database's schema up to date;
//! - `admin` manages tenants, plans and API keys (printing JSON).

mod admin;
mod dev;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "fluidcloud", version, about = "FluidCloud server tools")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run everything in one process on the embedded default (SQLite, embedded S3).
    Dev(dev::DevArgs),
    /// Apply pending schema migrations.
    Migrate {
        /// postgres://… or sqlite://… (or read from the file that
        /// FLUIDCLOUD__DATABASE__URL_FILE names)
        #[arg(
            long,
            env = "FLUIDCLOUD__DATABASE__URL",
            required = std::env::var_os("FLUIDCLOUD__DATABASE__URL_FILE").is_none()
        )]
        database_url: Option<String>,
    },
    /// Manage tenants and API keys. Prints JSON on stdout.
    Admin(admin::AdminArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Dev(args) => dev::run(args).await,
            Command::Migrate { database_url } => migrate(database_url).await,
            Command::Admin(args) => admin::run(args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn migrate(database_url: Option<String>) -> anyhow::Result<()> {
    use fluidcloud_core::config::{ExposeSecret, Settings};
    let database_url = &match database_url {
        Some(url) => url,
        None => Settings::load(None)?
            .database
            .url
            .expose_secret()
            .to_owned(),
    };
    let store = fluidcloud_db::Store::connect(database_url, &Default::default()).await?;
    store.migrate().await?;
    store.close().await;
    print_json(&serde_json::json!({
        "migrated": true,
        "database": fluidcloud_db::redact(database_url),
    }))
}

/// Writes one JSON document to stdout: the CLI's only output channel for results.
pub(crate) fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut stdout, value)?;
    writeln!(stdout)?;
    Ok(())
}

/// The SQLite URL of the database in a data folder.
pub(crate) fn sqlite_url(data_dir: &std::path::Path) -> String {
    format!("sqlite://{}", data_dir.join("fluidcloud.db").display())
}

/// The default data folder of `fluidcloud dev`.
pub(crate) fn default_data_dir() -> PathBuf {
    PathBuf::from(".fluidcloud")
}
