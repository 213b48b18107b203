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
pub const DEFAULT_TOML: &str = include_str!("../../../config/default.toml");

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
    pub secret_access_key: SecretString,
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

/// How a layer names its keys in errors.
#[derive(Debug, Clone, Copy)]
enum Layer {
    /// `FLUIDCLOUD__SECTION__KEY`.
    Env,
    /// `section.key` (figment adds the file's path).
    File,
}

impl Layer {
    fn name(self, path: &[&str]) -> String {
        match self {
            Layer::Env => env_var_name(&path.join(".")),
            Layer::File => format!("`{}`", path.join(".")),
        }
    }
}

/// A layer whose `<secret>_file` keys are replaced by the contents of the files they
/// name, so that a later layer's secret (in any form) still wins over an earlier one.
struct SecretFiles<P> {
    inner: P,
    layer: Layer,
}

impl<P: Provider> Provider for SecretFiles<P> {
    fn metadata(&self) -> Metadata {
        self.inner.metadata()
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let mut data = self.inner.data()?;
        for dict in data.values_mut() {
            for key in FILE_KEYS {
                let (section, name) = key.split_once('.').expect("section.key");
                if let Some(Value::Dict(_, settings)) = dict.get_mut(section) {
                    read_secret_file(settings, &[section], name, self.layer)
                        .map_err(figment::Error::from)?;
                }
            }
            let (section, map) = FREE_FORM.split_once('.').expect("section.key");
            if let Some(Value::Dict(_, settings)) = dict.get_mut(section)
                && let Some(Value::Dict(_, keys)) = settings.get_mut(map)
            {
                let ids: Vec<String> = keys
                    .keys()
                    .filter_map(|key| key.strip_suffix(FILE_SUFFIX))
                    .filter(|id| !id.is_empty())
                    .map(str::to_owned)
                    .collect();
                for id in ids {
                    read_secret_file(keys, &[section, map], &id, self.layer)
                        .map_err(figment::Error::from)?;
                }
            }
        }
        Ok(data)
    }

    fn profile(&self) -> Option<Profile> {
        self.inner.profile()
    }
}

/// Replaces `<name>_file` in `settings` (the table at `path`) by `<name>`, the named
/// file's contents less trailing newlines.
fn read_secret_file(
    settings: &mut Dict,
    path: &[&str],
    name: &str,
    layer: Layer,
) -> Result<(), String> {
    let file_key = format!("{name}{FILE_SUFFIX}");
    let Some(value) = settings.remove(&file_key) else {
        return Ok(());
    };
    let key_name = |key: &str| {
        let mut full = path.to_vec();
        full.push(key);
        layer.name(&full)
    };
    if settings.contains_key(name) {
        return Err(format!(
            "{} and {} are both set; set only one of them",
            key_name(name),
            key_name(&file_key)
        ));
    }
    let Value::String(_, file) = value else {
        return Err(format!(
            "{} must be the path of a file",
            key_name(&file_key)
        ));
    };
    let secret = std::fs::read_to_string(&file)
        .map_err(|e| format!("cannot read {} ({file}): {e}", key_name(&file_key)))?;
    let secret = secret.trim_end_matches(['\n', '\r']).to_owned();
    settings.insert(name.to_owned(), Value::from(secret));
    Ok(())
}

/// The environment variable that sets a dotted key.
fn env_var_name(key: &str) -> String {
    format!("{ENV_PREFIX}{}", key.replace('.', "__").to_uppercase())
}

/// The keys of the defaults: every setting (leaves) and every table (sections).
struct Schema {
    leaves: BTreeSet<String>,
    sections: BTreeSet<String>,
}

