//! Layered configuration: the built-in `config/default.toml`, then an optional file
//! named with `--config`, then `FLUIDCLOUD__SECTION__KEY` environment variables.
//!
//! Every key is documented in `config/default.toml`, which is compiled into the
//! binaries so they run with no file on disk.

use std::net::SocketAddr;
use std::path::Path;

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use serde::Deserialize;

/// The defaults, exactly as shipped in `config/default.toml`.
pub const DEFAULT_TOML: &str = include_str!("../../../config/default.toml");

/// Prefix of configuration environment variables; `__` separates section and key.
pub const ENV_PREFIX: &str = "FLUIDCLOUD__";

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
    pub log: LogSettings,
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
    pub secret_access_key: String,
    pub force_path_style: bool,
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
    pub expiry_secs: u64,
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
    pub inline_max_bytes: u64,
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
    pub keys: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DatabaseSettings {
    /// `postgres://…` or `sqlite://…`.
    pub url: String,
    pub max_connections: u32,
    pub acquire_timeout_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ApiSettings {
    pub listen: SocketAddr,
    pub request_timeout_secs: u64,
    pub max_json_body_bytes: usize,
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
#[error("invalid configuration: {0}")]
pub struct ConfigError(#[from] Box<figment::Error>);

impl Settings {
    /// The layered figment, for callers that want to add their own layer on top.
    pub fn figment(file: Option<&Path>) -> Figment {
        let mut figment = Figment::from(Toml::string(DEFAULT_TOML));
        if let Some(file) = file {
            figment = figment.merge(Toml::file_exact(file));
        }
        figment.merge(Env::prefixed(ENV_PREFIX).split("__"))
    }

    /// Reads the defaults, the optional file and the environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::from_figment(&Self::figment(file))
    }

    pub fn from_figment(figment: &Figment) -> Result<Self, ConfigError> {
        figment.extract().map_err(|e| ConfigError(Box::new(e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every key of `config/default.toml` has its entry in docs/configuration.md
    /// (regenerate it with `scripts/config-doc`).
    #[test]
    fn every_key_is_documented() {
        let doc = include_str!("../../../docs/configuration.md");
        let figment = Figment::from(Toml::string(DEFAULT_TOML));
        let root = figment.find_value("").expect("the defaults parse");
        let mut keys = Vec::new();
        fn walk(prefix: &str, value: &figment::value::Value, keys: &mut Vec<String>) {
            match value {
                figment::value::Value::Dict(_, dict) if prefix == "signing.keys" => {
                    // A key in the defaults would be public, and trusted everywhere.
                    assert!(dict.is_empty(), "no signing key may ship in the defaults");
                }
                figment::value::Value::Dict(_, dict) => {
                    for (key, child) in dict {
                        let path = if prefix.is_empty() {
                            key.clone()
                        } else {
                            format!("{prefix}.{key}")
                        };
                        walk(&path, child, keys);
                    }
                }
                _ => keys.push(prefix.to_owned()),
            }
        }
        walk("", &root, &mut keys);
        assert!(keys.len() > 40);
        assert!(doc.contains("## `[signing.keys]`"));
        for key in keys {
            assert!(
                doc.contains(&format!("### `{key}`")),
                "{key} is missing from docs/configuration.md"
            );
        }
    }

    #[test]
    fn defaults_parse() {
        let settings = Settings::from_figment(&Figment::from(Toml::string(DEFAULT_TOML))).unwrap();
        assert_eq!(settings.api.max_json_body_bytes, 1024 * 1024);
        assert_eq!(settings.log.format, LogFormat::Json);
    }

    #[test]
    #[expect(
        clippy::result_large_err,
        reason = "the closure's error type is figment's"
    )]
    fn environment_overrides_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("FLUIDCLOUD__DATABASE__URL", "postgres://db/x");
            jail.set_env("FLUIDCLOUD__API__LISTEN", "0.0.0.0:9000");
            let settings = Settings::load(None).unwrap();
            assert_eq!(settings.database.url, "postgres://db/x");
            assert_eq!(settings.api.listen.port(), 9000);
            Ok(())
        });
    }
}
