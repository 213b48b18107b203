//! A real `fluidcloud-files` process starting up: its configuration is checked before
//! anything runs, secrets can come from files, and none of them reaches its log.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use fluidcloud_core::config::ExposeSecret;
use fluidcloud_tests::{TestDb, TestObjects};

/// A signing key no log line may contain.
const SIGNING_KEY: &str = "startup-test-signing-key-6b1f0c";

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `fluidcloud-files` with no configuration but the given variables.
fn files_command(vars: &[(String, String)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_fluidcloud-files"));
    command.env_remove("RUST_LOG");
    for (name, _) in std::env::vars() {
        if name.starts_with("FLUIDCLOUD__") {
            command.env_remove(name);
        }
    }
    command.envs(vars.iter().map(|(k, v)| (k, v)));
    command.stdin(Stdio::null()).stdout(Stdio::null());
    command
}

fn var(name: &str, value: impl Into<String>) -> (String, String) {
    (name.to_owned(), value.into())
}

#[tokio::test]
async fn secrets_come_from_files_and_stay_out_of_the_log() {
    let db = TestDb::new().await;
    let objects = TestObjects::new().await;
    let write = |name: &str, contents: &str| {
        let path = db.dir.path().join(format!("secret-{name}"));
        std::fs::write(&path, format!("{contents}\n")).unwrap();
        path.display().to_string()
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let storage = &objects.settings;
    let secret_access_key = storage.secret_access_key.expose_secret();
    let vars = [
        var("FLUIDCLOUD__DATABASE__URL_FILE", write("db", &db.url)),
        var("FLUIDCLOUD__STORAGE__ENDPOINT", &storage.endpoint),
        var("FLUIDCLOUD__STORAGE__BUCKET", &storage.bucket),
        var("FLUIDCLOUD__STORAGE__REGION", &storage.region),
        var(
            "FLUIDCLOUD__STORAGE__ACCESS_KEY_ID_FILE",
            write("id", &storage.access_key_id),
        ),
        var(
            "FLUIDCLOUD__STORAGE__SECRET_ACCESS_KEY_FILE",
            write("s3", secret_access_key),
        ),
        var("FLUIDCLOUD__SIGNING__CURRENT", "k1"),
        var(
            "FLUIDCLOUD__SIGNING__KEYS__K1_FILE",
            write("k1", SIGNING_KEY),
        ),
        var("FLUIDCLOUD__FILES__LISTEN", format!("127.0.0.1:{port}")),
        var("FLUIDCLOUD__LOG__LEVEL", "debug"),
    ];
    let mut child = files_command(&vars)
        .stderr(Stdio::piped())
        .spawn()
        .expect("start fluidcloud-files");
    let stderr = child.stderr.take().unwrap();
    let server = Server(child);
    let (lines, received) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    let mut log = Vec::new();
    while !log
        .iter()
        .any(|line: &String| line.contains("fluidcloud-files listening"))
    {
        match received.recv_timeout(Duration::from_secs(30)) {
            Ok(line) => log.push(line),
            Err(_) => panic!("fluidcloud-files did not start:\n{}", log.join("\n")),
        }
    }
    // Readiness asks the database and the store with the secrets read from files.
    let base = format!("http://127.0.0.1:{port}");
    let ready = reqwest::get(format!("{base}/readyz")).await.unwrap();
    assert_eq!(ready.status(), 200, "{}", log.join("\n"));
    let forged = reqwest::get(format!(
        "{base}/s/AAAAAAAAAAAAAAAAAAAAAA.k1.AAAAAAAAAAAAAAAAAAAAAA"
    ))
    .await
    .unwrap();
    assert!(forged.status().is_client_error());
    drop(server);
    log.extend(received.iter());

    let log = log.join("\n");
    let mut secrets = vec![SIGNING_KEY, secret_access_key];
    let password = db
        .url
        .split_once("://")
        .and_then(|(_, rest)| rest.split_once('@'))
        .and_then(|(userinfo, _)| userinfo.split_once(':'))
        .map(|(_, password)| password);
    secrets.extend(password.filter(|p| !p.is_empty()));
    for secret in secrets {
        assert!(!log.contains(secret), "a secret is in the log:\n{log}");
    }
}

#[test]
fn an_unknown_variable_stops_startup_naming_it() {
    let output = files_command(&[var("FLUIDCLOUD__FILES__LISTN", "127.0.0.1:0")])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "unknown key `files.listn` in environment variable FLUIDCLOUD__FILES__LISTN; \
             did you mean FLUIDCLOUD__FILES__LISTEN (`files.listen`)?"
        ),
        "{stderr}"
    );
}

#[test]
fn an_unreadable_secret_file_stops_startup_naming_the_variable() {
    let output = files_command(&[var(
        "FLUIDCLOUD__SIGNING__KEYS__K1_FILE",
        "/nonexistent/fluidcloud-signing-key",
    )])
    .output()
    .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "cannot read FLUIDCLOUD__SIGNING__KEYS__K1_FILE (/nonexistent/fluidcloud-signing-key)"
        ),
        "{stderr}"
    );
}