impl Schema {
    fn of_defaults() -> Schema {
        fn walk(path: &str, value: &Value, schema: &mut Schema) {
            match value {
                Value::Dict(_, dict) => {
                    schema.sections.insert(path.to_owned());
                    for (key, child) in dict {
                        walk(&join(path, key), child, schema);
                    }
                }
                _ => {
                    schema.leaves.insert(path.to_owned());
                }
            }
        }
        let mut schema = Schema {
            leaves: BTreeSet::new(),
            sections: BTreeSet::new(),
        };
        let defaults = Figment::from(Toml::string(DEFAULT_TOML))
            .find_value("")
            .expect("the built-in defaults parse");
        walk("", &defaults, &mut schema);
        schema
    }

    /// Whether `key` names a setting, or an entry of the free-form map.
    fn knows(&self, key: &str) -> bool {
        self.leaves.contains(key)
            || key
                .strip_prefix(FREE_FORM)
                .is_some_and(|rest| rest.starts_with('.'))
    }

    /// The valid key closest to an unknown one: by edit distance of the whole key, or
    /// of its last part (a setting put in the wrong section), preferring its section
    /// and then the longest common start.
    fn closest(&self, unknown: &str) -> Option<String> {
        let leaf = |key: &str| key.rsplit('.').next().unwrap_or_default().to_owned();
        let section = |key: &str| key.split('.').next().unwrap_or_default().to_owned();
        let mut candidates: Vec<String> = self.leaves.iter().cloned().collect();
        candidates.extend(FILE_KEYS.iter().map(|key| format!("{key}{FILE_SUFFIX}")));
        if section(unknown) == section(FREE_FORM) && unknown.contains('.') {
            candidates.push(join(FREE_FORM, &leaf(unknown)));
        }
        candidates
            .into_iter()
            .map(|candidate| {
                let distance = levenshtein(unknown, &candidate)
                    .min(levenshtein(&leaf(unknown), &leaf(&candidate)) + 2);
                let elsewhere = section(unknown) != section(&candidate);
                // Among equally distant keys, the one that starts the same way
                // (`secret_key` is closer to `secret_access_key` than to `bucket`).
                let shared = unknown
                    .chars()
                    .zip(candidate.chars())
                    .take_while(|(a, b)| a == b)
                    .count();
                ((distance, elsewhere, std::cmp::Reverse(shared)), candidate)
            })
            .min()
            .map(|(_, candidate)| candidate)
    }
}

/// Every key of `figment` that is not a setting, with where it was set.
fn unknown_keys(figment: &Figment) -> Result<Vec<UnknownKey>, ConfigError> {
    fn walk(
        path: &str,
        value: &Value,
        schema: &Schema,
        figment: &Figment,
        found: &mut Vec<UnknownKey>,
    ) {
        if schema.knows(path) {
            return;
        }
        match value {
            Value::Dict(_, dict) if !dict.is_empty() || schema.sections.contains(path) => {
                for (key, child) in dict {
                    walk(&join(path, key), child, schema, figment, found);
                }
            }
            // A value where a table belongs: extracting reports it with its type.
            _ if schema.sections.contains(path) => {}
            _ => found.push(UnknownKey {
                key: path.to_owned(),
                origin: origin(figment.get_metadata(value.tag()), path),
                suggestion: schema.closest(path),
            }),
        }
    }
    let root = figment.find_value("").map_err(Box::new)?;
    let mut found = Vec::new();
    walk("", &root, &Schema::of_defaults(), figment, &mut found);
    Ok(found)
}

/// Where the value at `key` came from, as an operator would look for it.
fn origin(metadata: Option<&Metadata>, key: &str) -> Origin {
    let env = Env::prefixed(ENV_PREFIX).metadata();
    match metadata {
        Some(metadata) if metadata.source.is_none() && metadata.name == env.name => {
            Origin::Env(env_var_name(key))
        }
        Some(Metadata {
            source: Some(Source::File(path)),
            ..
        }) => Origin::File(path.clone()),
        Some(Metadata {
            name,
            source: Some(source),
            ..
        }) => Origin::Other(format!("{name} at {source}")),
        Some(metadata) => Origin::Other(metadata.name.to_string()),
        None => Origin::Other("an unnamed layer".to_owned()),
    }
}

