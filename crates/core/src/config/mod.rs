//! Layered configuration: the built-in `config/default.toml`, then an optional file
//! named with `--config`, then `FLUIDCLOUD__SECTION__KEY` environment variables.
//!
//! Every key is documented in `config/default.toml`, which is compiled into the
//! binaries so they run with no file on disk. Those keys are the schema: a key that is
//! not among them (a misspelling, a key from another version) stops the process with
//! an error naming it, where it was set and the closest valid key, rather than being
//! silently ignored. Secrets ([`FILE_KEYS`] and every `signing.keys.<id>`) can also be
//! read from a file named by `<key>_file`, e.g.
//! `FLUIDCLOUD__STORAGE__SECRET_ACCESS_KEY_FILE=/run/secrets/s3`; they are held in
//! [`SecretString`]s, which print as `[REDACTED]`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider, Source};
use serde::Deserialize;

pub use secrecy::{ExposeSecret, SecretString};

/// The defaults, exactly as shipped in `config/default.toml`.
pub const DEFAULT_TOML: &str = include_str!("../../../../config/default.toml");

/// Prefix of configuration environment variables; `__` separates section and key.
pub const ENV_PREFIX: &str = "FLUIDCLOUD__";

/// Secrets that can be given as a file instead, with `<key>_file` (besides every
/// `signing.keys.<id>`, as `signing.keys.<id>_file`).
pub const FILE_KEYS: [&str; 3] = [
    "database.url",
    "storage.access_key_id",
    "storage.secret_access_key",
];

/// What a key ends with when its value is the path of a file holding the secret.
const FILE_SUFFIX: &str = "_file";

/// The one map whose keys the operator chooses: signing key ids.
const FREE_FORM: &str = "signing.keys";

/// Everything a FluidCloud process can be configured with.
#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub database: DatabaseSettings,
    pub storage: StorageSettings,
    pub api: ApiSettings,
    pub auth: AuthSettings,
    pub rate_limits: RateLimitSettings,
    pub uploads: UploadSettings,
    pub scan: ScanSettings,
    pub import: ImportSettings,
    pub worker: WorkerSettings,
    pub files: FilesSettings,
    pub signing: SigningSettings,
    pub trash: TrashSettings,
    pub shutdown: ShutdownSettings,
    pub listeners: ListenerSettings,
    pub log: LogSettings,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ListenerSettings {
    /// Seconds a client has to send a request's headers (and an idle keep-alive
    /// connection waits for the next request).
    pub header_read_timeout_secs: u64,
    /// Seconds a request body may go without a byte arriving (the embedded store's
    /// uploads).
    pub body_read_timeout_secs: u64,
}

