//! `fluidcloud dev`: the whole server in one process on the embedded default.
//!
//! A partner's local backend and CI target: SQLite and the data under one folder, a
//! tenant `dev` with an unlimited plan, and a key with every scope written to
//! `<data-dir>/dev-key` (mode 0600) and reused by later runs. [`addresses`] decides
//! where it listens and which host its URLs name.

mod addresses;

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use figment::providers::Serialized;
use fluidcloud_core::api_key::{KeyMode, PresentedKey};
use fluidcloud_core::config::{ExposeSecret, Settings};
use fluidcloud_core::model::Plan;
use fluidcloud_core::runtime::{init_logging, shutdown_signal};
use fluidcloud_core::scope::Scopes;
use fluidcloud_db::{NewApiKey, NewTenant, Store};
use fluidcloud_storage::embedded::{self, Credentials};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Name of the tenant `fluidcloud dev` creates and uses.
const DEV_TENANT: &str = "dev";
/// File in the data folder holding the dev key's plaintext.
const DEV_KEY_FILE: &str = "dev-key";
/// The dev server's link-signing secret, beside its key.
const SIGNING_KEY_FILE: &str = "signing-key";
/// The embedded object store's key pair, in the data folder.
const STORE_CREDENTIALS_FILE: &str = "store-credentials";

#[derive(Args)]
pub struct DevArgs {
    /// Folder for the database and stored objects.
    #[arg(long, default_value_os_t = crate::default_data_dir())]
    data_dir: PathBuf,
    /// Where the API listens.
    #[arg(long, default_value = "127.0.0.1:8080")]
    api_addr: SocketAddr,
    /// Where the files (raw-link) server listens.
    #[arg(long, default_value = "127.0.0.1:8081")]
    files_addr: SocketAddr,
    /// Where the embedded S3-compatible object store listens.
    #[arg(long, default_value = "127.0.0.1:8082")]
    s3_addr: SocketAddr,
    /// Bind every listener to this address instead (keeping the ports above), e.g.
    /// 0.0.0.0 so other machines or containers can connect.
    #[arg(long, value_name = "ADDR")]
    listen: Option<IpAddr>,
    /// Host name or address that presigned upload URLs, raw links and the API URL name
    /// (default: the listening address, or 127.0.0.1 when listening on all).
    #[arg(long, value_name = "HOST")]
    public_host: Option<addresses::PublicHost>,
}

pub async fn run(mut args: DevArgs) -> anyhow::Result<()> {
    create_private_dir(&args.data_dir)?;
    let credentials = dev_store_credentials(&args.data_dir)?;
    // Bound first: with port 0 the system picks, and every URL must name its choice.
    let listen = |addr| addresses::bind_addr(addr, args.listen);
    let api_listener = bind(listen(args.api_addr), "API").await?;
    let files_listener = bind(listen(args.files_addr), "files server").await?;
    let s3_listener = bind(listen(args.s3_addr), "object store").await?;
    args.api_addr = api_listener.local_addr()?;
    args.files_addr = files_listener.local_addr()?;
    args.s3_addr = s3_listener.local_addr()?;
    let settings = Arc::new(dev_settings(&args, &credentials)?);
    init_logging(&settings.log);

    let store = Store::connect(
        settings.database.url.expose_secret(),
        &(&settings.database).into(),
    )
    .await?;
    store.migrate().await?;
    let key = ensure_dev_key(&store, &args.data_dir).await?;
    store.start_change_feed();

    let (stop, stopped) = watch::channel(false);
    let until_stopped = move || {
        let mut stopped = stopped.clone();
        async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        }
    };

    let mut tasks = tokio::task::JoinSet::new();
    let objects = embedded::serve(
        &args.data_dir.join("objects"),
        &credentials,
        &settings.api.cors_allowed_origins,
        &settings.listeners,
        s3_listener,
        until_stopped(),
    )?;
    tasks.spawn(objects);
    let state = fluidcloud_api::AppState::new(store.clone(), Arc::clone(&settings))?;
    state
        .objects
        .ensure_bucket()
        .await
        .context("creating the embedded bucket")?;
    let worker = tokio::spawn(fluidcloud_worker::run(
        state.services(),
        settings.worker.clone(),
        std::time::Duration::from_secs(settings.shutdown.grace_secs),
        until_stopped(),
    ));
    let files = fluidcloud_files::FilesState::new(store.clone(), state.objects.clone(), &settings)?;
    tasks.spawn(fluidcloud_api::serve(
        api_listener,
        fluidcloud_api::router(state),
        settings.listeners.header_read_timeout(),
        until_stopped(),
    ));
    tasks.spawn(fluidcloud_files::serve(
        files_listener,
        files,
        until_stopped(),
    ));

    print_banner(&args, &key);

    tokio::select! {
        () = shutdown_signal() => {}
        Some(result) = tasks.join_next() => {
            // A server stopped on its own: that is a failure, not a shutdown.
            result.context("server task panicked")?.context("server failed")?;
        }
    }
    let _ = stop.send(true);
    while let Some(result) = tasks.join_next().await {
        result
            .context("server task panicked")?
            .context("server failed")?;
    }
    let _ = worker.await;
    store.close().await;
    tracing::info!("fluidcloud dev stopped");
    Ok(())
}

