//! Scanning: verdicts inline and in the worker, fail-closed behaviour, retries, and
//! the quota of infected files.

use std::time::Duration;

use fluidcloud_core::model::ScanStatus;
use fluidcloud_db::jobs::JobKind;
use fluidcloud_scan::EICAR;
use fluidcloud_tests::TestApp;
use serde_json::Value;

const MIB: usize = 1024 * 1024;

#[tokio::test]
async fn eicar_is_quarantined_its_bytes_erased_and_its_quota_released() {
    let app = TestApp::spawn().await;
    let client = app.tenant().await;
    let space = client.default_space().await;
    let mut payload = vec![b'x'; 70_000];
    payload.extend_from_slice(EICAR);
    payload.extend_from_slice(&[b'y'; 1000]);
    let uploaded = client
        .upload_with(
            space,
            "eicar.com",
            "application/octet-stream",
            &payload,
            |_| {},
        )
        .await;
    let file = uploaded.file.expect(201).body;
    assert_eq!(file["scan_status"], "infected", "{file}");
    assert_eq!(file["status"], "quarantined");
    let key = uploaded.ticket["key"].as_str().unwrap();
    assert_eq!(
        app.services.objects.head(key).await.unwrap(),
        None,
        "infected bytes are erased"
    );
    let quota = client.get("/quota").await.expect(200).body;
    assert_eq!(quota["bytes_used"], 0);
    // The record stays, so the client can see why.
    let again = client
        .get(&format!("/files/{}", file["id"].as_str().unwrap()))
        .await
        .expect(200)
        .body;
    assert_eq!(again["scan_status"], "infected");
    client
        .get(&format!("/files/{}/download", file["id"].as_str().unwrap()))
        .await
        .expect(409);
}

#[tokio::test]
async fn a_20_mib_file_is_clean_when_complete_answers() {
    // Scanned within scan.inline_budget_secs: the SDK can share it at once.
    let app = TestApp::spawn().await;
    let client = app.tenant().await;
    let space = client.default_space().await;
    let data: Vec<u8> = (0..20 * MIB).map(|i| (i % 251) as u8).collect();
    let file = client
        .upload(space, "big.bin", "application/octet-stream", &data)
        .await;
    assert_eq!(file["scan_status"], "clean", "{file}");
    assert_eq!(file["status"], "ready");
}

#[tokio::test]
async fn a_20_mib_file_is_scanned_by_the_worker() {
    let app = TestApp::spawn_with(|s| s.scan.inline_budget_secs = 0).await;
    let client = app.tenant().await;
    let space = client.default_space().await;
    let data: Vec<u8> = (0..20 * MIB).map(|i| (i % 253) as u8).collect();
    let file = client
        .upload(space, "big.bin", "application/octet-stream", &data)
        .await;
    assert_eq!(
        file["scan_status"], "pending",
        "no inline budget: answered before the scan"
    );
    assert_eq!(file["status"], "draft");
    let file = client.wait_for_scan(file["id"].as_str().unwrap()).await;
    assert_eq!(file["scan_status"], "clean", "{file}");
    assert_eq!(file["status"], "ready");
    assert_eq!(file["mime"], "application/octet-stream");
}

#[tokio::test]
async fn bytes_that_do_not_match_the_declared_sha256_fail_closed() {
    let app = TestApp::spawn().await;
    let client = app.tenant().await;
    let space = client.default_space().await;
    let uploaded = client
        .upload_with(space, "x.txt", "text/plain", b"actual bytes", |body| {
            body["sha256"] = Value::String("0".repeat(64));
        })
        .await;
    let file = uploaded.file.expect(201).body;
    assert_eq!(file["scan_status"], "failed", "{file}");
    assert_eq!(file["status"], "quarantined");
}

#[tokio::test]
async fn a_file_over_the_scan_limit_fails_instead_of_passing() {
    let app = TestApp::spawn_with(|s| s.scan.max_bytes = 10).await;
    let client = app.tenant().await;
    let space = client.default_space().await;
    let file = client
        .upload(space, "x.txt", "text/plain", b"eleven byte")
        .await;
    assert_eq!(file["scan_status"], "failed");
}

#[tokio::test]
async fn complete_answers_pending_when_the_scan_outlasts_its_budget() {
    // A clamd that accepts and never answers: only the inline budget ends the wait.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = silent.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let app = TestApp::spawn_without_worker(move |s| {
        s.scan.engine = fluidcloud_core::config::ScanEngine::Clamd;
        s.scan.clamd_address = format!("tcp://{address}");
        s.scan.timeout_secs = 600;
        s.scan.inline_budget_secs = 1;
    })
    .await;
    let client = app.tenant().await;
    let space = client.default_space().await;
    let started = std::time::Instant::now();
    let file = client
        .upload(space, "slow.txt", "text/plain", b"takes a while")
        .await;
    let took = started.elapsed();
    assert_eq!(file["scan_status"], "pending");
    assert!(
        took >= Duration::from_secs(1),
        "answered before the budget: {took:?}"
    );
    assert!(
        took < Duration::from_secs(5),
        "the budget was not kept: {took:?}"
    );
    // The worker takes over at once: the scan job is due now, not after the safety net.
    let id: uuid::Uuid = file["id"].as_str().unwrap().parse().unwrap();
    let job = app
        .store
        .claim_job(Duration::from_secs(5))
        .await
        .unwrap()
        .expect("the scan job is due");
    assert_eq!(job.kind.as_ref().ok(), Some(&JobKind::Scan { file_id: id }));
}

