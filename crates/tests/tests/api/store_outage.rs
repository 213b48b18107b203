//! A store that accepts connections and never answers: every caller gives up within
//! `storage.request_timeout_secs` — the API with 503, the files server with 503, the
//! worker's scan with a retry — instead of hanging.

use std::sync::Arc;
use std::time::{Duration, Instant};

use fluidcloud_services::ServiceContext;
use fluidcloud_services::scan::{ScanRun, rescan_file};
use fluidcloud_tests::TestApp;
use fluidcloud_tests::app::{ApiClient, send};
use serde_json::json;

/// Accepts connections and holds them without a byte in reply.
async fn silent_store() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    url
}

#[tokio::test]
async fn a_store_that_never_answers_gives_503_within_the_request_timeout() {
    let app = TestApp::spawn_with(|s| s.storage.request_timeout_secs = 1).await;
    let client = app.tenant().await;
    let space = client.default_space().await;
    // A clean file with a link, and a pending file, while the store works.
    let file = client.upload(space, "a.txt", "text/plain", b"stored").await;
    let link = client
        .post("/shares", &json!({ "file_id": file["id"] }))
        .await
        .expect(201)
        .body;
    let ticket = client
        .initiate(space, "b.txt", "text/plain", 3)
        .await
        .expect(200)
        .body;
    assert!(
        client
            .put_single(&ticket, b"abc".to_vec())
            .await
            .is_success()
    );

    // The same services, pointed at a store that never answers.
    let mut hung = (*app.settings).clone();
    hung.storage.endpoint = silent_store().await;
    let hung = Arc::new(hung);
    let (_, api) = TestApp::serve_api(&app.db, &hung).await;
    let files_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let files = format!("http://{}", files_listener.local_addr().unwrap());
    TestApp::serve_files(&app.db, &hung, files_listener).await;

    let started = Instant::now();
    let body = ApiClient::completion(&ticket, space, "b.txt", "text/plain", b"abc");
    let reply = app
        .client_at(&client, &api)
        .post("/uploads/complete", &body)
        .await;
    assert_eq!(reply.status.as_u16(), 503, "{}", reply.text);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "API took {:?}",
        started.elapsed()
    );

    let started = Instant::now();
    let link_url = link["url"].as_str().unwrap();
    let on_hung = format!("{files}{}", &link_url[link_url.find("/s/").unwrap()..]);
    let served = send(app.http.get(on_hung)).await;
    assert_eq!(served.status.as_u16(), 503, "{}", served.text);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "files took {:?}",
        started.elapsed()
    );

    // The worker's scan (here a rescan of the clean file, which must read its bytes)
    // gives up and is retried later, within the same bound.
    let id = file["id"].as_str().unwrap().parse().unwrap();
    let worker = ServiceContext::from_settings(app.store.clone(), Arc::clone(&hung)).unwrap();
    let started = Instant::now();
    let run = tokio::time::timeout(Duration::from_secs(10), rescan_file(&worker, id))
        .await
        .expect("the scan gave up in time")
        .unwrap();
    assert!(matches!(run, ScanRun::Retry(_)), "{run:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "worker took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_worker_claims_nothing_while_the_store_is_down() {
    let app = TestApp::spawn_without_worker(|s| s.scan.inline_budget_secs = 0).await;
    let client = app.tenant().await;
    let space = client.default_space().await;
    let file = client
        .upload(space, "a.txt", "text/plain", b"waiting")
        .await;
    assert_eq!(file["scan_status"], "pending");
    let id = file["id"].as_str().unwrap().parse().unwrap();
    let mut down = (*app.settings).clone();
    down.storage.endpoint = "http://127.0.0.1:9".into();
    let context = ServiceContext::from_settings(app.store.clone(), Arc::new(down)).unwrap();
    let worker = tokio::spawn(fluidcloud_worker::run(
        context,
        app.settings.worker.clone(),
        Duration::from_secs(1),
        std::future::pending(),
    ));
    tokio::time::sleep(Duration::from_secs(3)).await;
    let scan = fluidcloud_db::jobs::JobKind::Scan { file_id: id };
    let (attempts, _) = app
        .store
        .job_state(&scan)
        .await
        .unwrap()
        .expect("the job waits");
    assert_eq!(attempts, 0, "a job was claimed while the store was down");
    worker.abort();
    // A worker that reaches the store takes it at once.
    app.start_worker();
    let scanned = client.wait_for_scan(&id.to_string()).await;
    assert_eq!(scanned["scan_status"], "clean");
}