/// The built-in defaults and `FLUIDCLOUD__*` variables, with the dev command's own
/// choices (database location, addresses, readable logs) on top.
fn dev_settings(args: &DevArgs, credentials: &Credentials) -> anyhow::Result<Settings> {
    let mut figment = Settings::figment(None);
    // Links need a signing key; unless the environment names one, a random one of
    // this data folder (links keep working across restarts, and never verify
    // anywhere else).
    let current: String = figment.extract_inner("signing.current").unwrap_or_default();
    if current.is_empty() {
        figment = figment
            .merge(Serialized::default("signing.current", "dev"))
            .merge(Serialized::default(
                "signing.keys.dev",
                dev_signing_secret(&args.data_dir)?,
            ));
    }
    let store_endpoint = addresses::internal_url(args.s3_addr);
    let store_public = addresses::public_url(args.s3_addr, args.public_host.as_ref());
    let figment = figment
        .merge(Serialized::default(
            "database.url",
            crate::sqlite_url(&args.data_dir),
        ))
        .merge(Serialized::default("api.listen", args.api_addr.to_string()))
        .merge(Serialized::default(
            "files.listen",
            args.files_addr.to_string(),
        ))
        .merge(Serialized::default(
            "files.public_url",
            addresses::public_url(args.files_addr, args.public_host.as_ref()),
        ))
        .merge(Serialized::default(
            "storage.endpoint",
            store_endpoint.clone(),
        ))
        .merge(Serialized::default(
            "storage.public_endpoint",
            // Empty: presigned URLs name the endpoint the services use.
            if store_public == store_endpoint {
                String::new()
            } else {
                store_public
            },
        ))
        .merge(Serialized::default("storage.bucket", "fluidcloud"))
        .merge(Serialized::default(
            "storage.access_key_id",
            &credentials.access_key_id,
        ))
        .merge(Serialized::default(
            "storage.secret_access_key",
            &credentials.secret_access_key,
        ))
        .merge(Serialized::default("storage.force_path_style", true))
        .merge(Serialized::default("log.format", "pretty"))
        .merge(Serialized::default("log.level", "warn"));
    Ok(Settings::from_figment(&figment)?)
}

async fn bind(addr: SocketAddr, what: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr).await.with_context(|| {
        format!("cannot listen on {addr} for the {what} (is another instance running?)")
    })
}