/// `section.key`, or `key` at the root.
fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// The number of one-character insertions, deletions and substitutions that turn `a`
/// into `b`.
fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, a) in a.chars().enumerate() {
        current[0] = i + 1;
        for (j, b) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(a != *b);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {

    fn with(overrides: &str) -> Result<Settings, ConfigError> {
        Settings::from_figment(
            &Figment::from(Toml::string(DEFAULT_TOML)).merge(Toml::string(overrides)),
        )
    }

    #[test]
    fn upload_ttls_and_the_scan_budget_out_of_range_are_refused() {
        assert!(with("").is_ok());
        for bad in [
            "[uploads]\nurl_ttl_secs = 0",
            "[uploads]\nurl_ttl_secs = 604801",
            "[uploads]\npart_url_ttl_secs = 0",
            "[scan]\ninline_budget_secs = 60",
            "[scan]\ninline_budget_secs = 30\n[api]\nrequest_timeout_secs = 20",
        ] {
            let err = with(bad).expect_err(bad).to_string();
            let key = bad.lines().last().unwrap().split(' ').next().unwrap();
            assert!(err.contains(key), "{bad}: {err}");
        }
        assert!(with("[uploads]\nurl_ttl_secs = 604800").is_ok());
        assert!(with("[scan]\ninline_budget_secs = 0").is_ok());
    }

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
            assert_eq!(settings.database.url.expose_secret(), "postgres://db/x");
            assert_eq!(settings.api.listen.port(), 9000);
            Ok(())
        });
    }

    /// The error of loading with `file` (relative to the jail) and the jail's variables.
    fn load_error(file: Option<&str>) -> ConfigError {
        Settings::load(file.map(Path::new)).expect_err("the configuration is refused")
    }

    fn unknown(error: ConfigError) -> Vec<UnknownKey> {
        match error {
            ConfigError::UnknownKeys(keys) => keys,
            other => panic!("expected unknown keys, got {other}"),
        }
    }

    #[test]
    #[expect(
        clippy::result_large_err,
        reason = "the closure's error type is figment's"
    )]
    fn unknown_key_in_a_file_is_refused_with_the_closest_key() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "fluidcloud.toml",
                "[storage]\nbucket = \"b\"\nsecret_acess_key = \"x\"\n\n[api]\ncache_ttl_secs = 5\n",
            )?;
            let error = load_error(Some("fluidcloud.toml"));
            let message = error.to_string();
            let keys = unknown(error);
            assert_eq!(keys.len(), 2, "{message}");
            assert_eq!(keys[0].key, "api.cache_ttl_secs");
            // A setting in the wrong section points at the right one.
            assert_eq!(keys[0].suggestion.as_deref(), Some("auth.cache_ttl_secs"));
            assert_eq!(keys[1].key, "storage.secret_acess_key");
            assert_eq!(
                keys[1].suggestion.as_deref(),
                Some("storage.secret_access_key")
            );
            assert!(
                matches!(&keys[1].origin, Origin::File(path) if path.ends_with("fluidcloud.toml"))
            );
            assert!(
                message.contains("unknown key `storage.secret_acess_key` in ")
                    && message
                        .contains("fluidcloud.toml; did you mean `storage.secret_access_key`?"),
                "{message}"
            );
            jail.create_file("short.toml", "[storage]\nsecret_key = \"x\"\n")?;
            let keys = unknown(load_error(Some("short.toml")));
            assert_eq!(
                keys[0].suggestion.as_deref(),
                Some("storage.secret_access_key")
            );
            // A misspelt section.
            jail.create_file("section.toml", "[storge]\nbucket = \"b\"\n")?;
            let keys = unknown(load_error(Some("section.toml")));
            assert_eq!(keys[0].key, "storge.bucket");
            assert_eq!(keys[0].suggestion.as_deref(), Some("storage.bucket"));
            Ok(())
        });
    }

    #[test]
    #[expect(
        clippy::result_large_err,
        reason = "the closure's error type is figment's"
    )]
    fn unknown_environment_variable_is_refused_naming_it() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("FLUIDCLOUD__STORAGE__SECRET_ACESS_KEY", "x");
            let error = load_error(None);
            let message = error.to_string();
            assert_eq!(
                message,
                "invalid configuration: unknown key `storage.secret_acess_key` in environment \
                 variable FLUIDCLOUD__STORAGE__SECRET_ACESS_KEY; did you mean \
                 FLUIDCLOUD__STORAGE__SECRET_ACCESS_KEY (`storage.secret_access_key`)?"
            );
            assert_eq!(
                unknown(error)[0].origin,
                Origin::Env("FLUIDCLOUD__STORAGE__SECRET_ACESS_KEY".into())
            );
            // One underscore too few between section and key, and a key with no
            // section.
            jail.clear_env();
            jail.set_env("FLUIDCLOUD__STORAGE_BUCKET", "x");
            jail.set_env("FLUIDCLOUD__LISTEN", "0.0.0.0:1");
            let keys = unknown(load_error(None));
            assert_eq!(keys[0].key, "listen");
            assert_eq!(keys[0].suggestion.as_deref(), Some("api.listen"));
            assert_eq!(keys[1].key, "storage_bucket");
            assert_eq!(keys[1].suggestion.as_deref(), Some("storage.bucket"));
            Ok(())
        });
    }

    #[test]
    #[expect(
        clippy::result_large_err,
        reason = "the closure's error type is figment's"
    )]
    fn any_signing_key_id_is_valid() {
        figment::Jail::expect_with(|jail| {
            jail.set_env(
                "FLUIDCLOUD__SIGNING__KEYS__ANY-ID_2",
                "a secret of sixteen bytes",
            );
            jail.set_env("FLUIDCLOUD__SIGNING__CURRENT", "any-id_2");
            let settings = Settings::load(None).unwrap();
            assert_eq!(
                settings.signing.keys["any-id_2"].expose_secret(),
                "a secret of sixteen bytes"
            );
            // `keys` misspelt is not free-form.
            jail.set_env("FLUIDCLOUD__SIGNING__KEY__K1", "a secret of sixteen bytes");
            let message = load_error(None).to_string();
            assert!(
                message.contains("did you mean FLUIDCLOUD__SIGNING__KEYS__K1 (`signing.keys.k1`)?"),
                "{message}"
            );
            Ok(())
        });
    }

    #[test]
    #[expect(
        clippy::result_large_err,
        reason = "the closure's error type is figment's"
    )]
    fn secrets_are_read_from_files() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("db", "postgres://u:db-password@h/db\n")?;
            jail.create_file("id", "access-id")?;
            jail.create_file("s3", "s3 secret value\r\n")?;
            jail.create_file("k1", "signing key one from a file\n")?;
            jail.create_file("k2", "signing key two from a file\n")?;
            jail.set_env("FLUIDCLOUD__DATABASE__URL_FILE", "db");
            jail.set_env("FLUIDCLOUD__STORAGE__ACCESS_KEY_ID_FILE", "id");
            jail.set_env("FLUIDCLOUD__STORAGE__SECRET_ACCESS_KEY_FILE", "s3");
            jail.set_env("FLUIDCLOUD__SIGNING__KEYS__K1_FILE", "k1");
            jail.set_env("FLUIDCLOUD__SIGNING__CURRENT", "k1");
            // In a --config file too, as `<key>_file`.
            jail.create_file("fluidcloud.toml", "[signing.keys]\nk2_file = \"k2\"\n")?;
            let settings = Settings::load(Some(Path::new("fluidcloud.toml"))).unwrap();
            assert_eq!(
                settings.database.url.expose_secret(),
                "postgres://u:db-password@h/db"
            );
            assert_eq!(settings.storage.access_key_id, "access-id");
            assert_eq!(
                settings.storage.secret_access_key.expose_secret(),
                "s3 secret value"
            );
            let keys: Vec<(&str, &str)> = settings
                .signing
                .keys
                .iter()
                .map(|(id, secret)| (id.as_str(), secret.expose_secret()))
                .collect();
            assert_eq!(
                keys,
                [
                    ("k1", "signing key one from a file"),
                    ("k2", "signing key two from a file")
                ]
            );
            // A later layer's secret wins over an earlier layer's file.
            jail.set_env("FLUIDCLOUD__SIGNING__KEYS__K2", "signing key two, env");
            let settings = Settings::load(Some(Path::new("fluidcloud.toml"))).unwrap();
            assert_eq!(
                settings.signing.keys["k2"].expose_secret(),
                "signing key two, env"
            );
            Ok(())
        });
    }

    #[test]
    #[expect(
        clippy::result_large_err,
        reason = "the closure's error type is figment's"
    )]
    fn unreadable_secret_file_is_refused_naming_the_variable() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("FLUIDCLOUD__STORAGE__SECRET_ACCESS_KEY_FILE", "missing/s3");
            let message = load_error(None).to_string();
            assert!(
                message.contains(
                    "cannot read FLUIDCLOUD__STORAGE__SECRET_ACCESS_KEY_FILE (missing/s3)"
                ),
                "{message}"
            );
            jail.clear_env();
            jail.create_file("s3", "secret")?;
            jail.set_env("FLUIDCLOUD__STORAGE__SECRET_ACCESS_KEY_FILE", "s3");
            jail.set_env("FLUIDCLOUD__STORAGE__SECRET_ACCESS_KEY", "secret");
            let message = load_error(None).to_string();
            assert!(
                message.contains(
                    "FLUIDCLOUD__STORAGE__SECRET_ACCESS_KEY and \
                     FLUIDCLOUD__STORAGE__SECRET_ACCESS_KEY_FILE are both set"
                ),
                "{message}"
            );
            jail.clear_env();
            jail.create_file("fluidcloud.toml", "[signing.keys]\nk1_file = \"nowhere\"\n")?;
            let message = load_error(Some("fluidcloud.toml")).to_string();
            assert!(
                message.contains("cannot read `signing.keys.k1_file` (nowhere)"),
                "{message}"
            );
            Ok(())
        });
    }

    #[test]
    #[expect(
        clippy::result_large_err,
        reason = "the closure's error type is figment's"
    )]
    fn secrets_are_absent_from_debug_output() {
        figment::Jail::expect_with(|jail| {
            const SECRETS: [&str; 3] = [
                "pg-password-3f9a",
                "s3-secret-key-77c1",
                "signing-key-value-5d2e",
            ];
            jail.set_env(
                "FLUIDCLOUD__DATABASE__URL",
                format!("postgres://fluidcloud:{}@db/fluidcloud", SECRETS[0]),
            );
            jail.set_env("FLUIDCLOUD__STORAGE__SECRET_ACCESS_KEY", SECRETS[1]);
            jail.set_env("FLUIDCLOUD__SIGNING__KEYS__K1", SECRETS[2]);
            jail.set_env("FLUIDCLOUD__SIGNING__CURRENT", "k1");
            let settings = Settings::load(None).unwrap();
            let signer = crate::signing::Signer::new(&settings.signing).unwrap();
            for debug in [
                format!("{settings:?}"),
                format!("{settings:#?}"),
                format!("{signer:?}"),
            ] {
                for secret in SECRETS {
                    assert!(!debug.contains(secret), "{secret} in {debug}");
                }
            }
            let debug = format!("{settings:?}");
            assert!(
                debug.contains("k1") && debug.contains("REDACTED"),
                "{debug}"
            );
            Ok(())
        });
    }

    #[test]
    fn levenshtein_counts_edits() {
        assert_eq!(levenshtein("", ""), 0);
        assert_eq!(levenshtein("kitten", "sitting"), 3);
        assert_eq!(levenshtein("bucket", ""), 6);
        assert_eq!(levenshtein("secret_acess_key", "secret_access_key"), 1);
    }
}