#[tokio::test]
async fn an_unreachable_clamd_leaves_files_pending_and_retries() {
    let app = TestApp::spawn_with(|s| {
        s.scan.engine = fluidcloud_core::config::ScanEngine::Clamd;
        // Nothing listens on port 9 of loopback.
        s.scan.clamd_address = "tcp://127.0.0.1:9".into();
        s.scan.timeout_secs = 1;
    })
    .await;
    let client = app.tenant().await;
    let space = client.default_space().await;
    let file = client
        .upload(space, "x.txt", "text/plain", b"not yet")
        .await;
    assert_eq!(
        file["scan_status"], "pending",
        "no verdict without a scanner"
    );
    let id: uuid::Uuid = file["id"].as_str().unwrap().parse().unwrap();
    // The worker retries with backoff (2 s, 4 s, …); wait for a second attempt.
    let scan = JobKind::Scan { file_id: id };
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let (attempts, error) = app
            .store
            .job_state(&scan)
            .await
            .unwrap()
            .expect("the scan job is queued");
        if attempts >= 2 {
            assert!(
                error.unwrap_or_default().contains("clamd"),
                "the retry says why"
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the scan was not retried: {attempts} {error:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let still = client.get(&format!("/files/{id}")).await.expect(200).body;
    assert_eq!(
        still["scan_status"], "pending",
        "never clean without a verdict"
    );
    // When the attempts run out the file fails closed instead.
    let run = fluidcloud_services::scan::scan_file(&app.services, id, true)
        .await
        .unwrap();
    assert_eq!(
        run,
        fluidcloud_services::scan::ScanRun::Recorded(ScanStatus::Failed)
    );
}

#[tokio::test]
async fn a_scan_whose_worker_died_is_taken_up_again() {
    let app = TestApp::spawn_without_worker(|s| s.scan.inline_budget_secs = 0).await;
    let client = app.tenant().await;
    let space = client.default_space().await;
    let file = client
        .upload(space, "x.txt", "text/plain", b"scan me")
        .await;
    let id: uuid::Uuid = file["id"].as_str().unwrap().parse().unwrap();
    // A worker process claims the scan and dies holding its lease.
    let crashed = app.db.store().await;
    let job = crashed
        .claim_job(Duration::from_secs(2))
        .await
        .unwrap()
        .expect("a scan job");
    assert_eq!(job.kind.as_ref().ok(), Some(&JobKind::Scan { file_id: id }));
    drop(crashed);
    app.start_worker();
    assert_eq!(
        client.get(&format!("/files/{id}")).await.body["scan_status"],
        "pending"
    );
    // Once the lease lapses, the live worker takes the job again and finishes it.
    let file = client.wait_for_scan(&id.to_string()).await;
    assert_eq!(file["scan_status"], "clean");
    assert_eq!(
        app.store
            .job_state(&JobKind::Scan { file_id: id })
            .await
            .unwrap(),
        None,
        "the job is done"
    );
}

#[tokio::test]
async fn a_scan_that_cannot_finish_fails_the_file_on_its_last_attempt() {
    use fluidcloud_services::scan::{ScanRun, scan_file};
    let app = TestApp::spawn_without_worker(|s| s.scan.inline_budget_secs = 0).await;
    let client = app.tenant().await;
    let space = client.default_space().await;
    let uploaded = client
        .upload_with(space, "short.txt", "text/plain", b"twelve bytes", |_| {})
        .await;
    let id: uuid::Uuid = uploaded.file.expect(201).body["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    // The object no longer holds what was completed: every read comes up short.
    let key = uploaded.ticket["key"].as_str().unwrap();
    app.services
        .objects
        .put(key, "text/plain", b"short".to_vec().into(), 5)
        .await
        .unwrap();
    let early = scan_file(&app.services, id, false).await.unwrap();
    assert!(matches!(early, ScanRun::Retry(_)), "{early:?}");
    let file = client.get(&format!("/files/{id}")).await.expect(200).body;
    assert_eq!(
        file["scan_status"], "pending",
        "retried while attempts remain"
    );
    let last = scan_file(&app.services, id, true).await.unwrap();
    assert_eq!(last, ScanRun::Recorded(ScanStatus::Failed));
    let file = client.get(&format!("/files/{id}")).await.expect(200).body;
    assert_eq!(file["scan_status"], "failed", "never pending forever");
}

#[tokio::test]
async fn the_configured_scanner_finds_eicar_split_across_chunks() {
    use sha2::Digest;
    // The built-in scanner, or clamd when FLUIDCLOUD_TEST_CLAMD_ADDRESS names one.
    let app = TestApp::spawn_without_worker(|_| {}).await;
    let scanner = &app.services.scanner;
    let version = scanner.version().await.expect("the scanner answers");
    let mut payload = vec![b'a'; 100_000];
    payload.extend_from_slice(EICAR);
    payload.extend_from_slice(&[b'z'; 5000]);
    for split in [100_000, 100_001, 100_034, 100_067] {
        let mut session = scanner.start().await.unwrap();
        let (head, tail) = payload.split_at(split);
        for chunk in [head, tail] {
            session.feed(chunk).await.unwrap();
        }
        let digest: [u8; 32] = sha2::Sha256::digest(&payload).into();
        let verdict = session.finish(&digest).await.unwrap();
        assert!(
            matches!(verdict, fluidcloud_scan::Verdict::Infected(_)),
            "{version}, split at {split}: {verdict:?}"
        );
    }
    let mut session = scanner.start().await.unwrap();
    session.feed(&payload[..100_030]).await.unwrap();
    session.feed(&payload[100_031..]).await.unwrap();
    let digest = [0u8; 32];
    assert_eq!(
        session.finish(&digest).await.unwrap(),
        fluidcloud_scan::Verdict::Clean,
        "{version}"
    );
}