/// Reuses the key in `dev-key` while it still authenticates; otherwise mints a new one
/// for the `dev` tenant (created on first run) and writes it there.
async fn ensure_dev_key(store: &Store, data_dir: &Path) -> anyhow::Result<String> {
    let key_file = data_dir.join(DEV_KEY_FILE);
    if let Ok(existing) = std::fs::read_to_string(&key_file) {
        let existing = existing.trim();
        if let Some(parsed) = PresentedKey::parse(existing)
            && store.authenticate(&parsed.digest()).await?.is_some()
        {
            return Ok(existing.to_owned());
        }
    }
    let tenants = store.list_tenants().await?;
    let tenant = match tenants.into_iter().find(|t| t.name == DEV_TENANT) {
        Some(tenant) => tenant,
        None => {
            store
                .create_tenant(&NewTenant {
                    name: DEV_TENANT.to_owned(),
                    plan: Plan::unlimited(),
                })
                .await?
        }
    };
    let (_, plaintext) = store
        .create_api_key(&NewApiKey {
            tenant_id: tenant.id,
            label: "fluidcloud dev".to_owned(),
            mode: KeyMode::Test,
            scopes: Scopes::all(),
        })
        .await?;
    write_private(&key_file, &format!("{plaintext}\n"))?;
    Ok(plaintext)
}

/// The data folder, readable by its owner only (it holds the database, the objects
/// and the keys); an existing folder is tightened.
fn create_private_dir(path: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(path).with_context(|| format!("creating {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("restricting {} to its owner", path.display()))?;
    }
    Ok(())
}

/// The embedded store's key pair in `store-credentials` (access key, then secret),
/// made at random on first use: each data folder has its own.
fn dev_store_credentials(data_dir: &Path) -> anyhow::Result<Credentials> {
    let path = data_dir.join(STORE_CREDENTIALS_FILE);
    if let Ok(existing) = std::fs::read_to_string(&path) {
        let mut lines = existing.lines().map(str::trim);
        if let (Some(access), Some(secret)) = (lines.next(), lines.next())
            && !access.is_empty()
            && secret.len() >= 32
        {
            return Ok(Credentials {
                access_key_id: access.to_owned(),
                secret_access_key: secret.to_owned(),
            });
        }
    }
    let credentials = Credentials::generate();
    write_private(
        &path,
        &format!(
            "{}\n{}\n",
            credentials.access_key_id, credentials.secret_access_key
        ),
    )?;
    Ok(credentials)
}

/// The secret in `signing-key`, made on first use.
fn dev_signing_secret(data_dir: &Path) -> anyhow::Result<String> {
    let path = data_dir.join(SIGNING_KEY_FILE);
    if let Ok(existing) = std::fs::read_to_string(&path)
        && existing.trim().len() >= 32
    {
        return Ok(existing.trim().to_owned());
    }
    let secret = fluidcloud_core::signing::generate_secret();
    write_private(&path, &secret)?;
    Ok(secret)
}

/// Writes a file only its owner can read.
fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        // An older file keeps its mode on open; tighten it explicitly.
        if path.exists() {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        }
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(contents.as_bytes())?;
    Ok(())
}

#[expect(clippy::print_stdout, reason = "the banner is the command's output")]
fn print_banner(args: &DevArgs, key: &str) {
    let public = |addr| addresses::public_url(addr, args.public_host.as_ref());
    let api = public(args.api_addr);
    println!("FluidCloud dev server is ready.");
    println!();
    println!("  API base URL:   {api}");
    println!("  API:            {api}/api/v1");
    println!("  Files base URL: {}", public(args.files_addr));
    println!("  Object store:   {}", public(args.s3_addr));
    println!("  API key:        {key}");
    println!("  Data folder:    {}", args.data_dir.display());
    if args.api_addr.ip().is_unspecified() && args.public_host.is_none() {
        println!();
        println!(
            "Listening on every address, but URLs name this machine's loopback: add\n\
             --public-host HOST so presigned URLs and links work from other machines."
        );
    }
    println!();
    println!("Python SDK: FluidCloud(api_key=\"{key}\", base_url=\"{api}\")");
    println!("Press Ctrl-C to stop.");
}
