//! `fluidcloud dev --listen ADDR --public-host HOST`: the listeners bind to ADDR, and
//! every URL handed to clients — presigned uploads, raw links, download URLs, the
//! banner's API URL — names HOST, and works under that name.

use std::io::Read;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_fluidcloud");

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Stops the process when the test ends, even on failure.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn urls_name_the_public_host_and_work_under_it() {
    let data = tempfile::tempdir().unwrap();
    let (api, files, s3) = (free_port(), free_port(), free_port());
    // Addresses this machine cannot bind (TEST-NET-1): only --listen makes them work.
    let mut dev = Running(
        Command::new(BIN)
            .args(["dev", "--data-dir", data.path().to_str().unwrap()])
            .args(["--api-addr", &format!("192.0.2.1:{api}")])
            .args(["--files-addr", &format!("192.0.2.1:{files}")])
            .args(["--s3-addr", &format!("192.0.2.1:{s3}")])
            .args(["--listen", "127.0.0.1", "--public-host", "localhost"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start fluidcloud dev"),
    );
    let http = reqwest::blocking::Client::new();
    let local = format!("http://127.0.0.1:{api}");
    let started = Instant::now();
    while http.get(format!("{local}/healthz")).send().is_err() {
        assert!(dev.0.try_wait().unwrap().is_none(), "fluidcloud dev exited");
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "dev did not start"
        );
        std::thread::sleep(Duration::from_millis(25));
    }
    let key = std::fs::read_to_string(data.path().join("dev-key"))
        .unwrap()
        .trim()
        .to_owned();
    let base = format!("http://localhost:{api}/api/v1");
    let call = |method: reqwest::Method, path: &str, body: Option<Value>| -> Value {
        let mut request = http
            .request(method, format!("{base}{path}"))
            .header("X-API-Key", &key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().unwrap();
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        response.json().unwrap()
    };

    let space = call(reqwest::Method::GET, "/spaces", None)[0]["id"].clone();
    let bytes = b"reached by name".to_vec();
    let ticket = call(
        reqwest::Method::POST,
        "/uploads/initiate",
        Some(
            json!({ "original_name": "n.txt", "content_type": "text/plain", "size": bytes.len(), "space_id": space }),
        ),
    );
    let upload_url = ticket["upload_url"].as_str().unwrap();
    assert!(
        upload_url.starts_with(&format!("http://localhost:{s3}/")),
        "{upload_url}"
    );
    // The signature covers the host: the PUT must go to the name it names.
    let mut put = http.put(upload_url).body(bytes.clone());
    for (name, value) in ticket["headers"].as_object().unwrap() {
        put = put.header(name.as_str(), value.as_str().unwrap());
    }
    let status = put.send().unwrap().status();
    assert!(status.is_success(), "presigned PUT via localhost: {status}");
    let file = call(
        reqwest::Method::POST,
        "/uploads/complete",
        Some(json!({
            "file_id": ticket["file_id"], "key": ticket["key"], "original_name": "n.txt",
            "mime": "text/plain", "size": bytes.len(), "space_id": space,
        })),
    );
    assert_eq!(file["scan_status"], "clean");
    let link = call(
        reqwest::Method::POST,
        "/shares",
        Some(json!({ "file_id": file["id"] })),
    );
    let url = link["url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("http://localhost:{files}/s/")),
        "{url}"
    );
    assert_eq!(http.get(url).send().unwrap().bytes().unwrap(), bytes);
    let id = file["id"].as_str().unwrap();
    let download = call(reqwest::Method::GET, &format!("/files/{id}/download"), None);
    let download = download["url"].as_str().unwrap();
    assert!(
        download.starts_with(&format!("http://localhost:{files}/d/")),
        "{download}"
    );

    Command::new("kill")
        .args(["-TERM", &dev.0.id().to_string()])
        .status()
        .unwrap();
    assert!(dev.0.wait().unwrap().success());
    let mut banner = String::new();
    dev.0
        .stdout
        .as_mut()
        .unwrap()
        .read_to_string(&mut banner)
        .unwrap();
    assert!(
        banner.contains(&format!("API base URL:   http://localhost:{api}")),
        "{banner}"
    );
    assert!(
        banner.contains(&format!("http://localhost:{s3}")),
        "{banner}"
    );
}

#[test]
fn a_public_host_with_a_scheme_or_port_is_refused() {
    for bad in ["http://localhost", "localhost:8080", "two words"] {
        let output = Command::new(BIN)
            .args(["dev", "--public-host", bad])
            .output()
            .unwrap();
        assert!(!output.status.success(), "{bad}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("not a host name or IP address"),
            "{bad}: {stderr}"
        );
    }
}
