//! Every listener closes a connection whose request headers do not arrive within
//! `listeners.header_read_timeout_secs` (slowloris): the API, the files server and the
//! embedded object store; the embedded store also fails an upload whose body stops
//! arriving for `listeners.body_read_timeout_secs`.

use std::time::{Duration, Instant};

use fluidcloud_core::config::ListenerSettings;
use fluidcloud_storage::{ObjectStore, StoreSettings, embedded};
use fluidcloud_tests::TestApp;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Sends half a request to `address` and returns how long the server kept the
/// connection open.
async fn held_open(address: &str) -> Duration {
    let address = address.trim_start_matches("http://");
    let mut socket = tokio::net::TcpStream::connect(address).await.unwrap();
    let started = Instant::now();
    // No blank line: the headers never end.
    socket
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: slow\r\nX-Slow: 1")
        .await
        .unwrap();
    let mut buffer = [0u8; 1024];
    loop {
        match tokio::time::timeout(Duration::from_secs(10), socket.read(&mut buffer)).await {
            Ok(Ok(0) | Err(_)) => return started.elapsed(),
            // A 408 may come first; the close follows.
            Ok(Ok(_)) => {}
            Err(_) => panic!("{address} kept a half-sent request open for 10 s"),
        }
    }
}

#[tokio::test]
async fn half_sent_requests_are_closed_at_the_header_timeout() {
    let app = TestApp::spawn_with(|s| s.listeners.header_read_timeout_secs = 1).await;
    let (store, _objects, _dir) = embedded_store(1, 30).await;
    for address in [&app.base_url, &app.files_url, &store] {
        let held = held_open(address).await;
        assert!(
            held >= Duration::from_millis(900),
            "{address}: closed after {held:?}"
        );
        assert!(
            held < Duration::from_secs(5),
            "{address}: open for {held:?}"
        );
    }
    // A whole request is still answered.
    let ok = app
        .http
        .get(format!("{}/healthz", app.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
}

/// An embedded store with these timeouts (seconds): its address, a client for its bucket
/// and the folder it serves.
async fn embedded_store(header: u64, body: u64) -> (String, ObjectStore, tempfile::TempDir) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let credentials = embedded::Credentials::generate();
    let timeouts = ListenerSettings {
        header_read_timeout_secs: header,
        body_read_timeout_secs: body,
    };
    let server = embedded::serve(
        dir.path(),
        &credentials,
        &Default::default(),
        &timeouts,
        listener,
        std::future::pending(),
    )
    .unwrap();
    tokio::spawn(server);
    let objects = ObjectStore::new(&StoreSettings {
        endpoint: address.clone(),
        public_endpoint: None,
        region: "us-east-1".into(),
        bucket: "bucket".into(),
        access_key_id: credentials.access_key_id.clone(),
        secret_access_key: credentials.secret_access_key.clone().into(),
        force_path_style: true,
        timeouts: Default::default(),
    });
    objects.ensure_bucket().await.unwrap();
    (address, objects, dir)
}

#[tokio::test]
async fn an_upload_whose_body_stops_arriving_fails_at_the_body_timeout() {
    let (address, objects, _dir) = embedded_store(10, 1).await;
    let presigned = objects
        .presign_put("stalled", "text/plain", 100, Duration::from_secs(60))
        .await
        .unwrap();
    let url = url::Url::parse(&presigned.url).unwrap();
    let mut head = format!(
        "PUT {}?{} HTTP/1.1\r\nHost: {}\r\n",
        url.path(),
        url.query().unwrap_or_default(),
        address.trim_start_matches("http://")
    );
    for (name, value) in &presigned.headers {
        if !name.eq_ignore_ascii_case("content-length") && !name.eq_ignore_ascii_case("host") {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    head.push_str("Content-Length: 100\r\n\r\n");

    let mut socket = tokio::net::TcpStream::connect(address.trim_start_matches("http://"))
        .await
        .unwrap();
    let started = Instant::now();
    socket.write_all(head.as_bytes()).await.unwrap();
    // A tenth of the body, then nothing.
    socket.write_all(&[b'x'; 10]).await.unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), socket.read_to_end(&mut answer)).await;
    let held = started.elapsed();
    assert!(
        read.is_ok(),
        "the store kept a stalled upload open for 10 s"
    );
    assert!(held >= Duration::from_millis(900), "closed after {held:?}");
    assert!(held < Duration::from_secs(5), "open for {held:?}");
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.is_empty() || !answer.starts_with("HTTP/1.1 200"),
        "a stalled upload is not stored: {answer}"
    );
    assert_eq!(objects.head("stalled").await.unwrap(), None);
}
