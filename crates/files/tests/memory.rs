//! A 256 MiB raw link streamed by a real `fluidcloud-files` process, whose resident
//! memory must stay flat, also while the client stops reading: bytes flow from the
//! store to the client with back-pressure.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fluidcloud_core::config::ExposeSecret;
use fluidcloud_tests::TestApp;
use fluidcloud_tests::app::ApiClient;
use serde_json::{Value, json};
use sha2::Digest;

const MIB: usize = 1024 * 1024;

/// Deterministic pseudo-random bytes.
fn bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as u8
        })
        .collect()
}

/// The resident memory of a process, in bytes.
fn resident_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `fluidcloud-files` as its own process, on the app's database and store.
fn files_process(app: &TestApp) -> (Server, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let storage = &app.settings.storage;
    let child = Command::new(env!("CARGO_BIN_EXE_fluidcloud-files"))
        .env("FLUIDCLOUD__DATABASE__URL", &app.db.url)
        .env("FLUIDCLOUD__STORAGE__ENDPOINT", &storage.endpoint)
        .env("FLUIDCLOUD__STORAGE__BUCKET", &storage.bucket)
        .env("FLUIDCLOUD__STORAGE__REGION", &storage.region)
        .env("FLUIDCLOUD__STORAGE__ACCESS_KEY_ID", &storage.access_key_id)
        .env(
            "FLUIDCLOUD__STORAGE__SECRET_ACCESS_KEY",
            storage.secret_access_key.expose_secret(),
        )
        .env("FLUIDCLOUD__FILES__LISTEN", format!("127.0.0.1:{port}"))
        .env(
            "FLUIDCLOUD__SIGNING__CURRENT",
            &app.settings.signing.current,
        )
        .env(
            format!(
                "FLUIDCLOUD__SIGNING__KEYS__{}",
                app.settings.signing.current.to_uppercase()
            ),
            app.settings.signing.keys[&app.settings.signing.current].expose_secret(),
        )
        .env("FLUIDCLOUD__LOG__LEVEL", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start fluidcloud-files");
    (Server(child), format!("http://127.0.0.1:{port}"))
}

#[tokio::test]
async fn a_256_mib_link_streams_in_constant_memory() {
    let app = TestApp::spawn().await;
    let client = app.tenant().await;
    let space = client.default_space().await;
    let size = 256 * MIB;
    // Upload part by part, so nothing here ever holds the whole file.
    let ticket = client
        .initiate(space, "big.bin", "application/octet-stream", size as u64)
        .await
        .expect(200)
        .body;
    let part_size = ticket["part_size"].as_u64().unwrap() as usize;
    let mut hasher = sha2::Sha256::new();
    let mut parts = Vec::new();
    for (index, part) in ticket["part_urls"].as_array().unwrap().iter().enumerate() {
        let chunk = bytes(part_size.min(size - index * part_size), index as u64);
        hasher.update(&chunk);
        let response = app
            .http
            .put(part["url"].as_str().unwrap())
            .body(chunk)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
        parts.push(json!({ "PartNumber": part["part_number"], "ETag": response.headers()["etag"].to_str().unwrap() }));
    }
    let digest = hex::encode(hasher.finalize());
    let mut body =
        ApiClient::completion(&ticket, space, "big.bin", "application/octet-stream", b"");
    body["size"] = json!(size);
    body["sha256"] = json!(digest);
    body["parts"] = Value::Array(parts);
    let file = client
        .post("/uploads/complete", &body)
        .await
        .expect(201)
        .body;
    let file = client
        .wait_for_scan_within(file["id"].as_str().unwrap(), Duration::from_secs(300))
        .await;
    assert_eq!(file["scan_status"], "clean", "{file}");
    let link = client
        .post("/shares", &json!({ "file_id": file["id"] }))
        .await
        .expect(201)
        .body;
    let path = &link["url"].as_str().unwrap()[app.files_url.len()..];

    let (server, base) = files_process(&app);
    let pid = server.0.id();
    let started = Instant::now();
    while reqwest::get(format!("{base}/healthz")).await.is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "fluidcloud-files did not start"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    // Warm up: the first small request sizes the process's pools.
    assert_eq!(
        reqwest::get(format!("{base}{path}"))
            .await
            .unwrap()
            .status(),
        200
    );
    let before = resident_bytes(pid);
    let mut peak = before;
    let mut response = reqwest::get(format!("{base}{path}")).await.unwrap();
    assert_eq!(response.status(), 200);
    let mut received = 0usize;
    let mut streamed = sha2::Sha256::new();
    let mut stalled = false;
    while let Some(chunk) = response.chunk().await.unwrap() {
        received += chunk.len();
        streamed.update(&chunk);
        peak = peak.max(resident_bytes(pid));
        // A reader that stops: without back-pressure the server would keep pulling
        // from the store (the rest of the file takes well under a second) and hold it.
        if !stalled && received >= 8 * MIB {
            stalled = true;
            for _ in 0..30 {
                tokio::time::sleep(Duration::from_millis(50)).await;
                peak = peak.max(resident_bytes(pid));
            }
        }
    }
    assert_eq!(received, size);
    assert_eq!(hex::encode(streamed.finalize()), digest);
    let growth = peak.saturating_sub(before);
    eprintln!(
        "fluidcloud-files resident memory: {} MiB before, peak growth {} KiB",
        before / MIB as u64,
        growth / 1024
    );
    assert!(
        growth < 32 * MIB as u64,
        "resident memory grew by {} MiB while streaming",
        growth / MIB as u64
    );
}
