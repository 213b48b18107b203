//! The `fluidcloud` command's configuration: the same checks as the services (unknown
//! keys stop it, secrets can come from files), with `dev`'s own settings on top.

use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_fluidcloud");

/// Runs `fluidcloud` with no configuration variables but `vars`.
fn fluidcloud(args: &[&str], vars: &[(&str, &str)]) -> Output {
    let mut command = Command::new(BIN);
    for (name, _) in std::env::vars() {
        if name.starts_with("FLUIDCLOUD__") {
            command.env_remove(name);
        }
    }
    command
        .args(args)
        .envs(vars.iter().copied())
        .output()
        .expect("run fluidcloud")
}

#[test]
fn dev_refuses_a_misspelt_variable() {
    let data = tempfile::tempdir().unwrap();
    let output = fluidcloud(
        &[
            "dev",
            "--data-dir",
            data.path().to_str().unwrap(),
            "--api-addr",
            "127.0.0.1:0",
            "--files-addr",
            "127.0.0.1:0",
            "--s3-addr",
            "127.0.0.1:0",
        ],
        &[("FLUIDCLOUD__UPLOADS__URL_TTL_SEC", "60")],
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "unknown key `uploads.url_ttl_sec` in environment variable \
             FLUIDCLOUD__UPLOADS__URL_TTL_SEC; did you mean FLUIDCLOUD__UPLOADS__URL_TTL_SECS"
        ),
        "{stderr}"
    );
}

#[test]
fn migrate_reads_the_database_url_from_a_file() {
    let data = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", data.path().join("fluidcloud.db").display());
    let url_file = data.path().join("database-url");
    std::fs::write(&url_file, format!("{url}\n")).unwrap();
    let output = fluidcloud(
        &["migrate"],
        &[("FLUIDCLOUD__DATABASE__URL_FILE", url_file.to_str().unwrap())],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(data.path().join("fluidcloud.db").exists());
    // Without either, the URL is still required.
    let output = fluidcloud(&["migrate"], &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--database-url"));
}