impl ListenerSettings {
    pub fn header_read_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.header_read_timeout_secs)
    }

    pub fn body_read_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.body_read_timeout_secs)
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct ShutdownSettings {
    /// Seconds a service waits for in-flight requests (and the worker for its jobs)
    /// after SIGTERM before it exits anyway.
    pub grace_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct StorageSettings {
    pub endpoint: String,
    /// Empty: presigned URLs use `endpoint`.
    pub public_endpoint: String,
    pub region: String,
    pub bucket: String,
    pub access_key_id: String,
    pub secret_access_key: SecretString,
    pub force_path_style: bool,
    pub connect_timeout_secs: u64,
    pub request_timeout_secs: u64,
    pub stall_timeout_secs: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RateLimitBackend {
    /// The database on PostgreSQL (shared by instances), memory on SQLite.
    Auto,
    Memory,
    Database,
    Off,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RateLimitSettings {
    pub backend: RateLimitBackend,
    pub window_secs: u64,
    pub requests_per_minute: i64,
    pub shares_per_minute: i64,
    pub initiates_per_minute: i64,
    pub imports_per_minute: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct UploadSettings {
    /// Seconds a single-PUT upload URL stays valid; the upload (and its reservation)
    /// lapses with it.
    pub url_ttl_secs: u64,
    /// Seconds a multipart upload's part URLs stay valid; the upload lapses with them.
    pub part_url_ttl_secs: u64,
    pub multipart_threshold_bytes: u64,
    pub min_part_size_bytes: u64,
    pub max_parts: u64,
    pub max_file_bytes: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScanEngine {
    Builtin,
    Clamd,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ScanSettings {
    pub engine: ScanEngine,
    pub clamd_address: String,
    pub timeout_secs: u64,
    /// Empty: only the EICAR signature.
    pub signatures_file: String,
    /// Seconds `complete` waits for a scan verdict before answering `pending`
    /// (0: never scans inline).
    pub inline_budget_secs: u64,
    pub max_bytes: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ImportSettings {
    pub allow_private_networks: bool,
    /// CIDR blocks (`10.1.2.0/24`, `fd00::/8`) allowed even when private networks are not.
    pub allowed_networks: Vec<String>,
    pub timeout_secs: u64,
    pub max_bytes: u64,
    pub max_redirects: usize,
    pub max_concurrent: usize,
    /// Downloads one tenant may have in progress at once, within `max_concurrent`.
    pub max_concurrent_per_tenant: usize,
}

#[derive(Debug, Clone, Deserialize)]
pub struct WorkerSettings {
    /// Where the worker serves `/healthz`, `/readyz` and `/metrics`.
    pub listen: SocketAddr,
    pub concurrency: usize,
    pub poll_interval_ms: u64,
    pub lease_secs: u64,
    pub sweep_interval_secs: u64,
    pub job_timeout_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TrashSettings {
    /// Days after which trashed files and folders are purged; 0 keeps them until
    /// emptied by hand.
    pub retention_days: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SigningSettings {
    /// Id of the key that signs new links.
    pub current: String,
    /// Every key still accepted, by id.
    pub keys: BTreeMap<String, SecretString>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DatabaseSettings {
    /// `postgres://…` or `sqlite://…`; secret, as it may hold a password.
    pub url: SecretString,
    pub max_connections: u32,
    pub acquire_timeout_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ApiSettings {
    pub listen: SocketAddr,
    pub request_timeout_secs: u64,
    pub max_json_body_bytes: usize,
    /// Origins browser pages may call the API from (checked when read: each must be an
    /// origin, or `*` alone).
    pub cors_allowed_origins: crate::cors::AllowedOrigins,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AuthSettings {
    pub cache_ttl_secs: u64,
    pub cache_max_entries: usize,
}

#[derive(Debug, Clone, Deserialize)]
pub struct FilesSettings {
    pub listen: SocketAddr,
    /// Origin of the files server as clients reach it, e.g. `https://files.example.com`.
    pub public_url: String,
    pub download_url_ttl_secs: u64,
    pub cache_bytes: u64,
    pub cache_max_object_bytes: u64,
    pub lookup_cache_ttl_secs: u64,
    pub lookup_cache_max_entries: usize,
    pub password_cache_secs: u64,
    /// Extra content types always served as attachments.
    pub active_types: Vec<String>,
    /// Requests per rate-limit window per client address; 0 turns the limit off.
    pub rate_limit_per_ip: i64,
    /// Wrong link passwords per client address and minute; 0 turns the limit off.
    pub password_failures_per_ip: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LogSettings {
    /// `json` (one object per line) or `pretty`.
    pub format: LogFormat,
    /// A `tracing` filter, e.g. `info` or `fluidcloud_api=debug,info`.
    pub level: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Json,
    Pretty,
}

/// A configuration that could not be read or does not fit the schema.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A layer could not be read, or a value does not fit its setting.
    #[error("invalid configuration: {0}")]
    Invalid(#[from] Box<figment::Error>),
    /// A value outside what the service can work with.
    #[error("invalid configuration: {0}")]
    OutOfRange(String),
    /// Keys that no setting has.
    #[error("invalid configuration: {}", KeyList(.0))]
    UnknownKeys(Vec<UnknownKey>),
}

/// A key that no setting has, usually a misspelling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownKey {
    /// The dotted path, e.g. `storage.secret_acess_key`.
    pub key: String,
    /// Where it was set.
    pub origin: Origin,
    /// The valid key closest to it.
    pub suggestion: Option<String>,
}

/// Where a configuration value was set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// An environment variable, by name.
    Env(String),
    /// A `--config` file.
    File(PathBuf),
    /// Anything else (a layer added in code), as figment describes it.
    Other(String),
}

impl fmt::Display for UnknownKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.origin {
            Origin::Env(variable) => write!(
                f,
                "unknown key `{}` in environment variable {variable}",
                self.key
            )?,
            Origin::File(path) => write!(f, "unknown key `{}` in {}", self.key, path.display())?,
            Origin::Other(origin) => write!(f, "unknown key `{}` in {origin}", self.key)?,
        }
        match (&self.suggestion, &self.origin) {
            (Some(key), Origin::Env(_)) => {
                write!(f, "; did you mean {} (`{key}`)?", env_var_name(key))
            }
            (Some(key), _) => write!(f, "; did you mean `{key}`?"),
            (None, _) => Ok(()),
        }
    }
}

/// Lists unknown keys one a line.
struct KeyList<'a>(&'a [UnknownKey]);

impl fmt::Display for KeyList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            [one] => write!(f, "{one}"),
            many => {
                write!(f, "{} unknown keys", many.len())?;
                for key in many {
                    write!(f, "\n  {key}")?;
                }
                Ok(())
            }
        }
    }
}

impl Settings {
    /// The layered figment, for callers that want to add their own layer on top.
    pub fn figment(file: Option<&Path>) -> Figment {
        let mut figment = Figment::from(Toml::string(DEFAULT_TOML));
        if let Some(file) = file {
            figment = figment.merge(SecretFiles {
                inner: Toml::file_exact(file),
                layer: Layer::File,
            });
        }
        figment.merge(SecretFiles {
            inner: Env::prefixed(ENV_PREFIX).split("__"),
            layer: Layer::Env,
        })
    }

    /// Reads the defaults, the optional file and the environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::from_figment(&Self::figment(file))
    }

    /// The settings of a figment whose every key is one of the defaults'.
    pub fn from_figment(figment: &Figment) -> Result<Self, ConfigError> {
        let unknown = unknown_keys(figment)?;
        if !unknown.is_empty() {
            return Err(ConfigError::UnknownKeys(unknown));
        }
        let settings: Settings = figment
            .extract()
            .map_err(|e| ConfigError::Invalid(Box::new(e)))?;
        settings.check_ranges()?;
        Ok(settings)
    }

    /// Values that parse but cannot work, refused at startup rather than at the first
    /// request they would break.
    pub fn check_ranges(&self) -> Result<(), ConfigError> {
        /// SigV4 presigned URLs cannot outlive a week.
        const MAX_PRESIGN_SECS: u64 = 7 * 24 * 3600;
        let out = |message: String| Err(ConfigError::OutOfRange(message));
        for (key, value) in [
            ("uploads.url_ttl_secs", self.uploads.url_ttl_secs),
            ("uploads.part_url_ttl_secs", self.uploads.part_url_ttl_secs),
        ] {
            if !(1..=MAX_PRESIGN_SECS).contains(&value) {
                return out(format!(
                    "{key} = {value}: must be between 1 and {MAX_PRESIGN_SECS} seconds (7 days, the longest a presigned URL can live)"
                ));
            }
        }
        for (key, value) in [
            (
                "storage.connect_timeout_secs",
                self.storage.connect_timeout_secs,
            ),
            (
                "storage.request_timeout_secs",
                self.storage.request_timeout_secs,
            ),
            (
                "storage.stall_timeout_secs",
                self.storage.stall_timeout_secs,
            ),
        ] {
            if !(1..=3600).contains(&value) {
                return out(format!(
                    "{key} = {value}: must be between 1 and 3600 seconds"
                ));
            }
        }
        let header = self.listeners.header_read_timeout_secs;
        if !(1..=300).contains(&header) {
            return out(format!(
                "listeners.header_read_timeout_secs = {header}: must be between 1 and 300 seconds"
            ));
        }
        let body = self.listeners.body_read_timeout_secs;
        if !(1..=300).contains(&body) {
            return out(format!(
                "listeners.body_read_timeout_secs = {body}: must be between 1 and 300 seconds"
            ));
        }
        let budget = self.scan.inline_budget_secs;
        let timeout = self.api.request_timeout_secs;
        if budget > 0 && budget >= timeout {
            return out(format!(
                "scan.inline_budget_secs = {budget} must be below api.request_timeout_secs = {timeout}, or `complete` would time out before answering `pending`"
            ));
        }
        Ok(())
    }
}

mod schema;
mod secret_files;
#[cfg(test)]
mod tests;

use schema::unknown_keys;
use secret_files::{Layer, SecretFiles, env_var_name};
