//! The `fluidcloud` command as users run it: `dev`, `migrate` and `admin`, as real
//! processes.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_fluidcloud");

fn fluidcloud(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .output()
        .expect("run fluidcloud")
}

/// Runs an admin command on a data folder and parses its JSON output.
fn admin(data_dir: &Path, args: &[&str]) -> Value {
    let mut all = vec!["admin", "--data-dir", data_dir.to_str().unwrap()];
    all.extend_from_slice(args);
    let output = fluidcloud(&all);
    assert!(
        output.status.success(),
        "fluidcloud {all:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("admin prints JSON")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `fluidcloud dev` process, stopped with SIGTERM when dropped.
struct Dev {
    child: Child,
    api: String,
    s3: String,
}

impl Dev {
    fn start(data_dir: &Path) -> Dev {
        let (api, files, s3) = (free_port(), free_port(), free_port());
        let started = Instant::now();
        let child = Command::new(BIN)
            .args(["dev", "--data-dir", data_dir.to_str().unwrap()])
            .args(["--api-addr", &format!("127.0.0.1:{api}")])
            .args(["--files-addr", &format!("127.0.0.1:{files}")])
            .args(["--s3-addr", &format!("127.0.0.1:{s3}")])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start fluidcloud dev");
        let dev = Dev {
            child,
            api: format!("http://127.0.0.1:{api}"),
            s3: format!("http://127.0.0.1:{s3}"),
        };
        let client = reqwest::blocking::Client::new();
        while client.get(format!("{}/healthz", dev.api)).send().is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "fluidcloud dev did not start"
            );
            std::thread::sleep(Duration::from_millis(25));
        }
        dev
    }

    fn terminate(&mut self) -> std::process::ExitStatus {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        self.child.wait().unwrap()
    }
}

