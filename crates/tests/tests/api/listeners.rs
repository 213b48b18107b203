//! Every listener closes a connection whose request headers do not arrive within
//! `listeners.header_read_timeout_secs` (slowloris): the API, the files server and the
//! embedded object store.

use std::time::{Duration, Instant};

use fluidcloud_storage::embedded;
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
    let store_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let store = format!("http://{}", store_listener.local_addr().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let server = embedded::serve(
        dir.path(),
        &embedded::Credentials::generate(),
        &Default::default(),
        Duration::from_secs(1),
        store_listener,
        std::future::pending(),
    )
    .unwrap();
    tokio::spawn(server);
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
