//! The configuration's tests: layers, unknown keys, secret files, ranges, docs.

use super::schema::levenshtein;
use super::*;

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
        "[listeners]\nheader_read_timeout_secs = 0",
        "[listeners]\nbody_read_timeout_secs = 0",
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

/// Every key of `config/default.toml` has its entry in docs/configuration.md
/// (regenerate it with `scripts/config-doc`).
#[test]
fn every_key_is_documented() {
    let doc = include_str!("../../../../docs/configuration.md");
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

#[test]
#[expect(
    clippy::result_large_err,
    reason = "the closure's error type is figment's"
)]
fn cors_origins_are_read_from_a_file_or_the_environment_and_checked() {
    use crate::cors::AllowedOrigins;
    assert_eq!(
        with("").unwrap().api.cors_allowed_origins,
        AllowedOrigins::None
    );
    assert_eq!(
        with("[api]\ncors_allowed_origins = [\"*\"]")
            .unwrap()
            .api
            .cors_allowed_origins,
        AllowedOrigins::Any
    );
    let err = with("[api]\ncors_allowed_origins = [\"https://a.example/app\"]")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("cors_allowed_origins") && err.contains("https://a.example/app"),
        "{err}"
    );
    figment::Jail::expect_with(|jail| {
        jail.set_env(
            "FLUIDCLOUD__API__CORS_ALLOWED_ORIGINS",
            r#"["http://127.0.0.1:3000", "https://App.example.com"]"#,
        );
        let settings = Settings::load(None).unwrap();
        assert_eq!(
            settings.api.cors_allowed_origins,
            AllowedOrigins::List(vec![
                "http://127.0.0.1:3000".into(),
                "https://app.example.com".into()
            ])
        );
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
        assert!(matches!(&keys[1].origin, Origin::File(path) if path.ends_with("fluidcloud.toml")));
        assert!(
            message.contains("unknown key `storage.secret_acess_key` in ")
                && message.contains("fluidcloud.toml; did you mean `storage.secret_access_key`?"),
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
            message
                .contains("cannot read FLUIDCLOUD__STORAGE__SECRET_ACCESS_KEY_FILE (missing/s3)"),
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