impl Drop for Dev {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn me_status(api: &str, key: &str) -> u16 {
    reqwest::blocking::Client::new()
        .get(format!("{api}/api/v1/me"))
        .header("X-API-Key", key)
        .send()
        .unwrap()
        .status()
        .as_u16()
}

#[test]
fn dev_creates_a_key_once_and_reuses_it() {
    let data = tempfile::tempdir().unwrap();
    let mut dev = Dev::start(data.path());
    let key_file = data.path().join("dev-key");
    let key = std::fs::read_to_string(&key_file)
        .unwrap()
        .trim()
        .to_owned();
    assert!(key.starts_with("fck_"), "{key}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&key_file), 0o600);
        assert_eq!(
            mode(data.path()),
            0o700,
            "the data folder is its owner's only"
        );
        assert_eq!(mode(&data.path().join("store-credentials")), 0o600);
        assert_eq!(mode(&data.path().join("signing-key")), 0o600);
    }
    assert_eq!(me_status(&dev.api, &key), 200);
    let status = dev.terminate();
    assert!(
        status.success(),
        "SIGTERM should stop dev cleanly, got {status}"
    );
    let mut banner = String::new();
    std::io::Read::read_to_string(dev.child.stdout.as_mut().unwrap(), &mut banner).unwrap();
    assert!(banner.contains(&key), "the banner shows the key: {banner}");
    assert!(
        banner.contains(&dev.api),
        "the banner shows the API URL: {banner}"
    );
    drop(dev);

    let dev = Dev::start(data.path());
    let again = std::fs::read_to_string(&key_file)
        .unwrap()
        .trim()
        .to_owned();
    assert_eq!(again, key, "a second run reuses the key");
    assert_eq!(me_status(&dev.api, &key), 200);
    let tenants = admin(data.path(), &["tenant", "list"]);
    assert_eq!(tenants.as_array().unwrap().len(), 1, "{tenants}");
    assert_eq!(tenants[0]["name"], "dev");
    assert_eq!(tenants[0]["plan"]["bytes_limit"], -1);
}

#[test]
fn admin_manages_tenants_and_keys_while_dev_runs() {
    let data = tempfile::tempdir().unwrap();
    let dev = Dev::start(data.path());

    let tenant = admin(
        data.path(),
        &[
            "tenant",
            "create",
            "--name",
            "acme",
            "--bytes-limit",
            "1000",
            "--max-file-size",
            "500",
        ],
    );
    let tenant_id = tenant["id"].as_str().unwrap().to_owned();
    assert_eq!(tenant["plan"]["bytes_limit"], 1000);
    assert_eq!(tenant["plan"]["links_limit"], -1);
    assert_eq!(tenant["plan"]["api_access"], true);
    let usage = admin(data.path(), &["tenant", "usage", &tenant_id]);
    assert_eq!(usage["consistent"], true, "{usage}");
    assert_eq!(usage["counters"]["bytes_used"], 0);
    assert_eq!(usage["recounted"]["bytes_limit"], 1000);

    let created = admin(
        data.path(),
        &[
            "key",
            "create",
            "--tenant",
            &tenant_id,
            "--label",
            "ci",
            "--mode",
            "test",
            "--scopes",
            "spaces:read,files:read",
        ],
    );
    let key = created["api_key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("fck_test_"));
    assert_eq!(
        created["key"]["scopes"],
        serde_json::json!(["spaces:read", "files:read"])
    );
    assert_eq!(me_status(&dev.api, &key), 200);

    let listed = admin(data.path(), &["key", "list", "--tenant", &tenant_id]);
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert!(
        !listed.to_string().contains(&key),
        "key list never shows plaintext"
    );

    let updated = admin(
        data.path(),
        &[
            "tenant",
            "update",
            &tenant_id,
            "--api-access",
            "false",
            "--links-limit",
            "5",
        ],
    );
    assert_eq!(updated["plan"]["api_access"], false);
    assert_eq!(updated["plan"]["links_limit"], 5);
    assert_eq!(updated["plan"]["bytes_limit"], 1000);
    wait_for_status(&dev.api, &key, 403);
    admin(
        data.path(),
        &["tenant", "update", &tenant_id, "--api-access", "true"],
    );
    wait_for_status(&dev.api, &key, 200);

    let key_id = created["key"]["id"].as_str().unwrap();
    let revoked = admin(data.path(), &["key", "revoke", key_id]);
    assert!(revoked["revoked_at"].is_string());
    wait_for_status(&dev.api, &key, 401);
}

#[test]
fn admin_rescan_and_reconcile_run_against_a_dev_instance() {
    let data = tempfile::tempdir().unwrap();
    let dev = Dev::start(data.path());
    // The store's key pair is the data folder's own: split it into the files the
    // configuration reads secrets from.
    let pair = std::fs::read_to_string(data.path().join("store-credentials")).unwrap();
    let mut lines = pair.lines();
    std::fs::write(
        data.path().join("store-credentials.id"),
        lines.next().unwrap(),
    )
    .unwrap();
    std::fs::write(
        data.path().join("store-credentials.secret"),
        lines.next().unwrap(),
    )
    .unwrap();
    let queued = admin(data.path(), &["rescan"]);
    assert_eq!(queued["queued"], 0, "nothing judged yet");
    let queued = admin(data.path(), &["rescan", "--scanned-before", "2026-01-01"]);
    assert_eq!(queued["queued"], 0);
    // Reconcile reads the store from the configuration: point it at dev's.
    let output = Command::new(BIN)
        .args([
            "admin",
            "--data-dir",
            data.path().to_str().unwrap(),
            "reconcile",
        ])
        .env("FLUIDCLOUD__STORAGE__ENDPOINT", &dev.s3)
        .env(
            "FLUIDCLOUD__STORAGE__ACCESS_KEY_ID_FILE",
            data.path().join("store-credentials.id"),
        )
        .env(
            "FLUIDCLOUD__STORAGE__SECRET_ACCESS_KEY_FILE",
            data.path().join("store-credentials.secret"),
        )
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["objects_without_rows"], serde_json::json!([]));
    assert_eq!(report["rows_without_objects"], serde_json::json!([]));
    assert_eq!(report["fixed"], false);
}

/// The running dev server answers `status` for the key within a second.
fn wait_for_status(api: &str, key: &str, status: u16) {
    let started = Instant::now();
    while me_status(api, key) != status {
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "the running server did not answer {status} within 1 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn admin_errors_go_to_stderr_with_a_failing_exit() {
    let data = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", data.path().join("fluidcloud.db").display());
    let migrated = fluidcloud(&["migrate", "--database-url", &url]);
    assert!(
        migrated.status.success(),
        "{}",
        String::from_utf8_lossy(&migrated.stderr)
    );
    let report: Value = serde_json::from_slice(&migrated.stdout).unwrap();
    assert_eq!(report["migrated"], true);

    let missing = uuid_like();
    for args in [
        vec!["admin", "--database-url", &url, "key", "revoke", &missing],
        vec![
            "admin",
            "--database-url",
            &url,
            "key",
            "list",
            "--tenant",
            &missing,
        ],
        vec![
            "admin",
            "--database-url",
            &url,
            "tenant",
            "update",
            &missing,
            "--name",
            "x",
        ],
        vec![
            "admin",
            "--database-url",
            &url,
            "tenant",
            "create",
            "--name",
            "x",
            "--bytes-limit",
            "-5",
        ],
        vec![
            "admin",
            "--database-url",
            &url,
            "key",
            "create",
            "--tenant",
            &missing,
            "--scopes",
            "files:delete",
        ],
        vec![
            "admin",
            "--database-url",
            &url,
            "tenant",
            "update",
            "not-a-uuid",
        ],
        vec!["admin", "--database-url", &url, "tenant", "usage", &missing],
        vec![
            "admin",
            "--data-dir",
            "/nonexistent/folder",
            "tenant",
            "list",
        ],
        vec!["migrate", "--database-url", "mysql://x/y"],
    ] {
        let output = fluidcloud(&args);
        assert!(!output.status.success(), "{args:?} should fail");
        assert!(
            output.stdout.is_empty(),
            "{args:?} printed to stdout on failure"
        );
        assert!(
            !output.stderr.is_empty(),
            "{args:?} explained nothing on stderr"
        );
    }
    // An unmigrated database is refused rather than half-used.
    let empty = tempfile::tempdir().unwrap();
    let output = fluidcloud(&[
        "admin",
        "--database-url",
        &format!("sqlite://{}/x.db", empty.path().display()),
        "tenant",
        "list",
    ]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("fluidcloud migrate"));
}

fn uuid_like() -> String {
    "00000000-0000-4000-8000-000000000001".to_owned()
}

#[test]
fn each_data_folder_has_its_own_store_credentials_and_the_old_published_ones_fail() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let dev_a = Dev::start(a.path());
    let dev_b = Dev::start(b.path());
    let pair = |dir: &Path| std::fs::read_to_string(dir.join("store-credentials")).unwrap();
    assert_ne!(pair(a.path()), pair(b.path()));
    assert!(!pair(a.path()).contains("fluidcloud-dev"));
    // A request signed with the credentials every older dev server shared is refused.
    let output = Command::new(BIN)
        .args([
            "admin",
            "--data-dir",
            a.path().to_str().unwrap(),
            "reconcile",
        ])
        .env("FLUIDCLOUD__STORAGE__ENDPOINT", &dev_a.s3)
        .env("FLUIDCLOUD__STORAGE__ACCESS_KEY_ID", "fluidcloud-dev")
        .env(
            "FLUIDCLOUD__STORAGE__SECRET_ACCESS_KEY",
            "fluidcloud-dev-secret-key",
        )
        .output()
        .unwrap();
    assert!(
        !output.status.success(),
        "the store accepted published credentials"
    );
    // A restart keeps the folder's pair (objects stay reachable).
    let before = pair(b.path());
    drop(dev_b);
    let _again = Dev::start(b.path());
    assert_eq!(pair(b.path()), before);
}
